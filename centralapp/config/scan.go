package config

import (
	"path/filepath"
	"time"
)

// Scan configures vulnerability scanning of members' proven targets.
type Scan struct {
	// Enabled runs the members' scan schedules in `serve`. Scans started
	// by hand run whatever it says; the kill switch stops both.
	Enabled bool `yaml:"enabled"`
	// KillSwitch stops every scan: none starts, none runs on.
	KillSwitch bool `yaml:"kill_switch"`
	// Path is the scan store (targets, proofs, runs, findings, audit
	// log). Default: data_dir/scan.db. CVEPath is the CVE database that
	// `cve import` fills. Default: data_dir/cve.db.
	Path    string `yaml:"path"`
	CVEPath string `yaml:"cve_path"`
	// Rate is probes a second across all scans; TargetRate probes a
	// second to one address; Concurrency the probes in flight per scan.
	Rate        float64 `yaml:"rate"`
	TargetRate  float64 `yaml:"target_rate"`
	Concurrency int     `yaml:"concurrency"`
	// Interval is a new schedule's default period.
	Interval time.Duration `yaml:"interval"`
	// Timeout bounds one probe.
	Timeout time.Duration `yaml:"timeout"`
	// ProofTTL is how long a domain's proof holds; ApprovalTTL how long an
	// analyst's approval of a range does.
	ProofTTL    time.Duration `yaml:"proof_ttl"`
	ApprovalTTL time.Duration `yaml:"approval_ttl"`
	// Ports to scan; empty for the built-in list.
	Ports []int `yaml:"ports"`
	// AllowNonPublic lets scans reach private and loopback addresses.
	AllowNonPublic bool `yaml:"allow_non_public"`
}

var scanDurations = []string{"scan.interval", "scan.timeout", "scan.proof_ttl", "scan.approval_ttl"}

func (c *Config) scanDefaults(dir string) {
	s := &c.Scan
	if s.Path == "" {
		s.Path = filepath.Join(c.DataDir, "scan.db")
	} else if !filepath.IsAbs(s.Path) {
		s.Path = filepath.Join(dir, s.Path)
	}
	if s.CVEPath == "" {
		s.CVEPath = filepath.Join(c.DataDir, "cve.db")
	} else if !filepath.IsAbs(s.CVEPath) {
		s.CVEPath = filepath.Join(dir, s.CVEPath)
	}
	if s.Rate == 0 {
		s.Rate = 50
	}
	if s.TargetRate == 0 {
		s.TargetRate = 10
	}
	if s.Concurrency == 0 {
		s.Concurrency = 8
	}
	if s.Interval == 0 {
		s.Interval = 7 * 24 * time.Hour
	}
	if s.Timeout == 0 {
		s.Timeout = 5 * time.Second
	}
	if s.ProofTTL == 0 {
		s.ProofTTL = 30 * 24 * time.Hour
	}
	if s.ApprovalTTL == 0 {
		s.ApprovalTTL = 365 * 24 * time.Hour
	}
}

func (c *Config) validateScan(bad func(path, format string, args ...any)) {
	s := &c.Scan
	if s.Rate < 0 || s.Rate > 10000 {
		bad("scan.rate", "%g: want probes a second between 0 and 10000", s.Rate)
	}
	if s.TargetRate < 0 || s.TargetRate > 1000 {
		bad("scan.target_rate", "%g: want probes a second between 0 and 1000", s.TargetRate)
	}
	if s.Concurrency < 1 || s.Concurrency > 256 {
		bad("scan.concurrency", "%d: want 1 to 256", s.Concurrency)
	}
	if s.Interval < time.Hour {
		bad("scan.interval", "%s: at least 1h between scans of a member", s.Interval)
	}
	if s.Timeout < 100*time.Millisecond || s.Timeout > time.Minute {
		bad("scan.timeout", "%s: want between 100ms and 1m", s.Timeout)
	}
	if s.ProofTTL < time.Hour {
		bad("scan.proof_ttl", "%s: at least 1h", s.ProofTTL)
	}
	if s.ApprovalTTL < time.Hour {
		bad("scan.approval_ttl", "%s: at least 1h", s.ApprovalTTL)
	}
	seen := map[int]bool{}
	for i, p := range s.Ports {
		switch {
		case p < 1 || p > 65535:
			bad("scan.ports", "item %d: %d is not a TCP port", i+1, p)
		case seen[p]:
			bad("scan.ports", "item %d: port %d is listed twice", i+1, p)
		}
		seen[p] = true
	}
}
