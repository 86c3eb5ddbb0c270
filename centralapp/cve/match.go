package cve

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
)

// Match returns the CVEs whose NVD configurations match the software a
// banner names ("Apache" "2.4.49", "nginx" "1.20.0", "OpenSSH" "8.5p1",
// "OpenSSL" "1.0.1f", "Exim" "4.89", "vsftpd" "2.3.4"), sorted by CVSS
// descending, then by ID. Software the alias table does not know, or a
// version that is none, matches nothing. Every match is a potential
// vulnerability: the banner may hide a backported fix.
func (db *DB) Match(ctx context.Context, software, version string) ([]Vuln, error) {
	names, p, ok := identify(software, version)
	if !ok {
		return nil, nil
	}
	var out []Vuln
	seen := map[string]bool{}
	for _, n := range names {
		rows, err := db.db.QueryContext(ctx, `SELECT c.id, c.description, c.cvss, c.cvss_version, c.vector,
			c.severity, c.published, c.configurations, k.date_added
			FROM cve_products p JOIN cves c ON c.id = p.cve_id LEFT JOIN kev k ON k.cve_id = c.id
			WHERE p.vendor = ? AND p.product = ?`, n.Vendor(), n.Product())
		if err != nil {
			return nil, fmt.Errorf("cve db %s: match: %w", db.path, err)
		}
		out, err = db.scan(rows, names, p, seen, out)
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b Vuln) int {
		if c := cmp.Compare(b.CVSS, a.CVSS); c != 0 {
			return c
		}
		return compareIDs(a.ID, b.ID)
	})
	return out, nil
}

func (db *DB) scan(rows *sql.Rows, names []CPE, p *product, seen map[string]bool, out []Vuln) ([]Vuln, error) {
	defer rows.Close()
	for rows.Next() {
		var v Vuln
		var published int64
		var configs []byte
		var kevAdded sql.NullInt64
		if err := rows.Scan(&v.ID, &v.Description, &v.CVSS, &v.Version, &v.Vector, &v.Severity, &published,
			&configs, &kevAdded); err != nil {
			return nil, fmt.Errorf("cve db %s: match: %w", db.path, err)
		}
		if seen[v.ID] {
			continue
		}
		seen[v.ID] = true // under another vendor:product, the same answer
		var cs []configuration
		if err := json.Unmarshal(configs, &cs); err != nil {
			return nil, fmt.Errorf("cve db %s: %s: stored configurations: %w", db.path, v.ID, err)
		}
		if err := prepare(cs); err != nil {
			return nil, fmt.Errorf("cve db %s: %s: stored configurations: %w", db.path, v.ID, err)
		}
		if applies(cs, names) == nil {
			continue
		}
		v.Published = fromTS(published)
		if kevAdded.Valid {
			v.KEV, v.KEVAdded = true, fromTS(kevAdded.Int64)
		}
		v.Advice = adviceFor(p, cs, names, v.KEV)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cve db %s: match: %w", db.path, err)
	}
	return out, nil
}
