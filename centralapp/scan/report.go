package scan

import (
	"bytes"
	"context"
	_ "embed" // the report template
	"errors"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/cyberalarm/cyberalarm/centralapp/report"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// Report is the Vulnerability Assessment Report of a member's latest
// scan, compared with the one before.
type Report struct {
	Member    store.Member
	Run       Run
	Previous  *Run // nil for a member's first scan
	Generated time.Time
	// CVEImported is when the CVE data was last imported; zero if never.
	CVEImported time.Time
	Targets     []Target
	Findings    []ReportFinding // most severe first
	Fixed       []Finding       // in the previous scan, gone from this one
	Counts      [Critical + 1]int
	New         int
	KEV         int
}

// ReportFinding is a finding with its status against the previous scan
// and what the threat data says about its port or CVE.
type ReportFinding struct {
	Finding
	Status  string   // new or still open
	Threats []string // sentences; empty when nothing was seen
}

// ErrNoScan means the member has no finished scan to report.
var ErrNoScan = errors.New("no finished scan")

// reported are the statuses of runs whose findings a report shows.
func reported(status string) bool {
	return status == StatusDone || status == StatusPartial || status == StatusKilled
}

// Reader reads scans and their findings: the part of Store that reports
// and the dashboard need.
type Reader interface {
	Runs(ctx context.Context, memberID string, limit int) ([]Run, error)
	Findings(ctx context.Context, runID string) ([]Finding, error)
}

var _ Reader = Store(nil)

// Latest is a member's latest finished scan, compared with the one before.
type Latest struct {
	Run      Run
	Previous *Run            // nil for a member's first scan
	Findings []ReportFinding // as stored, most severe first; Threats empty
	Fixed    []Finding       // in the previous scan, gone from this one
}

// runsLooked is how many of a member's runs LatestScan looks through for
// the last two that finished: enough to step over refused and failed ones.
const runsLooked = 50

// LatestScan returns member's latest finished scan with each finding's
// status against the scan before, or ErrNoScan.
func LatestScan(ctx context.Context, rd Reader, memberID string) (*Latest, error) {
	runs, err := rd.Runs(ctx, memberID, runsLooked)
	if err != nil {
		return nil, err
	}
	var cur, prev *Run
	for i := range runs {
		if !reported(runs[i].Status) {
			continue
		}
		if cur == nil {
			cur = &runs[i]
		} else {
			prev = &runs[i]
			break
		}
	}
	if cur == nil {
		return nil, fmt.Errorf("member %s: %w", memberID, ErrNoScan)
	}
	fs, err := rd.Findings(ctx, cur.ID)
	if err != nil {
		return nil, err
	}
	var prevFs []Finding
	if prev != nil {
		if prevFs, err = rd.Findings(ctx, prev.ID); err != nil {
			return nil, err
		}
	}
	status, fixed := Compare(fs, prevFs)
	SortFindings(fixed)
	l := &Latest{Run: *cur, Previous: prev, Fixed: fixed, Findings: make([]ReportFinding, len(fs))}
	for i := range fs {
		l.Findings[i] = ReportFinding{Finding: fs[i], Status: status[i]}
	}
	return l, nil
}

// BuildReport assembles the report of member's latest scan. threat is
// central's store, for the join with detections and campaigns; db, when
// not nil, gives the CVE import date.
func BuildReport(ctx context.Context, ss Store, threat store.Store, db VulnDB, memberID string, now time.Time) (*Report, error) {
	m, err := threat.Member(ctx, memberID)
	if err != nil {
		return nil, fmt.Errorf("member %s: %w", memberID, err)
	}
	l, err := LatestScan(ctx, ss, memberID)
	if err != nil {
		return nil, err
	}
	r := &Report{Member: m, Generated: now.UTC(), Run: l.Run, Previous: l.Previous, Fixed: l.Fixed, Findings: l.Findings}
	fs := make([]Finding, len(l.Findings))
	for i := range l.Findings {
		fs[i] = l.Findings[i].Finding
	}
	says, err := threats(ctx, threat, memberID, fs, now)
	if err != nil {
		return nil, fmt.Errorf("threat data: %w", err)
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		f.Threats = says[f.Key()]
		r.Counts[f.Severity]++
		if f.Status == FindingNew {
			r.New++
		}
		if f.KEV {
			r.KEV++
		}
	}
	if r.Targets, err = ss.Targets(ctx, memberID); err != nil {
		return nil, err
	}
	if db != nil {
		if r.CVEImported, err = db.Imported(ctx); err != nil {
			return nil, fmt.Errorf("cve data: %w", err)
		}
	}
	return r, nil
}

//go:embed report.html
var reportHTML string

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"style": report.Style,
	"utc": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2 Jan 2006 15:04 UTC")
	},
	"date": func(t time.Time) string { return t.UTC().Format("2 Jan 2006") },
	"lower": func(s fmt.Stringer) string {
		return strings.ToLower(s.String())
	},
	"where": func(f Finding) string {
		if f.Port == 0 {
			return f.Host
		}
		if f.Host != f.Addr.String() {
			return fmt.Sprintf("%s (%s) port %d/%s", f.Host, f.Addr, f.Port, f.Service)
		}
		return fmt.Sprintf("%s port %d/%s", f.Host, f.Port, f.Service)
	},
	"cvss":  func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"count": func(r *Report, s Severity) int { return r.Counts[s] },
	"sevs":  func() []Severity { return []Severity{Critical, High, Medium, Low, Info} },
}).Parse(reportHTML))

// HTML renders the report as one self-contained document.
func (r *Report) HTML() ([]byte, error) {
	var b bytes.Buffer
	if err := reportTmpl.Execute(&b, r); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ReportKind is the kind a Vulnerability Assessment Report is kept as in
// central's report archive (store.PutReport), which the dashboard lists.
const ReportKind = "vulnerability-assessment"

// Output is a rendered report.
type Output struct {
	// Stored is the report as the archive keeps it: its period is the
	// scan's, from start to finish. PDF is nil when printing failed.
	Stored store.Report
	PDFErr error // why there is no PDF
}

// Render renders the report and, with a printer, prints it as PDF. A
// missing printer or a failed print is not an error, as the HTML stands
// alone: Output.PDFErr says why there is no PDF.
func (r *Report) Render(ctx context.Context, printer *report.Printer) (*Output, error) {
	html, err := r.HTML()
	if err != nil {
		return nil, err
	}
	o := &Output{Stored: store.Report{
		ID:       ulid.MustNew(ulid.Timestamp(r.Generated), ulid.DefaultEntropy()).String(),
		MemberID: r.Member.ID, Kind: ReportKind,
		PeriodStart: r.Run.Started.UTC(), PeriodEnd: r.Run.Finished.UTC(), Created: r.Generated.UTC(),
		HTML: html,
	}}
	if printer == nil {
		o.PDFErr = errors.New("pdf: no printer")
		return o, nil
	}
	pdf, err := printer.Print(ctx, html, "CyberAlarm Vulnerability Assessment · "+r.Member.Name)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		o.PDFErr = fmt.Errorf("pdf: %w", err)
	}
	o.Stored.PDF = pdf
	return o, nil
}

// WriteFiles writes the report into dir as vulnerability-MEMBER.html and,
// when it was printed, .pdf, and returns the paths written.
func (o *Output) WriteFiles(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	base := filepath.Join(dir, "vulnerability-"+o.Stored.MemberID)
	if err := os.WriteFile(base+".html", o.Stored.HTML, 0o644); err != nil {
		return nil, err
	}
	files := []string{base + ".html"}
	if o.Stored.PDF == nil {
		return files, nil
	}
	if err := os.WriteFile(base+".pdf", o.Stored.PDF, 0o644); err != nil {
		return files, err
	}
	return append(files, base+".pdf"), nil
}
