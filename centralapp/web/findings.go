package web

import (
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"

	"github.com/cyberalarm/cyberalarm/centralapp/auth"
	"github.com/cyberalarm/cyberalarm/centralapp/scan"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// findingQuery is the findings page's filter, as the form shows it.
type findingQuery struct {
	Member   string
	Severity string // a severity's name: that and worse; "" for all
}

type findingsView struct {
	Configured bool // false: central has no scan store
	Query      findingQuery
	Members    []store.Member  // analysts: the member filter's choices
	Severities []scan.Severity // the severity filter's choices, most severe first
	Scans      []memberScan    // members with a finished scan, in member order
	NotScanned []store.Member  // members without one
	Error      string
}

// memberScan is one member's latest scan as the page shows it.
type memberScan struct {
	Member store.Member
	*scan.Latest
	Rows   []findingRow // open findings, then fixed ones, at the filter's severity or worse
	Counts [scan.Critical + 1]int
	New    int
	KEV    int
	Report *store.Report // the newest Vulnerability Assessment Report, without its bodies
}

// findingRow is a finding with its status against the scan before: new,
// still open, or fixed.
type findingRow struct {
	scan.Finding
	Status string
}

// CountOf is how many open findings have severity s.
func (m *memberScan) CountOf(s scan.Severity) int { return m.Counts[s] }

// severities are the filter's choices, most severe first.
var severities = []scan.Severity{scan.Critical, scan.High, scan.Medium, scan.Low, scan.Info}

// findings shows members' latest scans: a member its own, an analyst
// every member's or one member's, either at a minimum severity.
func (w *Web) findings(rw http.ResponseWriter, r *http.Request, req *request) error {
	q := r.URL.Query()
	v := findingsView{Configured: w.scans != nil, Query: findingQuery{Member: q.Get("member"), Severity: q.Get("severity")},
		Severities: severities}
	member, err := scope(req, v.Query.Member)
	if err != nil {
		return err
	}
	if !v.Configured {
		w.render(rw, r, http.StatusOK, "findings", newView(req, "Findings", "findings", v))
		return nil
	}
	least := scan.Info
	if v.Query.Severity != "" {
		if least, err = scan.ParseSeverity(v.Query.Severity); err != nil {
			v.Error = "“Severity” must be one of Critical, High, Medium, Low and Info."
		}
	}
	ctx := r.Context()
	var ms []store.Member
	if req.who.Role != auth.RoleMember {
		if v.Members, err = w.store.Members(ctx); err != nil {
			return err
		}
	}
	if member != "" {
		m, err := w.store.Member(ctx, member)
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound
		}
		if err != nil {
			return err
		}
		ms = []store.Member{m}
	} else {
		ms = v.Members
	}
	if v.Error != "" {
		w.render(rw, r, http.StatusBadRequest, "findings", newView(req, "Findings", "findings", v))
		return nil
	}
	for _, m := range ms {
		l, err := scan.LatestScan(ctx, w.scans, m.ID)
		if errors.Is(err, scan.ErrNoScan) {
			v.NotScanned = append(v.NotScanned, m)
			continue
		}
		if err != nil {
			return err
		}
		s := memberScan{Member: m, Latest: l}
		for _, f := range l.Findings {
			s.Counts[f.Severity]++
			if f.Status == scan.FindingNew {
				s.New++
			}
			if f.KEV {
				s.KEV++
			}
			if f.Severity >= least {
				s.Rows = append(s.Rows, findingRow{f.Finding, f.Status})
			}
		}
		for _, f := range l.Fixed {
			if f.Severity >= least {
				s.Rows = append(s.Rows, findingRow{f, scan.FindingFixed})
			}
		}
		rs, err := w.store.Reports(ctx, m.ID)
		if err != nil {
			return err
		}
		// Reports come newest first.
		if i := slices.IndexFunc(rs, func(rp store.Report) bool { return rp.Kind == scan.ReportKind }); i >= 0 {
			s.Report = &rs[i]
		}
		v.Scans = append(v.Scans, s)
	}
	w.render(rw, r, http.StatusOK, "findings", newView(req, "Findings", "findings", v))
	return nil
}

// findingStatusClass is a status's CSS class: new, open or fixed.
func findingStatusClass(status string) string {
	switch status {
	case scan.FindingNew:
		return "new"
	case scan.FindingFixed:
		return "fixed"
	}
	return "open"
}

// hostPort is where a finding is: the host, with the port when it is
// about one.
func hostPort(f scan.Finding) string {
	if f.Port == 0 {
		return f.Host
	}
	return net.JoinHostPort(f.Host, strconv.Itoa(int(f.Port)))
}
