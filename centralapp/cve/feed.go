package cve

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// entry is one element of a feed's "vulnerabilities" array: {"cve": {...}}
// in an NVD feed, {"cveID": ...} in the KEV catalogue. Decoding into the
// union tells the two apart by content.
type entry struct {
	CVE *nvdCVE `json:"cve"`

	CveID          string `json:"cveID"`
	DateAdded      string `json:"dateAdded"`
	DueDate        string `json:"dueDate"`
	RequiredAction string `json:"requiredAction"`
}

// nvdCVE holds the fields of an NVD CVE API 2.0 record that matching and
// the report use.
type nvdCVE struct {
	ID           string `json:"id"`
	Published    string `json:"published"`
	LastModified string `json:"lastModified"`
	VulnStatus   string `json:"vulnStatus"`
	Descriptions []struct {
		Lang  string `json:"lang"`
		Value string `json:"value"`
	} `json:"descriptions"`
	Metrics struct {
		V40 []metric `json:"cvssMetricV40"`
		V31 []metric `json:"cvssMetricV31"`
		V30 []metric `json:"cvssMetricV30"`
		V2  []metric `json:"cvssMetricV2"`
	} `json:"metrics"`
	Configurations []configuration `json:"configurations"`
}

type metric struct {
	Source   string `json:"source"`
	Type     string `json:"type"` // Primary (NVD's own) or Secondary (the CNA's)
	CVSSData struct {
		Version      string  `json:"version"`
		VectorString string  `json:"vectorString"`
		BaseScore    float64 `json:"baseScore"`
		BaseSeverity string  `json:"baseSeverity"` // v3 and v4
	} `json:"cvssData"`
	BaseSeverity string `json:"baseSeverity"` // v2 keeps it outside cvssData
}

// record is an NVD record checked and reduced to what the DB stores.
type record struct {
	id           string
	rejected     bool
	status       string
	published    time.Time
	lastModified time.Time
	description  string
	cvss         float64
	cvssVersion  string
	vector       string
	severity     string
	configs      []configuration
}

// check validates an NVD record and reduces it.
func (c *nvdCVE) check() (record, error) {
	r := record{id: c.ID, status: c.VulnStatus, rejected: c.VulnStatus == "Rejected"}
	if !validID(c.ID) {
		return r, fmt.Errorf("%q is not a CVE id", c.ID)
	}
	var err error
	if r.lastModified, err = parseTime(c.LastModified); err != nil {
		return r, fmt.Errorf("%s: lastModified: %w", c.ID, err)
	}
	if r.lastModified.IsZero() {
		return r, fmt.Errorf("%s: no lastModified", c.ID)
	}
	if r.published, err = parseTime(c.Published); err != nil {
		return r, fmt.Errorf("%s: published: %w", c.ID, err)
	}
	for _, d := range c.Descriptions {
		if d.Lang == "en" {
			r.description = d.Value
			break
		}
	}
	if r.description == "" && len(c.Descriptions) > 0 {
		r.description = c.Descriptions[0].Value
	}
	if r.rejected {
		return r, nil
	}
	if m := c.best(); m != nil {
		d := m.CVSSData
		if math.IsNaN(d.BaseScore) || d.BaseScore < 0 || d.BaseScore > 10 {
			return r, fmt.Errorf("%s: CVSS base score %v is outside 0-10", c.ID, d.BaseScore)
		}
		r.cvss, r.cvssVersion, r.vector = d.BaseScore, d.Version, d.VectorString
		sev := d.BaseSeverity
		if sev == "" {
			sev = m.BaseSeverity
		}
		if r.severity, err = severity(sev, d.BaseScore, d.Version); err != nil {
			return r, fmt.Errorf("%s: %w", c.ID, err)
		}
	}
	if err := prepare(c.Configurations); err != nil {
		return r, fmt.Errorf("%s: %w", c.ID, err)
	}
	r.configs = c.Configurations
	return r, nil
}

// best is the metric the report shows: the newest CVSS version, NVD's own
// (Primary) score before a CNA's (Secondary).
func (c *nvdCVE) best() *metric {
	for _, ms := range [][]metric{c.Metrics.V40, c.Metrics.V31, c.Metrics.V30, c.Metrics.V2} {
		for _, typ := range []string{"Primary", "Secondary"} {
			for i := range ms {
				if ms[i].Type == typ {
					return &ms[i]
				}
			}
		}
		if len(ms) > 0 {
			return &ms[0]
		}
	}
	return nil
}

// severity names the severity as the report writes it. Where the metric
// leaves it out it follows from the score: CVSS v2 has no Critical and no
// None.
func severity(s string, score float64, version string) (string, error) {
	switch strings.ToUpper(s) {
	case "CRITICAL":
		return "Critical", nil
	case "HIGH":
		return "High", nil
	case "MEDIUM":
		return "Medium", nil
	case "LOW":
		return "Low", nil
	case "NONE":
		return "None", nil
	case "":
	default:
		return "", fmt.Errorf("unknown CVSS severity %q", s)
	}
	v2 := strings.HasPrefix(version, "2")
	switch {
	case score >= 9 && !v2:
		return "Critical", nil
	case score >= 7:
		return "High", nil
	case score >= 4:
		return "Medium", nil
	case score > 0 || v2:
		return "Low", nil
	}
	return "None", nil
}

// validID reports whether s is CVE-YYYY-NNNN with four or more digits.
func validID(s string) bool {
	rest, ok := strings.CutPrefix(s, "CVE-")
	if !ok || len(rest) < 9 || len(rest) > 24 || rest[4] != '-' {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if i != 4 && !isDigit(rest[i]) {
			return false
		}
	}
	return true
}

// parseTime reads NVD's times (2021-10-05T09:15:07.593, UTC without a
// zone), RFC 3339 times and KEV's dates (2021-11-03). Empty is the zero
// time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time", s)
}

// compareIDs orders CVE ids by year, then number: CVE-2021-4773 before
// CVE-2021-41773.
func compareIDs(a, b string) int {
	if c := CompareVersions(a, b); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}
