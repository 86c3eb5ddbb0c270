package scan

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// ThreatWindow is how far back the report looks for attacks on a
// finding's port or CVE.
const ThreatWindow = 30 * 24 * time.Hour

var (
	cveNameRE = regexp.MustCompile(`(?i)CVE-(\d{4})-(\d{4,})`)
	cveRuleRE = regexp.MustCompile(`(?i)cve[_.-](\d{4})[_.-](\d{4,})`)
)

// ruleCVEs returns the CVEs a detection's rule names.
func ruleCVEs(d *store.Detection) []string {
	var out []string
	for _, re := range []*regexp.Regexp{cveNameRE, cveRuleRE} {
		for _, s := range []string{d.RuleName, d.RuleID} {
			for _, m := range re.FindAllStringSubmatch(s, -1) {
				id := "CVE-" + m[1] + "-" + m[2]
				if !slices.Contains(out, id) {
					out = append(out, id)
				}
			}
		}
	}
	return out
}

// activity is what the threat data says about one port or CVE.
type activity struct {
	member     int64 // detections at this member
	rules      []string
	others     map[string]bool // other members with detections
	campaigns  int
	otherFlows int64 // flow-summary counts at other members (ports only)
}

// threats joins findings with the threat data of the window before now:
// detections aimed at this member's port or exploiting its CVE, the same
// across other members, and cross-member campaigns on the port. It
// returns a sentence per finding that has any, keyed by Finding.Key.
func threats(ctx context.Context, st store.Store, memberID string, findings []Finding, now time.Time) (map[string][]string, error) {
	since := now.Add(-ThreatWindow)
	ports := map[uint16]*activity{}
	cves := map[string]*activity{}
	for i := range findings {
		f := &findings[i]
		if f.Kind == KindPort {
			ports[f.Port] = &activity{others: map[string]bool{}}
		}
		if f.CVE != "" {
			cves[f.CVE] = &activity{others: map[string]bool{}}
		}
	}
	if len(ports)+len(cves) == 0 {
		return nil, nil
	}
	f := store.DetectionFilter{Since: since, Until: now, Limit: store.MaxLimit}
	for {
		ds, err := st.Detections(ctx, f)
		if err != nil {
			return nil, err
		}
		for i := range ds {
			d := &ds[i]
			var hit []*activity
			if a := ports[d.DestinationPort]; a != nil && d.DestinationPort != 0 {
				hit = append(hit, a)
			}
			for _, id := range ruleCVEs(d) {
				if a := cves[id]; a != nil {
					hit = append(hit, a)
				}
			}
			for _, a := range hit {
				if d.MemberID == memberID {
					a.member += d.Count
					if !slices.Contains(a.rules, d.RuleName) && len(a.rules) < 3 {
						a.rules = append(a.rules, d.RuleName)
					}
				} else {
					a.others[d.MemberID] = true
				}
			}
		}
		if len(ds) < f.Limit {
			break
		}
		f.After = ds[len(ds)-1].ID
	}
	camps, err := st.Campaigns(ctx, store.CampaignFilter{Since: since, Limit: store.MaxLimit})
	if err != nil {
		return nil, err
	}
	for _, c := range camps {
		for _, p := range c.Ports {
			if a := ports[p]; a != nil {
				a.campaigns++
			}
		}
	}
	counts, err := st.SummaryCounts(ctx, store.SummaryCountFilter{Since: since, Until: now, Bucket: store.Day})
	if err != nil {
		return nil, err
	}
	for _, c := range counts {
		if a := ports[c.Port]; a != nil && c.MemberID != memberID {
			a.otherFlows += c.Count
			a.others[c.MemberID] = true
		}
	}
	out := map[string][]string{}
	for i := range findings {
		f := &findings[i]
		var a *activity
		what := ""
		switch {
		case f.Kind == KindPort:
			a, what = ports[f.Port], fmt.Sprintf("port %d", f.Port)
		case f.CVE != "":
			a, what = cves[f.CVE], f.CVE
		}
		if a == nil {
			continue
		}
		var says []string
		if a.member > 0 {
			says = append(says, fmt.Sprintf("Attacks on %s were seen against you in the last 30 days: %d event%s (%s).", what, a.member, plural(int(a.member)), strings.Join(a.rules, "; ")))
		}
		if n := len(a.others); n > 0 {
			says = append(says, fmt.Sprintf("%s is being probed or exploited at %d other member%s of the network.", capital(what), n, plural(n)))
		}
		if a.campaigns > 0 {
			says = append(says, fmt.Sprintf("%d cross-member campaign%s targeted %s.", a.campaigns, plural(a.campaigns), what))
		}
		if len(says) > 0 {
			out[f.Key()] = says
		}
	}
	return out, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
