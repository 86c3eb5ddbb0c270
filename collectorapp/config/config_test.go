package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cyberalarm/cyberalarm/parsers"
)

// base is the least valid config; cases add lines after it (from line 10).
const base = `collector:
  member: m1
central:
  url: https://central.test
  updates_interval: 0s
inputs:
  - name: udp
    type: udp
    listen: 127.0.0.1:5514
`

func builtinFormat(name string) bool {
	_, ok := parsers.Builtin().Lookup(name)
	return ok
}

func TestSampleLoads(t *testing.T) {
	c, err := Parse("sample.yaml", Sample(), builtinFormat)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Inputs) != 5 || c.Inputs[1].Format != "cisco_asa" || c.Inputs[0].Location.String() != "Europe/London" {
		t.Errorf("inputs: %+v", c.Inputs)
	}
	if len(c.Central.UpdateKey) != 32 || c.Buffer.MaxBytes != 1<<30 || c.Privacy.PseudonymiseInternal != true {
		t.Errorf("central %+v, buffer %+v, privacy %+v", c.Central, c.Buffer, c.Privacy)
	}
	if err := c.CheckFormats(builtinFormat); err != nil {
		t.Error(err)
	}
}

// settingPaths returns the path of every setting of t, with list indexes
// left out ("inputs.tls.cert_file").
func settingPaths(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		name := tagName(t.Field(i))
		if name == "" {
			continue
		}
		p := prefix + name
		out = append(out, p)
		ft := t.Field(i).Type
		if ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[netip.Prefix]() {
			out = append(out, settingPaths(ft, p+".")...)
		}
	}
	return out
}

func samplePositions(t *testing.T) positions {
	t.Helper()
	var c Config
	pos, errs := decode("sample.yaml", Sample(), &c)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return pos
}

func stripIndexes(p string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(p, '[')
		if i < 0 {
			return b.String() + p
		}
		b.WriteString(p[:i])
		p = p[strings.IndexByte(p, ']')+1:]
	}
}

func TestSampleHasEverySetting(t *testing.T) {
	written := map[string]bool{}
	for p := range samplePositions(t) {
		written[stripIndexes(p)] = true
	}
	paths := settingPaths(reflect.TypeFor[Config](), "")
	if len(paths) < 60 {
		t.Fatalf("only %d settings found: %v", len(paths), paths)
	}
	for _, p := range paths {
		if !written[p] {
			t.Errorf("the sample does not show %s", p)
		}
	}
	for p := range written {
		if !slices.Contains(paths, p) {
			t.Errorf("the sample shows %s, which is not a setting", p)
		}
	}
}

// Every setting in the sample has a comment: on its own line, or on the
// line above (after a list's "-").
func TestSampleCommentsEverySetting(t *testing.T) {
	lines := strings.Split(string(Sample()), "\n")
	for p, at := range samplePositions(t) {
		if strings.HasSuffix(p, "]") {
			continue // a list item, not a setting
		}
		line := lines[at.line-1]
		above := strings.TrimPrefix(strings.TrimSpace(lines[at.line-2]), "- ")
		if !strings.Contains(line, " # ") && !strings.HasPrefix(above, "#") {
			t.Errorf("sample.yaml:%d: %s has no comment", at.line, p)
		}
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("c.yaml", []byte(base+`  - name: tcp
    type: tcp
    listen: :5514
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	dd := DefaultDataDir
	want := &Config{
		Collector: Collector{Member: "m1", DataDir: dd},
		Inputs: []Input{
			{Name: "udp", Type: UDP, Listen: "127.0.0.1:5514", Format: "auto", Timezone: "UTC", MaxMessageBytes: 64 << 10, Location: time.UTC, ReadBuffer: DefaultReadBuffer},
			{Name: "tcp", Type: TCP, Listen: ":5514", Format: "auto", Timezone: "UTC", MaxMessageBytes: 64 << 10, Location: time.UTC, MaxConnections: 1024},
		},
		Rules:     Rules{Builtin: true, Lateness: 5 * time.Minute, MaxGroups: 250_000},
		Privacy:   Privacy{HMACKeyFile: dd + "/pseudonym.key"},
		Summaries: Summaries{Enabled: true, MaxKeys: 100_000},
		Buffer:    Buffer{Path: dd + "/buffer.db", MaxBytes: 1 << 30, BatchMaxRecords: 10_000, BatchMaxBytes: 4 << 20, BatchMaxAge: 10 * time.Second},
		Central:   Central{URL: "https://central.test", Timeout: 30 * time.Second, RetryMin: time.Second, RetryMax: 5 * time.Minute},
		Metrics:   Metrics{Enabled: true, Listen: "127.0.0.1:9464"},
		Log:       Log{Level: "info", Format: "text"},
		Pipeline:  Pipeline{QueueLines: 8192, Workers: runtime.GOMAXPROCS(0)},
		File:      "c.yaml",
	}
	if diff := cmp.Diff(want, c, cmp.AllowUnexported(Config{}), cmp.Comparer(func(a, b *time.Location) bool { return a.String() == b.String() }),
		cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".pos" }, cmp.Ignore())); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if c.Log.SlogLevel() != 0 {
		t.Errorf("info is slog level %v", c.Log.SlogLevel())
	}
}

// Settings written empty ("key:" or "key: ~") keep their defaults, and
// false and 0 written out are kept.
func TestWrittenZeroAndNull(t *testing.T) {
	c, err := Parse("c.yaml", []byte(base+`rules:
  builtin: false
  dirs: [rules]
  lateness:
metrics:
  enabled: false
  listen: ~
summaries:
  enabled: false
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Rules.Builtin || c.Rules.Lateness != 5*time.Minute || c.Metrics.Enabled || c.Metrics.Listen != DefaultMetricsListen || c.Summaries.Enabled {
		t.Errorf("rules %+v, metrics %+v, summaries %+v", c.Rules, c.Metrics, c.Summaries)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"syntax", "collector: [m1\n", []string{
			"c.yaml:1:12: sequence end token ']' not found",
		}},
		{"tab indent", "collector:\n\tmember: m1\n", []string{
			"c.yaml:2:1: found character '\t' that cannot start any token",
		}},
		{"duplicate key", base + "collector:\n  member: m2\n", []string{
			`c.yaml:10:1: mapping key "collector" already defined at [1:1]`,
		}},
		{"two documents", base + "---\nlog: {level: info}\n", []string{
			"c.yaml:11:1: a config file holds one YAML document",
		}},
		{"not a mapping", "- a\n- b\n", []string{
			"c.yaml:1:1: want a mapping of settings, got a list",
		}},
		{"unknown settings", base + "    formt: auto\nlogging:\n  level: debug\nlog:\n  levl: debug\n", []string{
			"c.yaml:10:5: inputs[0].formt: unknown setting; did you mean format?",
			"c.yaml:11:1: logging: unknown setting",
			"c.yaml:14:3: log.levl: unknown setting; did you mean level?",
		}},
		{"wrong types", base + "    max_connections: many\n    rate: 100\nrules:\n  builtin: yes\n  dirs: rules\n  max_groups: 1.5\n", []string{
			`c.yaml:10:22: inputs[0].max_connections: want a whole number, got "many"`,
			"c.yaml:11:11: inputs[0].rate: want a mapping of settings, got 100",
			`c.yaml:13:12: rules.builtin: want true or false, got "yes"`,
			`c.yaml:14:9: rules.dirs: want a list, got "rules"`,
			"c.yaml:15:15: rules.max_groups: want a whole number, got 1.5",
		}},
		{"string wanted", "collector:\n  member: [a, b]\n  data_dir: true\n", []string{
			"c.yaml:2:11: collector.member: want a string, got a list",
			"c.yaml:3:13: collector.data_dir: want a string, got true",
		}},
		{"too large", base + "    max_connections: 9223372036854775808\n", []string{
			"c.yaml:10:22: inputs[0].max_connections: 9223372036854775808 is too large",
		}},
		{"bad duration", base + "rules:\n  lateness: 5\n", []string{
			`c.yaml:11:13: rules.lateness: "5" is not a duration like 30s, 5m or 1h`,
		}},
		{"bad size", base + "    max_message_bytes: 64 kilobytes\nbuffer:\n  max_bytes: -1GiB\n", []string{
			`c.yaml:10:24: inputs[0].max_message_bytes: "64 kilobytes" is not a size like 64KiB, 512MiB or 1GiB`,
			`c.yaml:12:14: buffer.max_bytes: "-1GiB" is not a size like 64KiB, 512MiB or 1GiB`,
		}},
		{"bad CIDR", base + "lists:\n  internal:\n    - 10.1.0.0/16\n    - 10.0.0.300/8\n    - fd00::/129\n", []string{
			`c.yaml:13:7: lists.internal[1]: "10.0.0.300/8" is not a CIDR range like 10.0.0.0/8 or fd00::/8`,
			`c.yaml:14:7: lists.internal[2]: "fd00::/129" is not a CIDR range like 10.0.0.0/8 or fd00::/8`,
		}},
		{"unknown alias", base + "lists:\n  internal: *nets\n", []string{
			"c.yaml:11:13: lists.internal: alias *nets names no anchor",
		}},
		{"merge loop", base + "  - &m\n    <<: [*m]\n", []string{
			"c.yaml:11:10: inputs[1]: merges nest too deep",
		}},
		{"merge of a list that holds itself", base + "  - <<: &s [*s]\n", []string{
			"c.yaml:10:13: inputs[1]: merges nest too deep",
		}},
		{"key not a string", base + "    1: x\n", []string{
			"c.yaml:10:5: inputs[0].1: unknown setting",
		}},
		{"missing everything", "log:\n  level: loud\n", []string{
			"c.yaml:1:1: collector.member: missing: the member organisation's id is needed",
			"c.yaml:1:1: inputs: at least one input is needed",
			`c.yaml:2:10: log.level: "loud" is not one of debug, info, warn or error`,
		}},
		{"empty file", "", []string{
			"c.yaml:1:1: collector.member: missing: the member organisation's id is needed",
			"c.yaml:1:1: inputs: at least one input is needed",
		}},
		{"duplicate input names", base + "  - name: udp\n    type: stdin\n  - name: Bad Name\n    type: stdin\n", []string{
			`c.yaml:10:11: inputs[1].name: "udp" is also the name of inputs[0]`,
			`c.yaml:12:11: inputs[2].name: "Bad Name" must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
			"c.yaml:13:11: inputs[2].type: inputs[1] already reads stdin",
		}},
		{"input settings for the type", base + `  - name: f
    type: file
    listen: 0.0.0.0:514
    max_connections: 5
    tls:
      cert_file: c.pem
  - name: t
    type: tls
    listen: "[::]:6514"
    path: /var/log/x
  - name: w
    type: websocket
  - type: tcp
    listen: 0.0.0.0
`, []string{
			"c.yaml:10:5: inputs[1].path: missing: the log file to follow",
			`c.yaml:12:13: inputs[1].listen: only for udp, tcp and tls inputs`,
			"c.yaml:13:22: inputs[1].max_connections: only for tcp and tls inputs",
			"c.yaml:14:5: inputs[1].tls: only for tls inputs",
			"c.yaml:16:5: inputs[2].tls.cert_file: missing: the server certificate, PEM",
			"c.yaml:16:5: inputs[2].tls.key_file: missing: the server certificate's key, PEM",
			"c.yaml:19:11: inputs[2].path: only for file inputs",
			`c.yaml:21:11: inputs[3].type: "websocket" is not one of udp, tcp, tls, file or stdin`,
			"c.yaml:22:5: inputs[4].name: missing",
			`c.yaml:23:13: inputs[4].listen: "0.0.0.0" has no port; write host:port, like 0.0.0.0:514 or [::]:514`,
		}},
		{"listen addresses", base + `  - name: a
    type: udp
    listen: 0.0.0.0:5514
  - name: b
    type: tcp
    listen: 127.0.0.1:99999
  - name: c
    type: tcp
    listen: bad_host:514
  - name: d
    type: tcp
    listen: :9464
  - name: e
    type: tcp
    listen: "[::1]:0"
  - name: f
    type: tcp
    listen: "[::1]:0"
`, []string{
			"c.yaml:12:13: inputs[1].listen: udp port 5514 is also taken by inputs[0]",
			`c.yaml:15:13: inputs[2].listen: port "99999" in "127.0.0.1:99999" is not a number from 0 to 65535`,
			`c.yaml:18:13: inputs[3].listen: host "bad_host" in "bad_host:514" is not an IP address or host name`,
			"c.yaml:21:13: inputs[4].listen: tcp port 9464 is also taken by metrics",
		}},
		{"input values", base + `    timezone: Mars/Olympus
    max_message_bytes: 100
    rate:
      lines_per_second: -1
  - name: t
    type: tcp
    listen: :514
    max_connections: 0
    rate:
      burst: 10
`, []string{
			`c.yaml:10:15: inputs[0].timezone: "Mars/Olympus" is not a time zone like UTC or Europe/London`,
			"c.yaml:11:24: inputs[0].max_message_bytes: 100B is not from 1KiB to 64MiB",
			"c.yaml:13:25: inputs[0].rate.lines_per_second: -1 is negative; 0 means no limit",
			"c.yaml:17:22: inputs[1].max_connections: 0 is not from 1 to 1048576",
			"c.yaml:19:14: inputs[1].rate.burst: needs rate.lines_per_second",
		}},
		{"central url http", strings.Replace(base, "https://central.test", "http://central.test", 1), []string{
			`c.yaml:4:8: central.url: "http://central.test": central is reached over https only`,
		}},
		{"central values", strings.Replace(base, "  updates_interval: 0s\n", `  timeout: 0s
  retry_min: 10s
  retry_max: 1s
  update_public_key: AAAA
`, 1), []string{
			"c.yaml:5:12: central.timeout: 0s is not from 1s to 10m0s",
			"c.yaml:7:14: central.retry_max: 1s is not from 10s to 24h0m0s",
			"c.yaml:8:22: central.update_public_key: want an ed25519 public key: 32 bytes in base64",
		}},
		{"lists, rules and plugins", base + `lists:
  trusted_files: [""]
  indicator_files: [a/spamhaus.txt, b/spamhaus.list]
rules:
  builtin: false
  max_groups: 0
plugins:
  - name: p
    path: p
    sha256: abc
  - name: p
    batch_timeout: 1h
`, []string{
			"c.yaml:11:19: lists.trusted_files[0]: empty file name",
			`c.yaml:12:37: lists.indicator_files[1]: list name "spamhaus" (the file's base name) is also the name of lists.indicator_files[0]`,
			"c.yaml:14:12: rules.builtin: false, and rules.dirs names no folder: no rule would run",
			"c.yaml:15:15: rules.max_groups: 0 is not from 1 to 100000000",
			"c.yaml:19:13: plugins[0].sha256: want the SHA-256 of the executable in 64 hex digits, as sha256sum prints it",
			"c.yaml:20:5: plugins[1].path: missing: the plugin's executable",
			"c.yaml:20:5: plugins[1].sha256: want the SHA-256 of the executable in 64 hex digits, as sha256sum prints it",
			`c.yaml:20:11: plugins[1].name: "p" is also the name of plugins[0]`,
			"c.yaml:21:20: plugins[1].batch_timeout: 1h0m0s is not from 1ms to 10m0s",
		}},
		{"metrics remote", base + "metrics:\n  listen: 0.0.0.0:9464\n", []string{
			`c.yaml:11:11: metrics.listen: "0.0.0.0:9464" is reachable from other hosts; use a loopback address, or set metrics.allow_remote`,
		}},
		{"buffer", base + "buffer:\n  max_bytes: 20MiB\n  batch_max_bytes: 10MiB\n  batch_max_age: 0s\n  batch_max_records: 0\n", []string{
			"c.yaml:12:20: buffer.batch_max_bytes: 10MiB is more than a quarter of buffer.max_bytes (20MiB)",
			"c.yaml:13:18: buffer.batch_max_age: 0s is not from 100ms to 1h0m0s",
			"c.yaml:14:22: buffer.batch_max_records: 0 is not from 1 to 1000000",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tc.yaml), nil)
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("got %v (%T), want Errors", err, err)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.Error())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCentralURL(t *testing.T) {
	for url, want := range map[string]string{
		"https://central.test:8443/prefix": "",
		"http://central.test":              `"http://central.test": central is reached over https only`,
		"central.test":                     `"central.test": central is reached over https only`,
		"https:///api":                     `"https:///api" has no host`,
		"https://:443":                     `"https://:443" has no host`,
		"https://u:p@central.test":         `"https://u:p@central.test" holds a user name; the collector authenticates with its certificate`,
		"https://central.test/?a=1":        `"https://central.test/?a=1": no query or fragment, please`,
		"https://central.test/#top":        `"https://central.test/#top": no query or fragment, please`,
		"https://cen tral.test":            `"https://cen tral.test" is not a URL`,
	} {
		_, err := Parse("c.yaml", []byte(strings.Replace(base, "https://central.test", url, 1)), nil)
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", url, err)
			}
			continue
		}
		if want = "c.yaml:4:8: central.url: " + want; err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", url, err, want)
		}
	}
}

// Relative paths are taken from the config file's folder; defaults are
// under the data directory.
func TestRelativePaths(t *testing.T) {
	dir := t.TempDir()
	etc := filepath.Join(dir, "etc")
	if err := os.Mkdir(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(etc, "collector.yaml")
	cfg := base + `  - name: f
    type: file
    path: logs/mail.log
  - name: t
    type: tls
    listen: :6514
    tls: {cert_file: tls/cert.pem, key_file: /abs/key.pem}
collector:
  data_dir: ../state
lists:
  trusted_files: [trusted.txt]
rules:
  dirs: [rules, ./more/../rules2]
plugins:
  - name: p
    path: bin/p
    sha256: 50D858E0985ECC7F60418AAF0CC5AB587F42C2570A884095A9E8CCACD0F6545C
`
	cfg = strings.Replace(cfg, "collector:\n  member: m1\n", "", 1)
	cfg = strings.Replace(cfg, "  data_dir: ../state\n", "  data_dir: ../state\n  member: m1\n", 1)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	for got, want := range map[string]string{
		c.Collector.DataDir:          state,
		c.Inputs[1].Path:             filepath.Join(etc, "logs/mail.log"),
		c.Inputs[2].TLS.CertFile:     filepath.Join(etc, "tls/cert.pem"),
		c.Inputs[2].TLS.KeyFile:      "/abs/key.pem",
		c.Lists.TrustedFiles[0]:      filepath.Join(etc, "trusted.txt"),
		c.Rules.Dirs[0]:              filepath.Join(etc, "rules"),
		c.Rules.Dirs[1]:              filepath.Join(etc, "rules2"),
		c.Plugins[0].Path:            filepath.Join(etc, "bin/p"),
		c.Buffer.Path:                filepath.Join(state, "buffer.db"),
		c.Privacy.HMACKeyFile:        filepath.Join(state, "pseudonym.key"),
		c.Plugins[0].SHA256[:8]:      "50d858e0",
		c.Inputs[2].TLS.ClientCAFile: "",
	} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}

func TestPluginDefaults(t *testing.T) {
	c, err := Parse("c.yaml", []byte(base+"plugins:\n  - {name: acme, path: /p, sha256: "+strings.Repeat("AB", 32)+"}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Plugin{Name: "acme", Path: "/p", SHA256: strings.Repeat("ab", 32), BatchTimeout: 10 * time.Second}
	if diff := cmp.Diff(want, c.Plugins[0]); diff != "" {
		t.Errorf("plugin (-want +got):\n%s", diff)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.yaml"), nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, want a not-exist error", err)
	}
}

func TestCheckFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("trusted.txt", 0o644)
	write("plugin", 0o755)
	write("not-exec", 0o644)
	write("cert.pem", 0o644)
	if err := os.Mkdir(filepath.Join(dir, "rules"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "c.yaml")
	cfg := base + `  - name: t
    type: tls
    listen: :6514
    tls:
      cert_file: cert.pem
      key_file: key.pem
lists:
  trusted_files: [trusted.txt, missing.txt]
  indicator_files: [rules]
rules:
  dirs: [rules, trusted.txt]
plugins:
  - name: good
    path: plugin
    sha256: 50d858e0985ecc7f60418aaf0cc5ab587f42c2570a884095a9e8ccacd0f6545c
  - name: bad
    path: not-exec
    sha256: 50d858e0985ecc7f60418aaf0cc5ab587f42c2570a884095a9e8ccacd0f6545c
privacy:
  pseudonymise_internal: true
  hmac_key_file: pseudonym.key
`
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = c.CheckFiles()
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("got %v, want Errors", err)
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	want := []string{
		path + ":15:17: inputs[1].tls.key_file: open " + p("key.pem") + ": no such file or directory",
		path + ":17:32: lists.trusted_files[1]: open " + p("missing.txt") + ": no such file or directory",
		path + ":18:21: lists.indicator_files[0]: " + p("rules") + " is not a regular file",
		path + ":20:17: rules.dirs[1]: " + p("trusted.txt") + " is not a folder",
		path + ":26:11: plugins[1].path: " + p("not-exec") + " is not executable",
		path + ":30:18: privacy.hmac_key_file: open " + p("pseudonym.key") + ": no such file or directory",
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Error())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestCheckFormats(t *testing.T) {
	c, err := Parse("c.yaml", []byte(base+"    format: acme\n  - name: b\n    type: stdin\n    format: postfix\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `c.yaml:10:13: inputs[0].format: unknown format "acme": no built-in parser or configured plugin has it (cyberalarm-collector formats lists them), or use auto`
	if err := c.CheckFormats(builtinFormat); err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	if err := c.CheckFormats(func(s string) bool { return s == "acme" || builtinFormat(s) }); err != nil {
		t.Error(err)
	}
	// Load checks formats itself when given them.
	if _, err := Parse("c.yaml", []byte(base+"    format: acme\n"), builtinFormat); err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	// A configured plugin's name is a format.
	plugin := base + "    format: acme\nplugins:\n  - {name: acme, path: p, sha256: " + strings.Repeat("ab", 32) + "}\n"
	if _, err := Parse("c.yaml", []byte(plugin), builtinFormat); err != nil {
		t.Error(err)
	}
}

// Errorf places an error about a setting where it is written, or where its
// section is when it was left out.
func TestErrorf(t *testing.T) {
	c, err := Parse("c.yaml", []byte(base), nil)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"inputs[0].listen":  "c.yaml:9:13: inputs[0].listen: bind: address already in use",
		"inputs[0].rate":    "c.yaml:7:5: inputs[0].rate: bind: address already in use",
		"central.ca_file":   "c.yaml:3:1: central.ca_file: bind: address already in use",
		"buffer.path":       "c.yaml:1:1: buffer.path: bind: address already in use",
		"inputs":            "c.yaml:6:1: inputs: bind: address already in use",
		"collector.member":  "c.yaml:2:11: collector.member: bind: address already in use",
		"inputs[0].tls.key": "c.yaml:7:5: inputs[0].tls.key: bind: address already in use",
	} {
		if got := c.Errorf(path, "bind: %s", "address already in use").Error(); got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
}

// Anchors, aliases and merge keys let inputs share settings; errors in a
// merged setting are placed where it is written.
func TestAnchorsAndMerge(t *testing.T) {
	src := base + `    rate: &rate {lines_per_second: 100, burst: 200}
  - &stream
    name: t1
    type: tcp
    listen: :5515
    max_connections: 7
    rate: *rate
  - <<: *stream
    name: t2
    listen: :5516
lists:
  internal: &nets [100.64.0.0/10]
  trusted_files: []
`
	c, err := Parse("c.yaml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	t2 := c.Inputs[2]
	if t2.Name != "t2" || t2.Type != TCP || t2.Listen != ":5516" || t2.MaxConnections != 7 || t2.Rate.Burst != 200 {
		t.Errorf("merged input: %+v", t2)
	}
	bad := base + `  - &stream
    name: t1
    type: tcp
    listen: :5515
    max_connections: none
  - <<: *stream
    name: t2
  - <<: [*stream, 5]
    name: t3
`
	_, err = Parse("c.yaml", []byte(bad), nil)
	want := `c.yaml:14:22: inputs[1].max_connections: want a whole number, got "none"
c.yaml:14:22: inputs[2].max_connections: want a whole number, got "none"
c.yaml:14:22: inputs[3].max_connections: want a whole number, got "none"
c.yaml:17:19: inputs[3]: << merges a mapping or a list of mappings, not 5`
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
	_, err = Parse("c.yaml", []byte(base+"lists:\n  internal: &a [10.0.0.0/8]\n  trusted_files: &a [x]\n"), nil)
	if want := "c.yaml:12:18: anchor &a is defined twice"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]Size{
		"0": 0, "4096": 4096, "512B": 512, "64KiB": 64 << 10, "64kib": 64 << 10, "512MiB": 512 << 20, "1GiB": 1 << 30,
		"2TiB": 2 << 40, "10MB": 10e6, "1 GB": 1e9, "1.5GiB": 3 << 29, "0.5KiB": 512, " 8 KB ": 8000,
	} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "KiB", "-1", "1.2.3MiB", "1e3", "12XB", "1 KiB B", "9999999TiB", "99999999999999999999"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
	for _, s := range []Size{0, 1, 1023, 1024, 1536, 64 << 10, 1 << 30, 3 << 40, 1e9} {
		if back, err := ParseSize(s.String()); err != nil || back != s {
			t.Errorf("%d writes as %q, which reads back as %d, %v", s, s.String(), back, err)
		}
	}
	if got := Size(64 << 20).String(); got != "64MiB" {
		t.Errorf("64 MiB writes as %s", got)
	}
}

// FuzzParse: no input panics Parse, and every error it reports is an
// Errors with positions inside the file.
func FuzzParse(f *testing.F) {
	f.Add(Sample())
	f.Add([]byte(base))
	f.Add([]byte("a: &x [*x]\nb: *x\n"))
	f.Add([]byte("inputs:\n  - <<: *s\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Parse("f.yaml", data, builtinFormat)
		var es Errors
		if err == nil {
			return
		}
		if !errors.As(err, &es) || len(es) == 0 {
			t.Fatalf("error %v (%T) is not Errors", err, err)
		}
		lines := strings.Count(string(data), "\n") + strings.Count(string(data), "\r") + 1 // YAML breaks lines at \r too
		for _, e := range es {
			if e.Line < 1 || e.Column < 1 || e.Line > lines {
				t.Errorf("error outside the file: %v", e)
			}
		}
	})
}

func BenchmarkParseSample(b *testing.B) {
	data := Sample()
	reg := parsers.Builtin()
	known := func(name string) bool { _, ok := reg.Lookup(name); return ok }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("sample.yaml", data, known); err != nil {
			b.Fatal(err)
		}
	}
}

// Merges that triple at each level would expand to 3^12 settings; the
// decoder stops early, and says so once.
func TestMergeBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 {name: x}\n")
	for i := 1; i <= 12; i++ {
		fmt.Fprintf(&b, "a%d: &a%d {<<: [*a%d, *a%d, *a%d]}\n", i, i, i-1, i-1, i-1)
	}
	b.WriteString("inputs:\n  - <<: *a12\n")
	start := time.Now()
	_, err := Parse("c.yaml", []byte(b.String()), nil)
	if err == nil || strings.Count(err.Error(), "\n") != 13 || !strings.Contains(err.Error(), "inputs[0]: aliases and merges expand to too many settings") {
		t.Errorf("got %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

// Load returns the config with Errors when only values failed their checks,
// for config check to report more; it returns none when the file could not
// be decoded.
func TestConfigWithErrors(t *testing.T) {
	c, err := Parse("c.yaml", []byte(strings.Replace(base, "m1", "", 1)), nil)
	if err == nil || c == nil || c.Inputs[0].Name != "udp" {
		t.Errorf("values failing: got %v, %v", c, err)
	}
	c, err = Parse("c.yaml", []byte(base+"    bogus: 1\n"), nil)
	if err == nil || c != nil {
		t.Errorf("unknown setting: got %v, %v", c, err)
	}
}

func TestInputTypeSettings(t *testing.T) {
	base := "collector:\n  member: m1\ninputs:\n"
	for _, c := range []struct{ body, want string }{
		{"  - name: f\n    type: file\n    path: /x.log\n    start_at: middle\n", `c.yaml:7:15: inputs[0].start_at: "middle": want beginning or end`},
		{"  - name: u\n    type: udp\n    listen: :514\n    start_at: end\n", `c.yaml:7:15: inputs[0].start_at: only for file inputs`},
		{"  - name: t\n    type: tcp\n    listen: :514\n    read_buffer: 1MiB\n", `c.yaml:7:18: inputs[0].read_buffer: only for udp inputs`},
		{"  - name: u\n    type: udp\n    listen: :514\n    read_buffer: 2GiB\n", `c.yaml:7:18: inputs[0].read_buffer: 2GiB is not from 64KiB to 1GiB`},
	} {
		_, err := Parse("c.yaml", []byte(base+c.body), nil)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: got %v\nwant %s", c.body, err, c.want)
		}
	}
}
