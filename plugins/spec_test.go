package plugins

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cyberalarm/cyberalarm/detect"
)

func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFile(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	path := writeFile(t, "plugins.yaml", `# plugins
plugins:
  - name: kestrel_kx
    path: bin/kestrelfw
    sha256: `+strings.ToUpper(sum)+`
    args: [--verbose]
    timeout: 2s
    batch_lines: 500
    batch_bytes: 65536
    batch_wait: 10ms
    in_flight: 2
  - name: other
    path: /opt/other
    sha256: `+sum+`
`)
	got, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []Spec{
		{Name: "kestrel_kx", Path: filepath.Join(filepath.Dir(path), "bin/kestrelfw"), SHA256: sum, Args: []string{"--verbose"},
			Timeout: 2 * time.Second, BatchLines: 500, BatchBytes: 65536, BatchWait: 10 * time.Millisecond, InFlight: 2,
			File: path, Line: 3, Column: 5},
		{Name: "other", Path: "/opt/other", SHA256: sum, File: path, Line: 12, Column: 5},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	d := got[1].withDefaults()
	if d.Timeout != DefaultTimeout || d.BatchLines != DefaultBatchLines || d.BatchBytes != DefaultBatchBytes ||
		d.BatchWait != DefaultBatchWait || d.InFlight != DefaultInFlight || d.StartTimeout != DefaultStartTimeout {
		t.Errorf("defaults: %+v", d)
	}
}

// TestRelativePath: a bare name in a file named without a folder is in the
// working folder, not looked up in $PATH.
func TestRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("p.yaml", []byte("plugins:\n  - {name: a, path: bin, sha256: "+strings.Repeat("0a", 32)+"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := LoadFile("p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "bin"); got[0].Path != want {
		t.Errorf("path %q, want %q", got[0].Path, want)
	}
}

func TestLoadFileErrors(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	cases := []struct{ name, data, want string }{
		{"syntax", "plugins: [\n", ":1:"},
		{"not a list", "plugins: 3\n", ":1:10: plugins: want a list"},
		{"unknown", "plugins:\n  - name: a\n    paht: x\n", `:3:5: unknown field "paht"`},
		{"name", "plugins:\n  - name: A-b\n    path: x\n    sha256: " + sum + "\n", `:2:5: name: "A-b" must be lower case`},
		{"no name", "plugins:\n  - path: x\n    sha256: " + sum + "\n", `:2:5: name: missing`},
		{"twice", "plugins:\n  - {name: a, path: x, sha256: " + sum + "}\n  - {name: a, path: x, sha256: " + sum + "}\n", `:3:6: name: plugin "a" is listed twice`},
		{"no path", "plugins:\n  - name: a\n    sha256: " + sum + "\n", `:2:5: path: missing`},
		{"sum", "plugins:\n  - name: a\n    path: x\n    sha256: 12zz\n", `:4:5: sha256: want the 64 hex digits`},
		{"timeout", "plugins:\n  - name: a\n    path: x\n    sha256: " + sum + "\n    timeout: 1h\n", `:5:5: timeout: 1h0m0s is not from 10ms to 10m0s`},
		{"duration", "plugins:\n  - name: a\n    path: x\n    sha256: " + sum + "\n    timeout: soon\n", `:5:14: timeout: "soon" is not a duration`},
		{"in_flight", "plugins:\n  - name: a\n    path: x\n    sha256: " + sum + "\n    in_flight: 1000\n", `:5:5: in_flight: 1000 is not from 1 to 64`},
		{"other key", "plugins: []\nextra: 1\n", `:2:1: unknown field "extra"`},
		{"empty", "", `:1:1: want one YAML document`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, "p.yaml", c.data)
			_, err := LoadFile(path)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), path+":") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\nwant %s%s...", err, path, c.want)
			}
		})
	}
}

func TestInfo(t *testing.T) {
	in := Info{Name: "x", Signatures: []Signature{{Prefix: "kx1 "}, {Contains: "vendor=Kx", Regexp: `dev=\d+`}}}
	sn, err := sniff(in.Signatures)
	if err != nil {
		t.Fatal(err)
	}
	for msg, want := range map[string]bool{
		"kx1 a=b":                  true,
		"kx2 a=b":                  false,
		"a vendor=Kx dev=12":       true,
		"a vendor=Kx dev=x":        false,
		"a dev=12":                 false,
		"":                         false,
		"kx1":                      false,
		"zz vendor=Kx kx1 dev=777": true,
	} {
		rec := recordOf(msg)
		if got := sn(rec); got != want {
			t.Errorf("sniff(%q) = %v, want %v", msg, got, want)
		}
	}
	for _, bad := range []Info{
		{Name: "Bad", Tags: []string{"t"}},
		{Name: "auto", Tags: []string{"t"}},
		{Name: "x"},
		{Name: "x", Signatures: []Signature{{}}},
		{Name: "x", Signatures: []Signature{{Regexp: "("}}},
	} {
		if err := bad.validate(); err == nil {
			t.Errorf("%+v: valid", bad)
		}
	}
	if _, err := (Info{Name: "x", Tags: []string{"t"}}).ParserInfo(); err == nil {
		t.Error("ParserInfo without New: no error")
	}
}

func recordOf(msg string) *detect.Record {
	return &detect.Record{Raw: []byte(msg), Msg: []byte(msg)}
}
