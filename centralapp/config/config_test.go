package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSample(t *testing.T) {
	c, err := Parse("central.yaml", Sample())
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8443" || c.Store.RetentionDays != 400 || c.Aggregate.CampaignWindow != time.Hour {
		t.Errorf("sample: %+v", c)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("dir/central.yaml", []byte("data_dir: state\n"))
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("dir/state")
	if c.DataDir != abs || c.Store.Path != filepath.Join(abs, "central.db") || c.Store.Driver != "sqlite" || c.Log.Level != "info" {
		t.Errorf("defaults: %+v", c)
	}
}

func TestErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"listen: nowhere\n", `c.yaml:1:9: listen: "nowhere" is not host:port`},
		{"store:\n  driver: mysql\n", `c.yaml:2:11: store.driver: "mysql": only sqlite is built in`},
		{"listn: :1\n", "c.yaml:1:1: unknown field \"listn\""},
		{"ingest:\n  max_age: soon\n", "c.yaml:2:12:"},
		{"log:\n  level: loud\n  format: xml\n", "c.yaml:2:10: log.level: \"loud\": want debug, info, warn or error\nc.yaml:3:11: log.format: \"xml\": want text or json"},
	} {
		_, err := Parse("c.yaml", []byte(c.in))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: got %v\nwant %s", c.in, err, c.want)
		}
	}
}
