package report

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/cyberalarm/cyberalarm/centralapp/aggregate"
	"github.com/cyberalarm/cyberalarm/centralapp/config"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// Kinds of stored report.
const (
	KindMember  = "member-summary"
	KindAnalyst = "analyst-trends"
)

// Generator builds, renders, prints and stores reports.
type Generator struct {
	Builder *Builder
	// Printer makes the PDFs; nil makes HTML only, with NoPDF as the
	// reason.
	Printer *Printer
	NoPDF   error

	geo *Geo // closed with the Generator
}

// Open makes a Generator from central's reports settings, for the store
// and aggregation given. A missing browser is not an error: the Generator
// then makes HTML only, and NoPDF says why.
func Open(c config.Reports, st store.Store, agg *aggregate.Aggregator) (*Generator, error) {
	geo, err := OpenGeo(c.GeoIP.Country, c.GeoIP.ASN)
	if err != nil {
		return nil, err
	}
	b, err := NewBuilder(Options{Store: st, Agg: agg, Geo: geo, Top: c.Top, BlockFor: c.BlockFor, SilentAfter: c.SilentAfter})
	if err != nil {
		geo.Close()
		return nil, err
	}
	g := &Generator{Builder: b, geo: geo}
	if g.Printer, err = NewPrinter(c.Chromium); err != nil {
		g.NoPDF = err
	}
	return g, nil
}

// Close stops the browser and closes the databases.
func (g *Generator) Close() error {
	var errs []error
	if g.Printer != nil {
		errs = append(errs, g.Printer.Close())
	}
	errs = append(errs, g.geo.Close())
	return errors.Join(errs...)
}

// Output is one generated report.
type Output struct {
	Stored store.Report   // as stored, HTML and PDF included
	Member *MemberReport  // the member report's data; nil for the analyst report
	Data   *AnalystReport // the analyst report's data; nil for a member report
	// PDFErr says why there is no PDF (Stored.PDF is nil).
	PDFErr error
}

// Member builds the member's report for p, prints it and stores it.
func (g *Generator) Member(ctx context.Context, memberID string, p Period) (*Output, error) {
	r, err := g.Builder.Member(ctx, memberID, p)
	if err != nil {
		return nil, err
	}
	html, err := RenderMember(r)
	if err != nil {
		return nil, err
	}
	o := &Output{Member: r, Stored: store.Report{MemberID: memberID, Kind: KindMember, HTML: html}}
	return o, g.finish(ctx, o, p, r.Generated, r.Member.Name+" · threat report "+p.String())
}

// Analyst builds the analyst report for p, prints it and stores it.
func (g *Generator) Analyst(ctx context.Context, p Period) (*Output, error) {
	r, err := g.Builder.Analyst(ctx, p)
	if err != nil {
		return nil, err
	}
	html, err := RenderAnalyst(r)
	if err != nil {
		return nil, err
	}
	o := &Output{Data: r, Stored: store.Report{Kind: KindAnalyst, HTML: html}}
	return o, g.finish(ctx, o, p, r.Generated, "Analyst trend report "+p.String())
}

// finish prints the report (a missing browser is not an error: the HTML
// stands alone) and stores it.
func (g *Generator) finish(ctx context.Context, o *Output, p Period, generated time.Time, footer string) error {
	r := &o.Stored
	r.ID = ulid.MustNew(ulid.Timestamp(generated), ulid.DefaultEntropy()).String()
	r.PeriodStart, r.PeriodEnd, r.Created = p.Start.UTC(), p.End.UTC(), generated.UTC()
	switch {
	case g.Printer == nil:
		o.PDFErr = g.NoPDF
		if o.PDFErr == nil {
			o.PDFErr = errors.New("pdf: no printer")
		}
	default:
		pdf, err := g.Printer.Print(ctx, r.HTML, footer)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			o.PDFErr = err
		}
		r.PDF = pdf
	}
	if err := g.Builder.o.Store.PutReport(ctx, *r); err != nil {
		return fmt.Errorf("report: storing: %w", err)
	}
	return nil
}

// WriteFiles writes the report into dir as base.html, base.pdf (when there
// is one) and, for a member report, its block list as base-blocklist.txt
// and base-blocklist.csv. It returns the paths written.
func (o *Output) WriteFiles(dir, base string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	type file struct {
		name string
		data []byte
	}
	files := []file{{base + ".html", o.Stored.HTML}}
	if o.Stored.PDF != nil {
		files = append(files, file{base + ".pdf", o.Stored.PDF})
	}
	if o.Member != nil {
		files = append(files, file{base + "-blocklist.txt", o.Member.BlockListText()},
			file{base + "-blocklist.csv", o.Member.BlockListCSV()})
	}
	var paths []string
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path, f.data, 0o644); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}
