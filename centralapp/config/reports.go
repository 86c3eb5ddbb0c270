package config

import (
	"os"
	"path/filepath"
	"time"
)

// Reports configures the member and analyst reports.
type Reports struct {
	// Period is the length of a report period (default 168h, weekly).
	Period time.Duration `yaml:"period"`
	// Top is the number of rows in top-N tables (default 10).
	Top int `yaml:"top"`
	// BlockFor is how long a block-list entry stays after its address
	// was last seen (default 168h).
	BlockFor time.Duration `yaml:"block_for"`
	// SilentAfter is how long a device may send nothing before the
	// report calls it silent (default 24h).
	SilentAfter time.Duration `yaml:"silent_after"`
	// Chromium is the browser that prints the PDFs (default
	// /usr/bin/chromium). When it is missing the reports are HTML only.
	Chromium string `yaml:"chromium"`
	GeoIP    GeoIP  `yaml:"geoip"`
	// Schedule and SMTP: see schedule.go. Without Schedule no report is
	// made on a schedule; without SMTP none is mailed.
	Schedule *Schedule `yaml:"schedule"`
	SMTP     *SMTP     `yaml:"smtp"`
}

// GeoIP names MaxMind databases (.mmdb). Without them countries and
// networks are unknown.
type GeoIP struct {
	// Country is a GeoLite2/GeoIP2 Country or City database.
	Country string `yaml:"country"`
	// ASN is a GeoLite2/GeoIP2 ASN database.
	ASN string `yaml:"asn"`
}

func (c *Config) reportDefaults(dir string) {
	r := &c.Reports
	if r.Period == 0 {
		r.Period = 7 * 24 * time.Hour
	}
	if r.Top == 0 {
		r.Top = 10
	}
	if r.BlockFor == 0 {
		r.BlockFor = 7 * 24 * time.Hour
	}
	if r.SilentAfter == 0 {
		r.SilentAfter = 24 * time.Hour
	}
	if r.Chromium == "" {
		r.Chromium = "/usr/bin/chromium"
	}
	for _, p := range []*string{&r.GeoIP.Country, &r.GeoIP.ASN} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

// validateReports checks reports:.
func (c *Config) validateReports(bad func(path, format string, args ...any)) {
	r := &c.Reports
	if r.Period < time.Hour || r.Period > 93*24*time.Hour {
		bad("reports.period", "%s: want between 1h and 2232h (93 days)", r.Period)
	}
	if r.Top < 1 || r.Top > 100 {
		bad("reports.top", "%d: want 1 to 100", r.Top)
	}
	if r.BlockFor < time.Hour {
		bad("reports.block_for", "%s: at least 1h", r.BlockFor)
	}
	if r.SilentAfter < time.Minute {
		bad("reports.silent_after", "%s: at least 1m", r.SilentAfter)
	}
	for path, file := range map[string]string{"reports.geoip.country": r.GeoIP.Country, "reports.geoip.asn": r.GeoIP.ASN} {
		if file == "" {
			continue
		}
		if fi, err := os.Stat(file); err != nil {
			bad(path, "%v", err)
		} else if !fi.Mode().IsRegular() {
			bad(path, "%s is not a file", file)
		}
	}
}
