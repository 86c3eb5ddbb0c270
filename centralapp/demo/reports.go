package demo

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/config"
	"github.com/cyberalarm/cyberalarm/centralapp/report"
	"github.com/cyberalarm/cyberalarm/centralapp/service"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// writeReports makes each member's report and the analyst report into
// dir/reports, for the period that ends with the data (the corpus is of one
// day, whatever today is), and returns what to print.
func writeReports(ctx context.Context, svc *service.Service, cfg *config.Config, dir string, members []string) ([]string, error) {
	end, err := dataEnd(ctx, svc.Store)
	if err != nil {
		return nil, err
	}
	g, err := report.Open(cfg.Reports, svc.Store, svc.Agg)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	dir = filepath.Join(dir, "reports")
	var lines []string
	var period report.Period
	for _, id := range members {
		m, err := svc.Store.Member(ctx, id)
		if err != nil {
			return nil, err
		}
		period = report.Ending(end, cfg.Reports.Period, report.Location(m.TimeZone))
		o, err := g.Member(ctx, id, period)
		if err != nil {
			return nil, fmt.Errorf("report of %s: %w", id, err)
		}
		paths, err := o.WriteFiles(dir, id)
		if err != nil {
			return nil, err
		}
		lines = append(lines, fmt.Sprintf("report of %s: %s", id, filesText(paths)))
	}
	period = report.Ending(end, cfg.Reports.Period, time.UTC)
	o, err := g.Analyst(ctx, period)
	if err != nil {
		return nil, fmt.Errorf("analyst report: %w", err)
	}
	paths, err := o.WriteFiles(dir, "analyst")
	if err != nil {
		return nil, err
	}
	lines = append(lines, "analyst report: "+filesText(paths))
	lines = append(lines, "reports cover "+period.String())
	if g.NoPDF != nil {
		lines = append(lines, fmt.Sprintf("reports are HTML only: %v", g.NoPDF))
	} else if o.PDFErr != nil {
		lines = append(lines, fmt.Sprintf("no PDF: %v", o.PDFErr))
	}
	return lines, nil
}

func filesText(paths []string) string {
	if len(paths) == 0 {
		return ""
	}
	s := paths[0]
	for _, p := range paths[1:] {
		s += ", " + filepath.Base(p)
	}
	return s
}

// dataEnd is the latest last-seen time of a stored detection, or now when
// there is none.
func dataEnd(ctx context.Context, st store.Store) (time.Time, error) {
	var end time.Time
	f := store.DetectionFilter{Limit: store.MaxLimit}
	for {
		ds, err := st.Detections(ctx, f)
		if err != nil {
			return end, err
		}
		for _, d := range ds {
			if d.LastSeen.After(end) {
				end = d.LastSeen
			}
		}
		if len(ds) < f.Limit {
			break
		}
		f.After = ds[len(ds)-1].ID
	}
	if end.IsZero() {
		end = time.Now()
	}
	return end, nil
}
