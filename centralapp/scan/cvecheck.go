package scan

import (
	"cmp"
	"context"
	"fmt"
	"strings"
)

// cveChecks looks up the software the banners name in the CVE database.
// Every match is "potential": the version comes from a banner, and
// distributions backport fixes without changing it.
func (s *Scanner) cveChecks(ctx context.Context, base Finding, banners []string) []Finding {
	if s.o.CVE == nil {
		return nil
	}
	var out []Finding
	seen := map[string]bool{}
	for _, banner := range banners {
		for _, sw := range ParseSoftware(banner) {
			vulns, err := s.o.CVE.Match(ctx, sw.Name, sw.Version)
			if err != nil {
				s.o.Log.Warn("cve match", "software", sw.Name, "version", sw.Version, "err", err)
				continue
			}
			for _, v := range vulns {
				if seen[v.ID] {
					continue
				}
				seen[v.ID] = true
				f := base
				f.Check, f.Kind = "cve."+v.ID, KindCVE
				f.CVE, f.CVSS, f.CVSSVersion, f.KEV = v.ID, v.CVSS, v.Version, v.KEV
				f.Software, f.Version, f.Description = sw.Name, sw.Version, v.Description
				f.Severity = SeverityOf(v.CVSS)
				if sev, err := ParseSeverity(v.Severity); err == nil && v.Severity != "" {
					f.Severity = sev
				}
				f.Title = fmt.Sprintf("Potential %s in %s %s", v.ID, sw.Name, sw.Version)
				f.Evidence = fmt.Sprintf("%s (version from the banner; a backported fix would not show in it)", clip(banner, 200))
				f.Advice = cmp.Or(strings.TrimSpace(v.Advice),
					fmt.Sprintf("Upgrade %s to a release that fixes %s, or confirm with your supplier that the fix is backported.", sw.Name, v.ID))
				out = append(out, f)
			}
		}
	}
	return out
}
