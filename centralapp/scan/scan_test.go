package scan

import (
	"context"
	"encoding/json"
	"flag"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/oklog/ulid/v2"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const member = "northfield-college"

// env is a scanner over a fresh store, with a fake resolver where
// www.member.test is 127.0.0.1.
type env struct {
	store Store
	res   *fakeResolver
	scan  *Scanner
	dials atomic.Int64
}

func newEnv(t *testing.T, ports []uint16, mod func(*Options)) *env {
	t.Helper()
	return newEnvOn(t, openSQLite(t, t.TempDir()), ports, mod)
}

// newEnvOn is newEnv on the store st.
func newEnvOn(t *testing.T, st Store, ports []uint16, mod func(*Options)) *env {
	t.Helper()
	var err error
	e := &env{store: st, res: &fakeResolver{txt: map[string][]string{},
		addrs: map[string][]netip.Addr{"www.member.test": {netip.MustParseAddr("127.0.0.1")}}}}
	d := &net.Dialer{}
	o := Options{
		Store: st, CVE: fixtureCVE, Resolver: e.res, Ports: ports,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			e.dials.Add(1)
			return d.DialContext(ctx, network, addr)
		},
		Timeout: 3 * time.Second, Greeting: 300 * time.Millisecond, AllowNonPublic: true, KillPoll: 50 * time.Millisecond,
		WellKnown: []Endpoint{},
	}
	if mod != nil {
		mod(&o)
	}
	if e.scan, err = New(o); err != nil {
		t.Fatal(err)
	}
	return e
}

// addDomain adds a domain target for member, proven by a TXT record.
func (e *env) addDomain(t *testing.T, memberID, domain string) Target {
	t.Helper()
	tg := Target{ID: ulid.Make().String(), MemberID: memberID, Kind: TargetDomain, Value: domain, Token: NewToken(), Created: time.Now()}
	if err := e.store.AddTarget(t.Context(), tg); err != nil {
		t.Fatal(err)
	}
	e.res.setTXT(TXTName(domain), "v=spf1 -all", TXTRecord(tg.Token))
	return tg
}

var fixtureCVE = fakeCVE{
	"Apache 2.4.49": {
		{ID: "CVE-2021-41773", CVSS: 7.5, Version: "3.1", Severity: "High", KEV: true, Description: "Path traversal in Apache HTTP Server 2.4.49.", Advice: "Upgrade Apache HTTP Server to 2.4.51 or later."},
		{ID: "CVE-2021-42013", CVSS: 9.8, Version: "3.1", Severity: "Critical", KEV: true, Description: "Path traversal and remote code execution in Apache HTTP Server 2.4.49 and 2.4.50."},
	},
	"nginx 1.20.0":   {{ID: "CVE-2021-23017", CVSS: 7.7, Version: "3.1", Severity: "High", Description: "Off-by-one in the nginx resolver."}},
	"OpenSSH 8.5p1":  {{ID: "CVE-2024-6387", CVSS: 8.1, Version: "3.1", Severity: "High", Description: "regreSSHion: signal handler race in sshd."}},
	"vsftpd 2.3.4":   {{ID: "CVE-2011-2523", CVSS: 9.8, Version: "3.1", Severity: "Critical", KEV: true, Description: "vsftpd 2.3.4 backdoor."}},
	"Exim 4.89":      {{ID: "CVE-2019-10149", CVSS: 9.8, Version: "3.1", Severity: "Critical", KEV: true, Description: "Exim remote command execution."}},
	"PHP 7.4.3":      nil,
	"OpenSSL 1.0.1f": nil,
}

func TestScanFixtures(t *testing.T) {
	fx := startFixtures(t)
	var ports []uint16
	names := map[uint16]string{}
	for _, f := range fx {
		ports = append(ports, f.Port)
		names[f.Port] = f.Name
	}
	closed := freePort(t)
	ports = append(ports, closed)
	e := newEnv(t, ports, nil)
	e.addDomain(t, member, "www.member.test")

	res, err := e.scan.Run(t.Context(), member, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if res.Run.Status != StatusDone {
		t.Fatalf("status %s, notes %q", res.Run.Status, res.Run.Notes)
	}
	byName := map[string][]Finding{}
	for _, f := range res.Findings {
		name, ok := names[f.Port]
		if !ok {
			t.Errorf("finding on port %d, which is no fixture: %+v", f.Port, f)
			continue
		}
		byName[name] = append(byName[name], normalise(f))
	}
	for _, f := range fx {
		checkGolden(t, filepath.Join("testdata", "findings", f.Name+".json"), byName[f.Name])
	}
	for _, f := range byName["catchall"] {
		if f.Kind == KindPath {
			t.Errorf("catch-all server produced a path finding: %+v", f)
		}
	}

	// Everything was audited, and the closed port was probed and found
	// closed.
	audit, err := e.store.Audit(t.Context(), AuditFilter{RunID: res.Run.ID, Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(audit)) != res.Run.Probes || res.Run.Probes != e.dials.Load() {
		t.Errorf("%d audit entries, %d probes counted, %d dials", len(audit), res.Run.Probes, e.dials.Load())
	}
	sawClosed := false
	for _, a := range audit {
		if a.Result == "" || a.Finished.IsZero() || a.By != "alice" || a.MemberID != member || a.Host != "www.member.test" {
			t.Errorf("incomplete audit entry %+v", a)
		}
		sawClosed = sawClosed || a.Port == closed && a.Result == "closed"
	}
	if !sawClosed {
		t.Error("the closed port is not in the audit log as closed")
	}

	// Stored as returned.
	stored, err := e.store.Findings(t.Context(), res.Run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(res.Findings, stored, cmpAddr); d != "" {
		t.Errorf("stored findings differ (-returned +stored):\n%s", d)
	}
}

// normalise takes out what changes from run to run: the fixture's port.
func normalise(f Finding) Finding {
	p := ":" + strconv.Itoa(int(f.Port))
	f.Evidence = strings.ReplaceAll(f.Evidence, p, ":PORT")
	f.Title = strings.ReplaceAll(f.Title, "port "+strconv.Itoa(int(f.Port)), "port PORT")
	f.Advice = strings.ReplaceAll(f.Advice, "port "+strconv.Itoa(int(f.Port)), "port PORT")
	f.Port = 0
	return f
}

func checkGolden(t *testing.T, path string, got []Finding) {
	t.Helper()
	if got == nil {
		got = []Finding{}
	}
	if *update {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	var want []Finding
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got, cmpAddr); d != "" {
		t.Errorf("%s (-want +got):\n%s", path, d)
	}
}

// freePort returns a loopback port nothing listens on.
func freePort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := uint16(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	return p
}

var cmpAddr = cmpopts.EquateComparable(netip.Addr{})
