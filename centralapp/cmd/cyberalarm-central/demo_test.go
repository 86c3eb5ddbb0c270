package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cyberalarm/cyberalarm/centralapp/cli"
	"github.com/cyberalarm/cyberalarm/centralapp/demo"
	"github.com/cyberalarm/cyberalarm/centralapp/report"
	"github.com/cyberalarm/cyberalarm/centralapp/scan"
	"github.com/cyberalarm/cyberalarm/centralapp/store/sqlite"
)

// TestDemo runs `cyberalarm-central demo` as the README does: central, four
// members' collectors over mTLS, aggregation and export. Every detection
// the scenario goldens list reaches central under the member that was fed
// that scenario, and the scanners fed to every member form cross-member
// campaigns.
func TestDemo(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := cli.Main([]string{"demo", "--out", out, "--corpus", "../../../corpus"}, &stdout, &stderr, runCollector); code != 0 {
		t.Fatalf("demo exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	t.Logf("demo:\n%s", stdout.String())

	data, err := os.ReadFile(filepath.Join(out, "detections.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ member, rule, source string }
	got := map[key]bool{}
	campaigns := map[string][]string{} // source -> members
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var d struct {
			Rule    struct{ ID string }
			Source  struct{ IP string }
			Member  struct{ ID string }
			Members []string
		}
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if d.Members != nil {
			campaigns[d.Source.IP] = d.Members
			continue
		}
		got[key{d.Member.ID, d.Rule.ID, d.Source.IP}] = true
	}

	feeds, err := demo.DefaultFeeds("../../../corpus")
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for member, files := range feeds {
		for _, f := range files {
			golden, err := os.ReadFile(filepath.Join(filepath.Dir(f), "detections.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(strings.TrimSpace(string(golden)), "\n") {
				if line == "" {
					continue
				}
				var g struct{ Rule, Source string }
				if err := json.Unmarshal([]byte(line), &g); err != nil {
					t.Fatal(err)
				}
				want++
				if !got[key{member, g.Rule, g.Source}] {
					t.Errorf("%s: %s from %q (%s) did not reach central", member, g.Rule, g.Source, f)
				}
			}
		}
	}
	if want < 50 {
		t.Fatalf("only %d expected detections in the scenario goldens", want)
	}
	if len(campaigns) == 0 {
		t.Fatal("no cross-member campaign")
	}
	for src, members := range campaigns {
		if len(members) < 3 {
			t.Errorf("campaign of %s hit only %v", src, members)
		}
	}

	// The reports are in the folder and in central's archive, the
	// Vulnerability Assessment Report among them.
	st, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(out, "central", "central.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kinds := map[string]int{}
	for member := range feeds {
		rs, err := st.Reports(t.Context(), member)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			kinds[r.Kind]++
			if r.Kind == scan.ReportKind {
				if _, err := os.Stat(filepath.Join(out, "reports", "vulnerability-"+member+".html")); err != nil {
					t.Error(err)
				}
			}
		}
		if _, err := os.Stat(filepath.Join(out, "reports", member+".html")); err != nil {
			t.Error(err)
		}
	}
	if want := map[string]int{report.KindMember: len(feeds), scan.ReportKind: 1}; !maps.Equal(kinds, want) {
		t.Errorf("archived member reports by kind %v, want %v", kinds, want)
	}
}
