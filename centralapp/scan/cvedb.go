package scan

import (
	"context"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/cve"
)

// CVEs is the offline CVE database as a VulnDB.
type CVEs struct{ DB *cve.DB }

// Match returns the CVEs of software at version.
func (c CVEs) Match(ctx context.Context, software, version string) ([]Vuln, error) {
	vs, err := c.DB.Match(ctx, software, version)
	out := make([]Vuln, len(vs))
	for i, v := range vs {
		out[i] = Vuln(v)
	}
	return out, err
}

// Imported is when the database was last imported.
func (c CVEs) Imported(ctx context.Context) (time.Time, error) { return c.DB.Imported(ctx) }
