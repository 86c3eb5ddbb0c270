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
	// Driver is the scan store's backend (targets, proofs, runs,
	// findings, audit log, kill switch): sqlite, a file at Path (default
	// data_dir/scan.db), or postgres, a database every node shares.
	// Default: store.driver's, so a cluster on PostgreSQL shares its scans.
	Driver string `yaml:"driver"`
	Path   string `yaml:"path"`
	// postgres: the connection string, or a file that holds it (read at
	// load into DSN); both unset, store's. MaxConns bounds the pool.
	DSN      string `yaml:"dsn"`
	DSNFile  string `yaml:"dsn_file"`
	MaxConns int    `yaml:"max_conns"`
	// CVEPath is the CVE database that `cve import` fills. Default:
	// data_dir/cve.db.
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
	// AuditRetentionDays is how long the audit log keeps a probe, by
	// when it started (default 730): every probe is one entry, so the log
	// is what grows.
	AuditRetentionDays int `yaml:"audit_retention_days"`
}

var scanDurations = []string{"scan.interval", "scan.timeout", "scan.proof_ttl", "scan.approval_ttl"}

func (c *Config) scanDefaults(dir string) {
	s := &c.Scan
	if s.Path == "" {
		s.Path = filepath.Join(c.DataDir, "scan.db")
	} else if !filepath.IsAbs(s.Path) {
		s.Path = filepath.Join(dir, s.Path)
	}
	if s.Driver == "" {
		s.Driver = "sqlite"
		if c.Store.Driver == "postgres" {
			s.Driver = "postgres"
		}
	}
	if s.DSNFile != "" && !filepath.IsAbs(s.DSNFile) {
		s.DSNFile = filepath.Join(dir, s.DSNFile)
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
	if s.AuditRetentionDays == 0 {
		s.AuditRetentionDays = 730
	}
}

func (c *Config) validateScan(bad func(path, format string, args ...any)) {
	s := &c.Scan
	c.validateScanStore(bad)
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
	if s.AuditRetentionDays < 1 {
		bad("scan.audit_retention_days", "%d: at least 1", s.AuditRetentionDays)
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

// validateScanStore checks the scan store's settings and fills scan.dsn:
// from scan.dsn_file, or else store's own when store is PostgreSQL too.
// It runs after validateStore, which has read store.dsn_file.
func (c *Config) validateScanStore(bad func(path, format string, args ...any)) {
	s := &c.Scan
	switch s.Driver {
	case "sqlite":
		for path, set := range map[string]bool{"scan.dsn": s.DSN != "", "scan.dsn_file": s.DSNFile != "",
			"scan.max_conns": s.MaxConns != 0} {
			if set {
				bad(path, "only with scan.driver postgres")
			}
		}
		return
	case "postgres":
	default:
		bad("scan.driver", "%q: want sqlite or postgres", s.Driver)
		return
	}
	if _, set := c.pos["scan.path"]; set {
		bad("scan.path", "only with scan.driver: sqlite; the scan store is in PostgreSQL (store's database by default). Set scan.driver: sqlite to keep this file")
	}
	if s.MaxConns < 0 || s.MaxConns > 1000 {
		bad("scan.max_conns", "%d: want 1 to 1000, or 0 for the default", s.MaxConns)
	}
	switch {
	case readDSN("scan", &s.DSN, s.DSNFile, bad):
	case c.Store.Driver == "postgres":
		// store's DSN was checked with store; an error there is enough.
		s.DSN = c.Store.DSN
	default:
		bad("scan.driver", "postgres needs scan.dsn or scan.dsn_file, or store.driver: postgres, whose database it then shares")
	}
}
