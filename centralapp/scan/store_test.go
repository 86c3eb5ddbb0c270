package scan

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The store conformance suite: every test runs on SQLite and on
// PostgreSQL with the same code. Times are whole microseconds, the
// precision both keep.

var t0 = time.Date(2026, 11, 2, 9, 30, 0, 123456000, time.UTC)

func TestStoreTargets(t *testing.T) {
	forEachStore(t, func(t *testing.T, st Store) {
		ctx := t.Context()
		a := Target{ID: "01T2", MemberID: "acme", Kind: TargetDomain, Value: "www.acme.example", Token: "tok-a", Created: t0}
		b := Target{ID: "01T1", MemberID: "acme", Kind: TargetRange, Value: "192.0.2.0/28", Token: "tok-b", Created: t0}
		c := Target{ID: "01T0", MemberID: "bolt", Kind: TargetDomain, Value: "bolt.example", Token: "tok-c", Created: t0.Add(time.Hour)}
		for _, tg := range []Target{a, b, c} {
			if err := st.AddTarget(ctx, tg); err != nil {
				t.Fatal(err)
			}
		}
		dup := a
		dup.ID = "01T9"
		if err := st.AddTarget(ctx, dup); !errors.Is(err, ErrExists) {
			t.Errorf("a member's second target with one value: %v, want ErrExists", err)
		}
		if err := st.AddTarget(ctx, a); !errors.Is(err, ErrExists) {
			t.Errorf("a target id twice: %v, want ErrExists", err)
		}
		got, err := st.Target(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(a, got); diff != "" {
			t.Errorf("target (-stored +read):\n%s", diff)
		}
		if _, err := st.Target(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing target: %v, want ErrNotFound", err)
		}
		all, err := st.Targets(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]Target{b, a, c}, all); diff != "" {
			t.Errorf("all targets, by member then id (-want +got):\n%s", diff)
		}
		bolts, err := st.Targets(ctx, "bolt")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]Target{c}, bolts); diff != "" {
			t.Errorf("a member's targets (-want +got):\n%s", diff)
		}
		if none, err := st.Targets(ctx, "nobody"); err != nil || len(none) != 0 {
			t.Errorf("targets of a member without any: %v, %v", none, err)
		}
	})
}

func TestStoreProofsAndApprovals(t *testing.T) {
	forEachStore(t, func(t *testing.T, st Store) {
		ctx := t.Context()
		dom := Target{ID: "01D", MemberID: "acme", Kind: TargetDomain, Value: "www.acme.example", Token: "tok", Created: t0}
		rng := Target{ID: "01R", MemberID: "acme", Kind: TargetRange, Value: "192.0.2.0/28", Token: "tok2", Created: t0}
		for _, tg := range []Target{dom, rng} {
			if err := st.AddTarget(ctx, tg); err != nil {
				t.Fatal(err)
			}
		}
		failed := Proof{TargetID: dom.ID, Method: "dns-txt", By: "alice", Checked: t0.Add(time.Minute), Detail: "no TXT record"}
		ok := Proof{TargetID: dom.ID, Method: "well-known", By: "schedule", Checked: t0.Add(2 * time.Minute), OK: true,
			Detail: "token served", Expires: t0.Add(30 * 24 * time.Hour)}
		if err := st.AddProof(ctx, failed); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.Target(ctx, dom.ID); got.ProvenBy != "" || !got.Proven.IsZero() {
			t.Errorf("a failed check proved the target: %+v", got)
		}
		if err := st.AddProof(ctx, ok); err != nil {
			t.Fatal(err)
		}
		want := dom
		want.ProvenBy, want.Proven, want.Expires = "well-known", ok.Checked, ok.Expires
		if got, _ := st.Target(ctx, dom.ID); !cmp.Equal(want, got) {
			t.Errorf("proven target (-want +got):\n%s", cmp.Diff(want, got))
		}
		proofs, err := st.Proofs(ctx, dom.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]Proof{failed, ok}, proofs); diff != "" {
			t.Errorf("proofs, oldest first (-want +got):\n%s", diff)
		}
		if err := st.AddProof(ctx, Proof{TargetID: "nope", Method: "dns-txt", Checked: t0}); !errors.Is(err, ErrNotFound) {
			t.Errorf("proof of a missing target: %v, want ErrNotFound", err)
		}

		appr := Approval{TargetID: rng.ID, By: "bob", At: t0.Add(time.Hour), Expires: t0.Add(365 * 24 * time.Hour), Note: "ticket 42"}
		if err := st.Approve(ctx, appr); err != nil {
			t.Fatal(err)
		}
		want = rng
		want.ProvenBy, want.Proven, want.Expires = "approved:bob", appr.At, appr.Expires
		if got, _ := st.Target(ctx, rng.ID); !cmp.Equal(want, got) {
			t.Errorf("approved range (-want +got):\n%s", cmp.Diff(want, got))
		}
		for _, id := range []string{dom.ID, "nope"} {
			if err := st.Approve(ctx, Approval{TargetID: id, By: "bob", At: t0}); !errors.Is(err, ErrNotFound) {
				t.Errorf("approval of %s, not a range target: %v, want ErrNotFound", id, err)
			}
		}
	})
}

// findingsFor are the findings of a run as the scanner makes them.
func findingsFor(port uint16) []Finding {
	a := netip.MustParseAddr("192.0.2.7")
	fs := []Finding{
		{Check: "port.open", Kind: KindPort, Host: "www.acme.example", Addr: a, Port: port, Service: "http", Title: "Open port", Evidence: "connected"},
		{Check: "cve.CVE-2021-41773", Kind: KindCVE, Host: "www.acme.example", Addr: a, Port: port, Service: "http",
			Title: "Apache 2.4.49: path traversal", Severity: High, Evidence: "Server: Apache/2.4.49 (Unix)", Advice: "Upgrade.",
			CVE: "CVE-2021-41773", CVSS: 7.5, CVSSVersion: "3.1", KEV: true, Software: "Apache", Version: "2.4.49", Description: "Path traversal — \"quoted\" <b>"},
	}
	SortFindings(fs)
	return fs
}

func TestStoreRuns(t *testing.T) {
	forEachStore(t, func(t *testing.T, st Store) {
		ctx := t.Context()
		first := Run{ID: "01A", MemberID: "acme", By: "schedule", Started: t0, Status: StatusRunning}
		if err := st.StartRun(ctx, first); err != nil {
			t.Fatal(err)
		}
		if err := st.StartRun(ctx, first); !errors.Is(err, ErrExists) {
			t.Errorf("a run started twice: %v, want ErrExists", err)
		}
		if got, err := st.Run(ctx, first.ID); err != nil || !cmp.Equal(first, got) {
			t.Errorf("running run: %v (-want +got):\n%s", err, cmp.Diff(first, got))
		}
		first.Finished, first.Status, first.Probes = t0.Add(90*time.Second), StatusPartial, 212
		first.Notes = []string{"domain www.acme.example refused: not proven", "range 192.0.2.0/28 refused: no approval"}
		if err := st.FinishRun(ctx, first, findingsFor(80)); err != nil {
			t.Fatal(err)
		}
		// Finishing again replaces the findings: a retried write does not
		// double them.
		if err := st.FinishRun(ctx, first, findingsFor(8080)); err != nil {
			t.Fatal(err)
		}
		second := Run{ID: "01B", MemberID: "acme", By: "alice", Started: t0.Add(24 * time.Hour), Status: StatusRunning}
		other := Run{ID: "01C", MemberID: "bolt", By: "schedule", Started: t0.Add(48 * time.Hour), Status: StatusRunning}
		for _, r := range []Run{second, other} {
			if err := st.StartRun(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		second.Finished, second.Status = t0.Add(25*time.Hour), StatusDone
		if err := st.FinishRun(ctx, second, nil); err != nil {
			t.Fatal(err)
		}
		if err := st.FinishRun(ctx, Run{ID: "nope", Status: StatusDone}, nil); !errors.Is(err, ErrNotFound) {
			t.Errorf("finishing a missing run: %v, want ErrNotFound", err)
		}
		if _, err := st.Run(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing run: %v, want ErrNotFound", err)
		}
		runs, err := st.Runs(ctx, "acme", 0)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]Run{second, first}, runs); diff != "" {
			t.Errorf("runs, newest first (-want +got):\n%s", diff)
		}
		if runs, _ := st.Runs(ctx, "acme", 1); len(runs) != 1 || runs[0].ID != second.ID {
			t.Errorf("runs limited to 1: %+v", runs)
		}
		fs, err := st.Findings(ctx, first.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(findingsFor(8080), fs, cmpAddr); diff != "" {
			t.Errorf("findings as stored (-want +got):\n%s", diff)
		}
		if fs, err := st.Findings(ctx, second.ID); err != nil || len(fs) != 0 {
			t.Errorf("a run without findings: %v, %v", fs, err)
		}
	})
}

func TestStoreAudit(t *testing.T) {
	forEachStore(t, func(t *testing.T, st Store) {
		ctx := t.Context()
		e1 := AuditEntry{RunID: "01A", MemberID: "acme", By: "schedule", Probe: "tcp-connect", Host: "www.acme.example",
			Addr: netip.MustParseAddr("2001:db8::7"), Port: 443, Detail: "", Started: t0}
		e2 := AuditEntry{RunID: "", MemberID: "acme", By: "alice", Probe: "verify-dns", Host: "_cyberalarm.www.acme.example",
			Started: t0.Add(time.Second), Finished: t0.Add(2 * time.Second), Result: "no TXT record"}
		e3 := AuditEntry{RunID: "01B", MemberID: "bolt", By: "schedule", Probe: "http", Host: "bolt.example",
			Addr: netip.MustParseAddr("192.0.2.9"), Port: 65535, Detail: "GET /.git/HEAD", Started: t0.Add(3 * time.Second)}
		var ids []int64
		for _, e := range []AuditEntry{e1, e2, e3} {
			id, err := st.AuditStart(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		e1.ID, e2.ID, e3.ID = ids[0], ids[1], ids[2]
		// A probe cut short by the kill switch is still logged.
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		e1.Finished, e1.Result = t0.Add(5*time.Second), "stopped: scanning stopped by the kill switch"
		if err := st.AuditFinish(cancelled, e1.ID, e1.Finished, e1.Result); err != nil {
			t.Fatal(err)
		}
		all, err := st.Audit(ctx, AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]AuditEntry{e3, e2, e1}, all, cmpAddr); diff != "" {
			t.Errorf("audit, newest first (-want +got):\n%s", diff)
		}
		for _, tc := range []struct {
			f    AuditFilter
			want []AuditEntry
		}{
			{AuditFilter{MemberID: "acme"}, []AuditEntry{e2, e1}},
			{AuditFilter{RunID: "01A"}, []AuditEntry{e1}},
			{AuditFilter{MemberID: "bolt", RunID: "01A"}, nil},
			{AuditFilter{Limit: 1}, []AuditEntry{e3}},
		} {
			got, err := st.Audit(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpAddr); diff != "" {
				t.Errorf("audit %+v (-want +got):\n%s", tc.f, diff)
			}
		}
	})
}

// TestStoreAuditConcurrent writes the audit log from many probes at once,
// as a scan does: every entry lands, each with its own id.
func TestStoreAuditConcurrent(t *testing.T) {
	forEachStore(t, func(t *testing.T, st Store) {
		const writers, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					e := AuditEntry{RunID: "01A", MemberID: "acme", Probe: "tcp-connect", Host: fmt.Sprintf("h%d", w), Port: uint16(i + 1), Started: t0}
					id, err := st.AuditStart(t.Context(), e)
					if err == nil {
						err = st.AuditFinish(t.Context(), id, t0.Add(time.Second), "closed")
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		all, err := st.Audit(t.Context(), AuditFilter{RunID: "01A"})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int64]bool{}
		for _, e := range all {
			if seen[e.ID] || e.Result != "closed" {
				t.Fatalf("entry %+v: id seen before, or no result", e)
			}
			seen[e.ID] = true
		}
		if len(all) != writers*each {
			t.Errorf("%d entries, want %d", len(all), writers*each)
		}
	})
}

func TestStoreSchedulesAndKill(t *testing.T) {
	forEachStore(t, func(t *testing.T, st Store) {
		ctx := t.Context()
		b := Schedule{MemberID: "bolt", Every: 24 * time.Hour, Next: t0, By: "alice", Updated: t0}
		a := Schedule{MemberID: "acme", Every: 7 * 24 * time.Hour, Next: t0.Add(time.Hour), By: "bob", Updated: t0}
		for _, sc := range []Schedule{b, a} {
			if err := st.SetSchedule(ctx, sc); err != nil {
				t.Fatal(err)
			}
		}
		b.Next, b.Updated, b.Every = t0.Add(24*time.Hour), t0.Add(time.Minute), 36*time.Hour+time.Nanosecond
		if err := st.SetSchedule(ctx, b); err != nil {
			t.Fatal(err)
		}
		got, err := st.Schedules(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]Schedule{a, b}, got); diff != "" {
			t.Errorf("schedules by member, replaced in place (-want +got):\n%s", diff)
		}
		if err := st.DeleteSchedule(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteSchedule(ctx, "acme"); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleting a missing schedule: %v, want ErrNotFound", err)
		}
		if got, _ := st.Schedules(ctx); len(got) != 1 || got[0].MemberID != "bolt" {
			t.Errorf("after delete: %+v", got)
		}

		if k, err := st.Kill(ctx); err != nil || k != (KillState{}) {
			t.Errorf("kill switch never set: %+v, %v", k, err)
		}
		on := KillState{On: true, By: "carol", At: t0, Why: "member complained"}
		if err := st.SetKill(ctx, on); err != nil {
			t.Fatal(err)
		}
		if k, err := st.Kill(ctx); err != nil || k != on {
			t.Errorf("kill switch on: %+v, %v", k, err)
		}
		off := KillState{By: "dave", At: t0.Add(time.Hour)}
		if err := st.SetKill(ctx, off); err != nil {
			t.Fatal(err)
		}
		if k, err := st.Kill(ctx); err != nil || k != off {
			t.Errorf("kill switch off: %+v, %v", k, err)
		}
	})
}

// TestStoreRetainAudit deletes the probes started before the cut, in
// chunks, keeping those at or after it and those without a start time.
func TestStoreRetainAudit(t *testing.T) {
	forEachStore(t, func(t *testing.T, st Store) {
		ctx := t.Context()
		var kept []AuditEntry
		for i := range 12 {
			e := AuditEntry{RunID: "01A", MemberID: "acme", By: "schedule", Probe: "tcp-connect", Host: "www.acme.example",
				Started: t0.Add(time.Duration(i) * time.Hour)}
			if i == 11 {
				e.Started = time.Time{}
			}
			id, err := st.AuditStart(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			if e.ID = id; i >= 7 {
				kept = append([]AuditEntry{e}, kept...)
			}
		}
		// Chunks of three, so that the deletion loops and ends on a
		// short chunk; then nothing is left to delete.
		r := st.(interface {
			retainAudit(context.Context, time.Time, int64) (int64, error)
		})
		for _, want := range []int64{7, 0} {
			n, err := r.retainAudit(ctx, t0.Add(7*time.Hour), 3)
			if err != nil || n != want {
				t.Fatalf("retain: %d deleted, %v; want %d", n, err, want)
			}
		}
		all, err := st.Audit(ctx, AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(kept, all, cmpAddr); diff != "" {
			t.Errorf("audit after retention (-want +got):\n%s", diff)
		}
		if n, err := st.RetainAudit(ctx, t0.Add(9*time.Hour)); err != nil || n != 2 {
			t.Errorf("RetainAudit: %d deleted, %v; want 2", n, err)
		}
	})
}
