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
		{"store:\n  driver: mysql\n", `c.yaml:2:11: store.driver: "mysql": want sqlite or postgres`},
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

func TestWeb(t *testing.T) {
	c, err := Parse("c.yaml", []byte("listen: 127.0.0.1:1\n"))
	if err != nil || !c.Web.Enabled || c.Web.EnrolTokenTTL != 168*time.Hour {
		t.Fatalf("web defaults: %+v %v", c.Web, err)
	}
	if c, err = Parse("c.yaml", []byte("web:\n  enabled: false\n  enrol_token_ttl: 2h\n")); err != nil || c.Web.Enabled || c.Web.EnrolTokenTTL != 2*time.Hour {
		t.Fatalf("web set: %+v %v", c.Web, err)
	}
	for in, want := range map[string]string{
		"web:\n  enrol_token_ttl: 10s\n":  "c.yaml:2:20: web.enrol_token_ttl: 10s: want between 1m and 720h",
		"web:\n  enrol_token_ttl: week\n": `c.yaml:2:20: web.enrol_token_ttl: "week" is not a duration`,
		"web:\n  enabled: maybe\n":        "c.yaml:2:12:",
	} {
		if _, err := Parse("c.yaml", []byte(in)); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: got %v\nwant %s", in, err, want)
		}
	}
}
