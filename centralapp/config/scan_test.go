package config

import (
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
		c.Scan.Rate != 50 || c.Scan.TargetRate != 10 || c.Scan.ProofTTL != 720*time.Hour {
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
	} {
		_, err := Parse("central.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
