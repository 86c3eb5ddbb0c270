package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestScanConfig(t *testing.T) {
	c, err := Parse("central.yaml", []byte("data_dir: data\nscan:\n  enabled: true\n  ports: [22, 443]\n  interval: 24h\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Scan.Enabled || c.Scan.Interval != 24*time.Hour || len(c.Scan.Ports) != 2 || filepath.Base(c.Scan.Path) != "scan.db" ||
		c.Scan.Rate != 50 || c.Scan.TargetRate != 10 || c.Scan.ProofTTL != 720*time.Hour || c.Scan.AuditRetentionDays != 730 {
		t.Errorf("scan config %+v", c.Scan)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"scan:\n  interval: 10m\n", "central.yaml:2:13: scan.interval: 10m0s: at least 1h"},
		{"scan:\n  interval: soon\n", "central.yaml:2:13: scan.interval: \"soon\" is not a duration"},
		{"scan:\n  rate: -1\n", "central.yaml:2:9: scan.rate: -1: want probes"},
		{"scan:\n  ports: [22, 70000]\n", "central.yaml:2:10: scan.ports: item 2: 70000 is not a TCP port"},
		{"scan:\n  ports: [22, 22]\n", "central.yaml:2:10: scan.ports: item 2: port 22 is listed twice"},
		{"scan:\n  concurrency: 0\n  timeout: 2m\n", "central.yaml:3:12: scan.timeout: 2m0s: want between 100ms and 1m"},
		{"scan:\n  kill_switch: maybe\n", "central.yaml:2:16:"},
		{"scan:\n  audit_retention_days: -3\n", "central.yaml:2:25: scan.audit_retention_days: -3: at least 1"},
	} {
		_, err := Parse("central.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

func TestScanStoreConfig(t *testing.T) {
	const pg = "store:\n  driver: postgres\n  dsn: postgres://central@db.example/central\n"
	c, err := Parse("c.yaml", []byte(pg))
	if err != nil {
		t.Fatal(err)
	}
	if c.Scan.Driver != "postgres" || c.Scan.DSN != c.Store.DSN {
		t.Errorf("scans on a postgres store: driver %q dsn %q", c.Scan.Driver, c.Scan.DSN)
	}
	c, err = Parse("c.yaml", []byte(pg+"scan:\n  dsn: postgres://scans@db2.example/scans\n  max_conns: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Scan.DSN != "postgres://scans@db2.example/scans" || c.Scan.MaxConns != 2 {
		t.Errorf("a database of its own: %+v", c.Scan)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "scans.dsn"), []byte("host=db3.example dbname=scans\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Parse(filepath.Join(dir, "c.yaml"), []byte("scan:\n  driver: postgres\n  dsn_file: scans.dsn\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.Driver != "sqlite" || c.Scan.DSN != "host=db3.example dbname=scans" {
		t.Errorf("postgres scans beside a sqlite store: %+v", c.Scan)
	}
	c, err = Parse("c.yaml", []byte(pg+"scan:\n  driver: sqlite\n  path: scans.db\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Scan.Driver != "sqlite" || filepath.Base(c.Scan.Path) != "scans.db" || c.Scan.DSN != "" {
		t.Errorf("sqlite scans beside a postgres store: %+v", c.Scan)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"scan:\n  driver: mysql\n", "c.yaml:2:11: scan.driver: \"mysql\": want sqlite or postgres"},
		{"scan:\n  driver: postgres\n", "c.yaml:2:11: scan.driver: postgres needs scan.dsn or scan.dsn_file, or store.driver: postgres"},
		{"scan:\n  dsn: postgres://h/db\n", "c.yaml:2:8: scan.dsn: only with scan.driver postgres"},
		{"scan:\n  max_conns: 3\n", "c.yaml:2:14: scan.max_conns: only with scan.driver postgres"},
		{pg + "scan:\n  path: scan.db\n", "c.yaml:5:9: scan.path: only with scan.driver: sqlite"},
		{pg + "scan:\n  dsn: postgres://u:pw@h:x/db\n", "c.yaml:5:8: scan.dsn: cannot parse"},
		{pg + "scan:\n  dsn: postgres://h/db\n  dsn_file: f\n", "c.yaml:6:13: scan.dsn_file: give scan.dsn or scan.dsn_file, not both"},
		{pg + "scan:\n  dsn_file: missing.dsn\n", "c.yaml:5:13: scan.dsn_file: open "},
		{pg + "scan:\n  max_conns: -1\n", "c.yaml:5:14: scan.max_conns: -1: want 1 to 1000"},
	} {
		_, err := Parse("c.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
