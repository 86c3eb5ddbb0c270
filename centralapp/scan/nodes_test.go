package scan

import (
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// twoNodes are the scanners of two central nodes sharing one PostgreSQL
// scan store, each through its own connections; skipped without
// PostgreSQL.
func twoNodes(t *testing.T, ports []uint16, mod func(*Options)) (a, b *env) {
	t.Helper()
	dsn := cluster.NewDatabase(t)
	return newEnvOn(t, openPostgres(t, dsn), ports, mod), newEnvOn(t, openPostgres(t, dsn), ports, mod)
}

// TestNodesCompareScans: node A scans, then node B (the lease moved) scans
// the upgraded service and reports what was fixed, what is new and what
// is still open against A's scan; the audit log is one.
func TestNodesCompareScans(t *testing.T) {
	// Between the scans sshd is upgraded, and the web server loses a
	// security header.
	var banner atomic.Value
	banner.Store("SSH-2.0-OpenSSH_8.5p1\r\n")
	var upgraded atomic.Bool
	ssh := startBannerFunc(t, func() string { return banner.Load().(string) })
	web := startHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if !upgraded.Load() {
			h.Set("X-Content-Type-Options", "nosniff")
		}
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "<!doctype html><title>Shop</title>")
	}), nil)
	a, b := twoNodes(t, []uint16{ssh, web}, nil)
	tg := a.addDomain(t, member, "www.member.test")
	b.res.setTXT(TXTName(tg.Value), TXTRecord(tg.Token))

	first, err := a.scan.Run(t.Context(), member, "schedule")
	if err != nil {
		t.Fatal(err)
	}
	banner.Store("SSH-2.0-OpenSSH_9.9\r\n")
	upgraded.Store(true)
	second, err := b.scan.Run(t.Context(), member, "schedule")
	if err != nil {
		t.Fatal(err)
	}
	// Either node reads the same comparison.
	for name, n := range map[string]*env{"a": a, "b": b} {
		l, err := LatestScan(t.Context(), n.store, member)
		if err != nil {
			t.Fatal(err)
		}
		if l.Run.ID != second.Run.ID || l.Previous == nil || l.Previous.ID != first.Run.ID {
			t.Fatalf("node %s: latest %s after %v, want %s after %s", name, l.Run.ID, l.Previous, second.Run.ID, first.Run.ID)
		}
		type status struct {
			Check  string
			Port   uint16
			Status string
		}
		var got []status
		for _, f := range l.Findings {
			got = append(got, status{f.Check, f.Port, f.Status})
		}
		for _, f := range l.Fixed {
			got = append(got, status{f.Check, f.Port, "fixed"})
		}
		want := []status{
			{"header.x-content-type-options", web, "new"},
			{"port.open", web, "still open"},
			{"port.open", ssh, "still open"},
			{"service.banner", ssh, "still open"},
			{"cve.CVE-2024-6387", ssh, "fixed"},
		}
		// The order depends on the fixtures' ports; the statuses do not.
		byPort := cmpopts.SortSlices(func(x, y status) bool {
			return x.Port < y.Port || x.Port == y.Port && x.Check < y.Check
		})
		if diff := cmp.Diff(want, got, byPort); diff != "" {
			t.Errorf("node %s: comparison with node a's scan (-want +got):\n%s", name, diff)
		}
	}
	audit, err := a.store.Audit(t.Context(), AuditFilter{MemberID: member})
	if err != nil {
		t.Fatal(err)
	}
	runs := map[string]int{}
	for _, e := range audit {
		runs[e.RunID]++
	}
	if runs[first.Run.ID] == 0 || runs[second.Run.ID] == 0 {
		t.Errorf("node a's audit log has probes of runs %v, want both nodes' runs", runs)
	}
}

// TestNodesKill: a kill thrown through node B stops the scan node A is
// running, at A's next poll of the shared kill switch, and no node starts
// another until it is released.
func TestNodesKill(t *testing.T) {
	port := startSilent(t)
	slow := func(o *Options) { o.Greeting, o.Timeout = 20*time.Second, 20*time.Second }
	a, b := twoNodes(t, []uint16{port}, slow)
	a.addDomain(t, member, "www.member.test")
	done := make(chan Result, 1)
	go func() {
		res, _ := a.scan.Run(t.Context(), member, "alice")
		done <- res
	}()
	waitFor(t, func() bool { return a.dials.Load() >= 2 }) // connect, then the greeting wait
	start := time.Now()
	if err := b.scan.Kill(t.Context(), "carol", "member complained"); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-done:
		if res.Run.Status != StatusKilled {
			t.Errorf("node a's scan ended %q, want %q", res.Run.Status, StatusKilled)
		}
		// KillPoll is 50ms in these tests; the rest is slack for a loaded
		// machine.
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("node a stopped %s after the kill", d)
		}
		audit, err := b.store.Audit(t.Context(), AuditFilter{RunID: res.Run.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(audit) == 0 {
			t.Error("node b does not see node a's probes")
		}
		for _, e := range audit {
			if e.Result == "" {
				t.Errorf("probe stopped by the kill without a result: %+v", e)
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("node a's scan did not stop after the kill through node b")
	}
	if _, err := a.scan.Run(t.Context(), member, "alice"); !errors.Is(err, ErrKilled) {
		t.Errorf("node a scanned while the switch was thrown through node b: %v", err)
	}
	if err := b.scan.Resume(t.Context(), "carol"); err != nil {
		t.Fatal(err)
	}
	if err := a.scan.killed(t.Context()); err != nil {
		t.Errorf("node a after the release through node b: %v", err)
	}
}
