package cve

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzImport feeds the importer anything, seeded with the corpus feeds,
// cut short and gzipped: it must return an error or import, never panic,
// and what it imports must match without an error.
func FuzzImport(f *testing.F) {
	files, _ := filepath.Glob("../../corpus/cve/*.json")
	if len(files) == 0 {
		f.Fatal("no corpus/cve feeds")
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/3])
		f.Add(gzipped(f, b))
	}
	f.Add([]byte(nvdFeed(nvdRecord("CVE-2026-0001", goodConfig))))
	db := openDB(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := db.Import(t.Context(), "fuzz.json", bytes.NewReader(b)); err != nil {
			return
		}
		for _, sw := range [][2]string{{"Exim", "4.89"}, {"Apache", "2.4.49"}, {"OpenSSH", "8.5p1"}} {
			if _, err := db.Match(t.Context(), sw[0], sw[1]); err != nil {
				t.Fatalf("Match(%q, %q) after an import: %v", sw[0], sw[1], err)
			}
		}
	})
}

// FuzzParseCPE: a parsed name prints as a formatted string that parses
// to the same name.
func FuzzParseCPE(f *testing.F) {
	for _, s := range []string{"cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*", "cpe:2.3:a:openbsd:openssh:9.6:p1:*:*:*:*:*:*",
		`cpe:2.3:a:hp:x:2.1\:1:*:*:*:*:*:*:*`, "cpe:2.3:a:apache:http_server:2.4.?9:*:*:*:*:*:*:*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCPE(s)
		if err != nil {
			return
		}
		again, err := ParseCPE(c.String())
		if err != nil {
			t.Fatalf("ParseCPE(%q).String() = %q: %v", s, c.String(), err)
		}
		if again.String() != c.String() {
			t.Fatalf("%q: %q then %q", s, c.String(), again.String())
		}
	})
}
