package scan

import (
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cyberalarm/cyberalarm/centralapp/cve"
)

// fixtureDB imports the repository's fixture NVD and KEV feeds into a
// fresh CVE database.
func fixtureDB(t *testing.T) CVEs {
	t.Helper()
	db, err := cve.Open(filepath.Join(t.TempDir(), "cve.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, name := range []string{"nvdcve-2.0-fixture.json", "kev-fixture.json"} {
		f, err := os.Open(filepath.Join("..", "..", "corpus", "cve", name))
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.Import(t.Context(), name, f)
		f.Close()
		if err != nil {
			t.Fatalf("import %s: %v", name, err)
		}
	}
	return CVEs{db}
}

// TestScanFixturesCVEDB scans the banner fixtures with the real CVE
// database built from the fixture feed.
func TestScanFixturesCVEDB(t *testing.T) {
	fx := startFixtures(t)
	names := map[uint16]string{}
	var ports []uint16
	for _, f := range fx {
		switch f.Name {
		case "apache", "nginx", "openssh", "vsftpd", "exim":
			ports = append(ports, f.Port)
			names[f.Port] = f.Name
		}
	}
	db := fixtureDB(t)
	e := newEnv(t, ports, func(o *Options) { o.CVE = db })
	e.addDomain(t, member, "www.member.test")
	res, err := e.scan.Run(t.Context(), member, "alice")
	if err != nil {
		t.Fatal(err)
	}
	var got []Finding
	for _, f := range res.Findings {
		if f.Kind == KindCVE {
			port := f.Port
			f = normalise(f)
			f.Host = names[port] // normalise zeroed it; name the fixture instead
			// The texts are the CVE package's, and tested there.
			f.Advice, f.Description = "", ""
			got = append(got, f)
		}
	}
	// By fixture, not by the ports the run happened to get.
	slices.SortFunc(got, func(a, b Finding) int {
		return cmp.Or(strings.Compare(a.Host, b.Host), strings.Compare(a.Check, b.Check))
	})
	checkGolden(t, filepath.Join("testdata", "findings", "cvedb.json"), got)
}
