package service

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/goleak"

	"github.com/cyberalarm/cyberalarm/centralapp/config"
	"github.com/cyberalarm/cyberalarm/centralapp/scan"
	"github.com/cyberalarm/cyberalarm/centralapp/store/postgres/pgtest"
)

// serveOn serves h on addr (a loopback address, any port) until the test
// ends, and returns the port.
func serveOn(t *testing.T, addr string, h http.Handler) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// silentOn accepts connections on addr and never speaks: a scan of it
// waits.
func silentOn(t *testing.T, addr string) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	})
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// TestScansAcrossNodes runs two central nodes on one PostgreSQL database,
// each with its own data folder: node A holds the lease and makes a
// member's scheduled scan; a kill thrown through node B stops a scan
// running on node A; then the lease moves to node B, whose next scheduled
// scan reports what was fixed, new and still open against node A's.
func TestScansAcrossNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node cluster")
	}
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) })
	st := postgresStore(t)
	if st == "" {
		t.Skip(pgtest.ErrNotInstalled)
	}
	ctx := t.Context()

	// The member's web server: between the scans it stops announcing its
	// software and drops a security header.
	var changed atomic.Bool
	web := serveOn(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if !changed.Load() {
			h.Set("Server", "Apache/2.4.49 (Unix)")
			h.Set("X-Content-Type-Options", "nosniff")
		}
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "<!doctype html><title>Shop</title>")
	}))
	// Another member's service that keeps a scan waiting.
	silent := silentOn(t, "127.0.0.2:0")
	yaml := fmt.Sprintf("data_dir: state\n%sscan:\n  enabled: true\n  allow_non_public: true\n  ports: [%d, %d]\n  timeout: 30s\n",
		st, web, silent)

	// The targets and the schedule, as `scan target add`, `scan approve`
	// and `scan schedule` make them, before any node runs.
	dirA, dirB := t.TempDir(), t.TempDir()
	cfg, err := config.Parse(filepath.Join(dirA, "central.yaml"), []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := scan.OpenStore(ctx, cfg.Scan, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	now := time.Now().UTC()
	for member, prefix := range map[string]string{"acme": "127.0.0.1/32", "bolt": "127.0.0.2/32"} {
		tg := scan.Target{ID: member + "-range", MemberID: member, Kind: scan.TargetRange, Value: prefix, Token: scan.NewToken(), Created: now}
		if err := ss.AddTarget(ctx, tg); err != nil {
			t.Fatal(err)
		}
		if err := ss.Approve(ctx, scan.Approval{TargetID: tg.ID, By: "alice", At: now, Expires: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	due := func() {
		t.Helper()
		if err := ss.SetSchedule(ctx, scan.Schedule{MemberID: "acme", Every: time.Hour, Next: time.Now(), By: "alice", Updated: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	finished := func() []scan.Run {
		t.Helper()
		runs, err := ss.Runs(ctx, "acme", 10)
		if err != nil {
			t.Fatal(err)
		}
		var out []scan.Run
		for _, r := range runs {
			if !r.Finished.IsZero() {
				out = append(out, r)
			}
		}
		return out
	}
	due()

	a := startNode(t, dirA, yaml)
	waitUntil(t, 30*time.Second, "node a's scheduled scan", func() bool { return len(finished()) == 1 })
	if !a.svc.Leading() {
		t.Fatal("a scheduled scan ran on a node without the lease")
	}
	b := startNode(t, dirB, yaml)

	// A scan by hand on node A, killed through node B.
	done := make(chan scan.Result, 1)
	go func() {
		res, _ := a.svc.scanner.Run(ctx, "bolt", "alice")
		done <- res
	}()
	waitUntil(t, 10*time.Second, "node a probing bolt", func() bool {
		es, err := ss.Audit(ctx, scan.AuditFilter{MemberID: "bolt"})
		return err == nil && len(es) > 0
	})
	if err := b.svc.scanner.Kill(ctx, "carol", "member complained"); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-done:
		if res.Run.Status != scan.StatusKilled {
			t.Errorf("node a's scan ended %q, want %q", res.Run.Status, scan.StatusKilled)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("node a's scan did not stop after the kill through node b")
	}
	if err := b.svc.scanner.Resume(ctx, "carol"); err != nil {
		t.Fatal(err)
	}

	// The lease moves: node B's scheduled scan compares with node A's.
	changed.Store(true)
	due()
	a.stop()
	waitUntil(t, 30*time.Second, "node b's scheduled scan", func() bool { return len(finished()) == 2 })
	if !b.svc.Leading() {
		t.Fatal("node b scanned without the lease")
	}
	l, err := scan.LatestScan(ctx, b.svc.Scans, "acme")
	if err != nil {
		t.Fatal(err)
	}
	type status struct{ Check, Status string }
	var got []status
	for _, f := range l.Findings {
		got = append(got, status{f.Check, f.Status})
	}
	for _, f := range l.Fixed {
		got = append(got, status{f.Check, "fixed"})
	}
	want := []status{
		{"header.x-content-type-options", "new"},
		{"port.open", "still open"},
		{"service.server", "fixed"},
	}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(x, y status) bool { return x.Check < y.Check })); diff != "" {
		t.Errorf("node b's scan against node a's (-want +got):\n%s", diff)
	}
}

// TestRetainScanAudit: the hourly retention of the node that holds the
// lease deletes the scan audit log's probes older than
// scan.audit_retention_days, and keeps the rest.
func TestRetainScanAudit(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse(filepath.Join(dir, "central.yaml"),
		[]byte("data_dir: state\nscan:\n  enabled: true\n  audit_retention_days: 30\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := openWith(t.Context(), cfg, quiet, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC()
	var want []scan.AuditEntry
	for _, age := range []time.Duration{45 * 24 * time.Hour, 31 * 24 * time.Hour, 29 * 24 * time.Hour, time.Hour} {
		e := scan.AuditEntry{RunID: "01A", MemberID: "acme", By: "schedule", Probe: "tcp-connect", Host: "www.acme.example",
			Started: now.Add(-age).Truncate(time.Microsecond)}
		if e.ID, err = s.scanner.Store.AuditStart(t.Context(), e); err != nil {
			t.Fatal(err)
		}
		if age < 30*24*time.Hour {
			want = append([]scan.AuditEntry{e}, want...)
		}
	}
	if err := s.retain(t.Context(), now); err != nil {
		t.Fatal(err)
	}
	got, err := s.scanner.Store.Audit(t.Context(), scan.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("audit after retention (-want +got):\n%s", diff)
	}
}
