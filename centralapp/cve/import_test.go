package cve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"
	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite testdata/match.golden.json")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	fixture  = "../../corpus/cve/nvdcve-2.0-fixture.json"
	modified = "../../corpus/cve/nvdcve-2.0-fixture-modified.json"
	kevFile  = "../../corpus/cve/kev-fixture.json"
)

// clock is the time the tests' imports run at.
var clock = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func openDB(t testing.TB) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "cve.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.now = func() time.Time { return clock }
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

func importFile(t testing.TB, db *DB, path string) ImportStats {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := db.Import(context.Background(), filepath.Base(path), bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestImportFixture(t *testing.T) {
	db := openDB(t)
	if got, err := db.Imported(t.Context()); err != nil || !got.IsZero() {
		t.Fatalf("Imported before any import = %v, %v", got, err)
	}
	got := importFile(t, db, fixture)
	want := ImportStats{Kind: "nvd", Records: 13, Added: 12, Rejected: 1,
		FeedTime: time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC), Imported: clock}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("NVD import (-want +got):\n%s", d)
	}
	got = importFile(t, db, kevFile)
	want = ImportStats{Kind: "kev", Records: 4, Added: 4,
		FeedTime: time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC), Imported: clock}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("KEV import (-want +got):\n%s", d)
	}
	if at, err := db.Imported(t.Context()); err != nil || !at.Equal(clock) {
		t.Errorf("Imported = %v, %v; want %v", at, err, clock)
	}
	// Every record is stored, the rejected one as such.
	var n, rejected int
	if err := db.db.QueryRow("SELECT count(*), count(*) FILTER (WHERE status = 'Rejected') FROM cves").Scan(&n, &rejected); err != nil {
		t.Fatal(err)
	}
	if n != 13 || rejected != 1 {
		t.Errorf("stored %d records, %d rejected; want 13, 1", n, rejected)
	}
}

// banners are the software and versions the golden Match results cover.
var banners = [][2]string{
	{"Apache", "2.4.48"}, {"Apache", "2.4.49"}, {"Apache", "2.4.50"}, {"Apache", "2.4.51"},
	{"nginx", "0.6.17"}, {"nginx", "0.6.18"}, {"nginx", "1.20.0"}, {"nginx", "1.20.1"},
	{"OpenSSH", "4.3p2"}, {"OpenSSH", "4.4p1"}, {"OpenSSH", "8.4p1"}, {"OpenSSH", "8.5p1"},
	{"OpenSSH", "9.6p1"}, {"OpenSSH", "9.7p1"}, {"OpenSSH", "9.8p1"},
	{"OpenSSL", "1.0.0t"}, {"OpenSSL", "1.0.1"}, {"OpenSSL", "1.0.1f"}, {"OpenSSL", "1.0.1g"}, {"OpenSSL", "1.0.2k"},
	{"Exim", "4.86"}, {"Exim", "4.87"}, {"Exim", "4.89"}, {"Exim", "4.91"}, {"Exim", "4.92"},
	{"vsftpd", "2.3.4"}, {"vsftpd", "2.3.5"},
	{"example-unknown", "1.0"},
}

func matchAll(t *testing.T, db *DB) map[string][]Vuln {
	t.Helper()
	got := map[string][]Vuln{}
	for _, b := range banners {
		vs, err := db.Match(t.Context(), b[0], b[1])
		if err != nil {
			t.Fatalf("Match(%q, %q): %v", b[0], b[1], err)
		}
		if vs == nil {
			vs = []Vuln{}
		}
		got[b[0]+" "+b[1]] = vs
	}
	return got
}

// TestMatchGolden matches the banners against the fixture feed and KEV
// catalogue, and compares with testdata/match.golden.json.
func TestMatchGolden(t *testing.T) {
	db := openDB(t)
	importFile(t, db, fixture)
	importFile(t, db, kevFile)
	got := matchAll(t, db)
	golden := filepath.Join("testdata", "match.golden.json")
	if *update {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string][]Vuln
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Match (-golden +got):\n%s", d)
	}
	// What the golden file holds, spelled out for the brief's cases.
	ids := func(b string) string {
		var s []string
		for _, v := range got[b] {
			s = append(s, v.ID)
		}
		return strings.Join(s, " ")
	}
	for b, want := range map[string]string{
		"Apache 2.4.49":       "CVE-2021-42013 CVE-2021-41773 CVE-2099-0005",
		"Apache 2.4.50":       "CVE-2021-42013",
		"Apache 2.4.51":       "",
		"nginx 1.20.0":        "CVE-2099-0002 CVE-2021-23017",
		"nginx 1.20.1":        "",
		"nginx 0.6.17":        "CVE-2099-0002",
		"OpenSSH 4.3p2":       "CVE-2024-6387",
		"OpenSSH 4.4p1":       "",
		"OpenSSH 8.4p1":       "",
		"OpenSSH 8.5p1":       "CVE-2024-6387",
		"OpenSSH 9.7p1":       "CVE-2024-6387",
		"OpenSSH 9.8p1":       "",
		"OpenSSL 1.0.1f":      "CVE-2014-0160",
		"OpenSSL 1.0.1g":      "",
		"OpenSSL 1.0.2k":      "",
		"Exim 4.86":           "",
		"Exim 4.87":           "CVE-2019-10149",
		"Exim 4.91":           "CVE-2019-10149",
		"Exim 4.92":           "",
		"vsftpd 2.3.4":        "CVE-2011-2523",
		"vsftpd 2.3.5":        "",
		"example-unknown 1.0": "",
	} {
		if got := ids(b); got != want {
			t.Errorf("Match %s = %q, want %q", b, got, want)
		}
	}
	heartbleed := got["OpenSSL 1.0.1f"][0]
	if !heartbleed.KEV || !heartbleed.KEVAdded.Equal(time.Date(2022, 5, 4, 0, 0, 0, 0, time.UTC)) ||
		heartbleed.CVSS != 7.5 || heartbleed.Severity != "High" || heartbleed.Version != "3.1" {
		t.Errorf("CVE-2014-0160 = %+v", heartbleed)
	}
	if v := got["nginx 1.20.0"][0]; v.CVSS != 8.7 || v.Version != "4.0" {
		t.Errorf("CVE-2099-0002: CVSS %v version %s, want the 4.0 Secondary metric 8.7", v.CVSS, v.Version)
	}
	if v := got["OpenSSH 8.5p1"][0]; v.CVSS != 8.1 || v.Severity != "High" || !strings.Contains(v.Advice, "Upgrade OpenSSH to 9.8p1 or later") {
		t.Errorf("CVE-2024-6387 = %+v", v)
	}
}

// TestReimport imports the fixture again: nothing is newer, nothing
// changes.
func TestReimport(t *testing.T) {
	db := openDB(t)
	importFile(t, db, fixture)
	importFile(t, db, kevFile)
	before := matchAll(t, db)
	st := importFile(t, db, fixture)
	if st.Unchanged != 13 || st.Added+st.Updated+st.Rejected != 0 {
		t.Errorf("re-import: %+v", st)
	}
	st = importFile(t, db, kevFile)
	if st.Unchanged != 4 || st.Added+st.Removed != 0 {
		t.Errorf("KEV re-import: %+v", st)
	}
	if d := cmp.Diff(before, matchAll(t, db)); d != "" {
		t.Errorf("after re-import (-before +after):\n%s", d)
	}
}

// TestModified applies the -modified feed: a newer record replaces, an
// older one does not, a rejection removes the record from matching, and a
// yearly feed imported afterwards brings none of it back.
func TestModified(t *testing.T) {
	db := openDB(t)
	importFile(t, db, fixture)
	importFile(t, db, kevFile)
	st := importFile(t, db, modified)
	want := ImportStats{Kind: "nvd", Records: 4, Added: 1, Updated: 1, Unchanged: 1, Rejected: 1,
		FeedTime: time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC), Imported: clock}
	if d := cmp.Diff(want, st); d != "" {
		t.Errorf("-modified import (-want +got):\n%s", d)
	}
	check := func() {
		t.Helper()
		got := matchAll(t, db)
		if vs := got["Apache 2.4.49"]; len(vs) != 2 || vs[0].ID != "CVE-2021-42013" || vs[1].ID != "CVE-2021-41773" {
			t.Errorf("Apache 2.4.49 after the rejection of CVE-2099-0005: %v", vs)
		}
		vs := got["nginx 1.20.0"]
		if len(vs) != 2 || vs[0].ID != "CVE-2099-0002" || vs[0].CVSS != 8.7 {
			t.Errorf("nginx 1.20.0: the older CVE-2099-0002 replaced the stored one: %+v", vs)
		}
		if len(vs) == 2 && !strings.Contains(vs[1].Description, "ngx_resolver.c") {
			t.Errorf("CVE-2021-23017 not updated: %q", vs[1].Description)
		}
		if vs := got["OpenSSH 8.5p1"]; len(vs) != 2 || vs[1].ID != "CVE-2099-0007" || vs[1].Version != "3.0" {
			t.Errorf("OpenSSH 8.5p1 after the new CVE-2099-0007: %+v", vs)
		}
		if vs := got["OpenSSH 8.4p1"]; len(vs) != 1 || vs[0].ID != "CVE-2099-0007" {
			t.Errorf("OpenSSH 8.4p1: %+v", vs)
		}
	}
	check()
	st = importFile(t, db, fixture)
	if st.Unchanged != 13 || st.Added+st.Updated+st.Rejected != 0 {
		t.Errorf("yearly feed after -modified: %+v", st)
	}
	check()
}

func gzipped(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestImportGzip(t *testing.T) {
	plain, gz := openDB(t), openDB(t)
	b, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	want := importFile(t, plain, fixture)
	got, err := gz.Import(t.Context(), "nvdcve-2.0-fixture.json.gz", bytes.NewReader(gzipped(t, b)))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("gzip import (-plain +gzip):\n%s", d)
	}
	if d := cmp.Diff(matchAll(t, plain), matchAll(t, gz)); d != "" {
		t.Errorf("Match (-plain +gzip):\n%s", d)
	}
}

// nvdFeed wraps records in an NVD feed.
func nvdFeed(records ...string) string {
	return `{"format":"NVD_CVE","version":"2.0","timestamp":"2026-11-20T03:00:00.000","vulnerabilities":[` +
		strings.Join(records, ",") + `]}`
}

func nvdRecord(id, extra string) string {
	return `{"cve":{"id":"` + id + `","published":"2026-01-01T00:00:00.000","lastModified":"2026-01-02T00:00:00.000",` +
		`"vulnStatus":"Analyzed","descriptions":[{"lang":"en","value":"x"}]` + extra + `}}`
}

const goodConfig = `,"configurations":[{"nodes":[{"operator":"OR","cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:exim:exim:4.89:*:*:*:*:*:*:*"}]}]}]`

// TestImportHostile feeds broken and hostile input: each gives a clear
// error, none panics, and nothing of a failed import is kept.
func TestImportHostile(t *testing.T) {
	b, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", "not a JSON feed"},
		{"not JSON", "<html>502 Bad Gateway</html>", "not a JSON feed"},
		{"null", "null", `want '{'`},
		{"array", "[]", `want '{'`},
		{"empty object", "{}", `no "vulnerabilities"`},
		{"vulnerabilities not an array", `{"vulnerabilities":5}`, `"vulnerabilities": want '['`},
		{"truncated", string(b[:len(b)/2]), "not a JSON feed"},
		{"trailing data", nvdFeed() + "{}", "data after the feed's object"},
		{"two arrays", `{"vulnerabilities":[],"vulnerabilities":[]}`, `"vulnerabilities" twice`},
		{"empty array, no header", `{"vulnerabilities":[]}`, "neither an NVD CVE 2.0 feed"},
		{"other format", `{"format":"OSV","vulnerabilities":[` + nvdRecord("CVE-2026-0001", "") + `]}`, `format "OSV" is not NVD_CVE`},
		{"neither kind", `{"vulnerabilities":[{"id":"GHSA-xxxx"}]}`, "record 1: neither an NVD record"},
		{"mixed kinds", nvdFeed(nvdRecord("CVE-2026-0001", ""), `{"cveID":"CVE-2026-0002","dateAdded":"2026-01-01"}`), "record 2: a kev record in a nvd feed"},
		{"record not an object", nvdFeed(`"CVE-2026-0001"`), "record 1: json: cannot unmarshal string"},
		{"wrong type", nvdFeed(`{"cve":{"id":7}}`), "record 1: json: cannot unmarshal number"},
		{"bad id", nvdFeed(nvdRecord("CVE-26-1", "")), `record 1: "CVE-26-1" is not a CVE id`},
		{"id with SQL", nvdFeed(nvdRecord("CVE-2026-1'; DROP TABLE cves; --", "")), "is not a CVE id"},
		{"no lastModified", nvdFeed(`{"cve":{"id":"CVE-2026-0001"}}`), "CVE-2026-0001: no lastModified"},
		{"bad time", nvdFeed(`{"cve":{"id":"CVE-2026-0001","lastModified":"yesterday"}}`), `lastModified: "yesterday" is not a time`},
		{"score out of range", nvdFeed(nvdRecord("CVE-2026-0001", `,"metrics":{"cvssMetricV31":[{"type":"Primary","cvssData":{"version":"3.1","baseScore":11}}]}`)),
			"CVE-2026-0001: CVSS base score 11 is outside 0-10"},
		{"unknown severity", nvdFeed(nvdRecord("CVE-2026-0001", `,"metrics":{"cvssMetricV31":[{"type":"Primary","cvssData":{"version":"3.1","baseScore":5,"baseSeverity":"SCARY"}}]}`)),
			`unknown CVSS severity "SCARY"`},
		{"bad operator", nvdFeed(nvdRecord("CVE-2026-0001", `,"configurations":[{"operator":"XOR","nodes":[]}]`)), `operator "XOR"`},
		{"bad criteria", nvdFeed(nvdRecord("CVE-2026-0001", `,"configurations":[{"nodes":[{"cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:x"}]}]}]`)),
			"no vendor and product"},
		{"bad record after good ones", nvdFeed(nvdRecord("CVE-2026-0001", goodConfig), nvdRecord("CVE-2026-0002", goodConfig), nvdRecord("bad", "")),
			`record 3: "bad" is not a CVE id`},
		{"bad timestamp", `{"format":"NVD_CVE","timestamp":"soon","vulnerabilities":[]}`, `feed timestamp: "soon" is not a time`},
		{"KEV without dateAdded", `{"catalogVersion":"1","vulnerabilities":[{"cveID":"CVE-2026-0001"}]}`, "CVE-2026-0001: dateAdded: no dateAdded"},
		{"KEV bad id", `{"catalogVersion":"1","vulnerabilities":[{"cveID":"CVE-x"}]}`, `"CVE-x" is not a CVE id`},
		{"gzip of garbage", "\x1f\x8b\x08\x00garbage", "gzip"},
		{"deep nesting", `{"x":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `,"vulnerabilities":[]}`, "exceeded max depth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openDB(t)
			_, err := db.Import(t.Context(), "feed.json", strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "feed.json: ") {
				t.Fatalf("Import = %v, want an error naming feed.json with %q", err, tc.want)
			}
			var n int
			if err := db.db.QueryRow("SELECT (SELECT count(*) FROM cves) + (SELECT count(*) FROM kev) + (SELECT count(*) FROM imports)").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("a failed import left %d rows", n)
			}
		})
	}
}

// TestKEVCatalogue: a later catalogue replaces the stored one, an older
// one changes nothing.
func TestKEVCatalogue(t *testing.T) {
	db := openDB(t)
	importFile(t, db, fixture)
	importFile(t, db, kevFile)
	kev := func(released string, ids ...string) string {
		var es []string
		for _, id := range ids {
			es = append(es, fmt.Sprintf(`{"cveID":%q,"dateAdded":"2026-01-01","dueDate":"2026-01-22","requiredAction":"Apply updates."}`, id))
		}
		return `{"catalogVersion":"x","dateReleased":"` + released + `","vulnerabilities":[` + strings.Join(es, ",") + `]}`
	}
	st, err := db.Import(t.Context(), "old.json", strings.NewReader(kev("2026-01-01T00:00:00Z", "CVE-2011-2523")))
	if err != nil {
		t.Fatal(err)
	}
	if st.Unchanged != 1 || st.Added+st.Removed != 0 {
		t.Errorf("older catalogue: %+v", st)
	}
	if vs, _ := db.Match(t.Context(), "vsftpd", "2.3.4"); len(vs) != 1 || vs[0].KEV {
		t.Errorf("an older catalogue was applied: %+v", vs)
	}
	st, err = db.Import(t.Context(), "new.json", strings.NewReader(kev("2026-11-26T00:00:00Z",
		"CVE-2021-41773", "CVE-2021-42013", "CVE-2019-10149", "CVE-2011-2523")))
	if err != nil {
		t.Fatal(err)
	}
	if st.Added != 1 || st.Unchanged != 3 || st.Removed != 1 {
		t.Errorf("newer catalogue: %+v", st)
	}
	if vs, _ := db.Match(t.Context(), "vsftpd", "2.3.4"); len(vs) != 1 || !vs[0].KEV || !strings.Contains(vs[0].Advice, "exploited in the wild") {
		t.Errorf("vsftpd 2.3.4 after the newer catalogue: %+v", vs)
	}
	if vs, _ := db.Match(t.Context(), "OpenSSL", "1.0.1f"); len(vs) != 1 || vs[0].KEV {
		t.Errorf("OpenSSL 1.0.1f still on the catalogue: %+v", vs)
	}
}

// TestImportCancel: a cancelled import stops, and keeps nothing.
func TestImportCancel(t *testing.T) {
	db := openDB(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := db.Import(ctx, "large.json", bytes.NewReader(genFeed(10))); !errors.Is(err, context.Canceled) {
		t.Fatalf("Import with a cancelled context = %v", err)
	}
	var n int
	if err := db.db.QueryRow("SELECT count(*) FROM cves").Scan(&n); err != nil || n != 0 {
		t.Errorf("a cancelled import left %d records (%v)", n, err)
	}
}

func TestMatchUnknown(t *testing.T) {
	db := openDB(t)
	importFile(t, db, fixture)
	for _, b := range [][2]string{{"unknown", "1.0"}, {"Apache", ""}, {"Apache", "2.4.49 (Debian)"}, {"", ""}} {
		if vs, err := db.Match(t.Context(), b[0], b[1]); vs != nil || err != nil {
			t.Errorf("Match(%q, %q) = %v, %v", b[0], b[1], vs, err)
		}
	}
}

// TestMatchDuringImport reads while a large import writes: WAL lets Match
// see the data as of the last commit, without waiting.
func TestMatchDuringImport(t *testing.T) {
	db := openDB(t)
	importFile(t, db, fixture)
	feed := genFeed(3000)
	done := make(chan error)
	go func() {
		_, err := db.Import(context.Background(), "large.json", bytes.NewReader(feed))
		done <- err
	}()
	for i := 0; ; i++ {
		vs, err := db.Match(t.Context(), "Exim", "4.89")
		if err != nil || len(vs) == 0 || vs[0].ID != "CVE-2019-10149" {
			t.Fatalf("Match during import: %v, %v", vs, err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			return
		default:
		}
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(""); err == nil {
		t.Error("Open(\"\") succeeded")
	}
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing", "cve.db")); err == nil {
		t.Error("Open in a missing folder succeeded")
	}
	bad := filepath.Join(dir, "not-a-db")
	if err := os.WriteFile(bad, bytes.Repeat([]byte("not sqlite "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("Open(a text file) = %v", err)
	}
}
