package scan

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
)

// A target outside the member's proven scope is refused, and nothing is
// dialled.
func TestOutOfScopeRefusedWithoutDial(t *testing.T) {
	port := startBanner(t, "SSH-2.0-OpenSSH_8.5p1\r\n")
	e := newEnv(t, []uint16{port}, nil)

	// Another member's target, proven.
	other := e.addDomain(t, "riverside-surgery", "www.member.test")
	if _, err := e.scan.RunTarget(t.Context(), member, other.ID, "alice"); !errors.Is(err, ErrOutOfScope) {
		t.Errorf("another member's target: err %v, want ErrOutOfScope", err)
	}

	// The member's own domain without its TXT record, and an unapproved
	// range.
	unproven := Target{ID: ulid.Make().String(), MemberID: member, Kind: TargetDomain, Value: "shop.member.test", Token: NewToken()}
	rng := Target{ID: ulid.Make().String(), MemberID: member, Kind: TargetRange, Value: "127.0.0.1/32", Token: NewToken()}
	for _, tg := range []Target{unproven, rng} {
		if err := e.store.AddTarget(t.Context(), tg); err != nil {
			t.Fatal(err)
		}
	}
	e.res.addrs["shop.member.test"] = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	res, err := e.scan.Run(t.Context(), member, "alice")
	if !errors.Is(err, ErrNotProven) || res.Run.Status != StatusRefused {
		t.Errorf("unproven targets: err %v, status %q", err, res.Run.Status)
	}
	if len(res.Run.Notes) != 2 || !strings.Contains(res.Run.Notes[0], "no TXT record") || !strings.Contains(res.Run.Notes[1], "no analyst has approved it") {
		t.Errorf("notes %q", res.Run.Notes)
	}
	if n := e.dials.Load(); n != 0 {
		t.Errorf("%d dials for targets out of scope", n)
	}

	// The guard refuses an address outside its scope, audits the refusal
	// and does not dial.
	g := &guard{s: e.scan, run: "r", member: member, by: "alice", scope: map[netip.Addr]string{netip.MustParseAddr("127.0.0.1"): "www.member.test"}}
	if _, err := g.dial(t.Context(), "tcp-connect", "", netip.MustParseAddr("127.0.0.2"), port); !errors.Is(err, ErrOutOfScope) {
		t.Errorf("guard: err %v", err)
	}
	if n := e.dials.Load(); n != 0 {
		t.Errorf("guard dialled %d times out of scope", n)
	}
	audit, _ := e.store.Audit(t.Context(), AuditFilter{RunID: "r"})
	if len(audit) != 1 || audit[0].Result != "refused: out of scope" {
		t.Errorf("refusal audit %+v", audit)
	}
}

// Public-only by default: a proven domain that resolves to a private or
// loopback address is not scanned.
func TestNonPublicAddressesRefused(t *testing.T) {
	e := newEnv(t, []uint16{1}, func(o *Options) { o.AllowNonPublic = false })
	e.addDomain(t, member, "www.member.test")
	for _, a := range []string{"127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.1.1", "100.64.0.1", "::1", "fe80::1", "fd00::1"} {
		e.res.addrs["www.member.test"] = []netip.Addr{netip.MustParseAddr(a)}
		_, err := e.scan.Run(t.Context(), member, "alice")
		if !errors.Is(err, ErrNotProven) {
			t.Errorf("%s: err %v", a, err)
		}
	}
	if n := e.dials.Load(); n != 0 {
		t.Errorf("%d dials", n)
	}
}

func TestRangeApproval(t *testing.T) {
	port := startBanner(t, "SSH-2.0-OpenSSH_9.9\r\n")
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	clock := now
	e := newEnv(t, []uint16{port}, func(o *Options) { o.Now = func() time.Time { return clock } })
	value, err := ParseTarget(TargetRange, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	tg := Target{ID: ulid.Make().String(), MemberID: member, Kind: TargetRange, Value: value, Token: NewToken(), Created: now}
	if err := e.store.AddTarget(t.Context(), tg); err != nil {
		t.Fatal(err)
	}
	if err := e.scan.Approve(t.Context(), tg.ID, "carol", "member's letter of 2 Nov"); err != nil {
		t.Fatal(err)
	}
	res, err := e.scan.Run(t.Context(), member, "schedule")
	if err != nil || len(res.Findings) != 2 {
		t.Fatalf("approved range: err %v, findings %+v", err, res.Findings)
	}
	got, _ := e.store.Target(t.Context(), tg.ID)
	if got.ProvenBy != "approved:carol" || !got.Proven.Equal(now) {
		t.Errorf("approval not recorded: %+v", got)
	}
	// A year on, the approval has lapsed.
	clock = now.Add(366 * 24 * time.Hour)
	dials := e.dials.Load()
	if _, err := e.scan.Run(t.Context(), member, "schedule"); !errors.Is(err, ErrNotProven) {
		t.Errorf("lapsed approval: err %v", err)
	}
	if e.dials.Load() != dials {
		t.Error("a lapsed range was dialled")
	}
	for _, bad := range []string{"10.0.0.0/16", "2001:db8::/64", "nonsense"} {
		if _, err := ParseTarget(TargetRange, bad); err == nil {
			t.Errorf("range %q accepted", bad)
		}
	}
}

func TestVerifyDomain(t *testing.T) {
	token := ""
	port := startHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == WellKnownPath {
			fmt.Fprintln(w, token)
			return
		}
		http.NotFound(w, r)
	}), nil)
	clock := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	e := newEnv(t, nil, func(o *Options) {
		o.WellKnown = []Endpoint{{"http", port}}
		o.Now = func() time.Time { return clock }
	})
	tg := Target{ID: ulid.Make().String(), MemberID: member, Kind: TargetDomain, Value: "www.member.test", Token: NewToken()}
	if err := e.store.AddTarget(t.Context(), tg); err != nil {
		t.Fatal(err)
	}
	p, err := e.scan.Verify(t.Context(), tg.ID, "alice")
	if err != nil || p.OK {
		t.Fatalf("no proof published: %+v, %v", p, err)
	}
	token = tg.Token
	if p, err = e.scan.Verify(t.Context(), tg.ID, "alice"); err != nil || !p.OK || p.Method != "well-known" {
		t.Fatalf("web token: %+v, %v", p, err)
	}
	if !p.Expires.Equal(clock.Add(30 * 24 * time.Hour)) {
		t.Errorf("expires %s", p.Expires)
	}
	token = "someone-else"
	e.res.setTXT("www.member.test", TXTRecord(tg.Token))
	if p, err = e.scan.Verify(t.Context(), tg.ID, "alice"); err != nil || !p.OK || p.Method != "dns-txt" {
		t.Fatalf("TXT at the domain: %+v, %v", p, err)
	}
	proofs, _ := e.store.Proofs(t.Context(), tg.ID)
	if len(proofs) != 3 || proofs[0].OK || !proofs[1].OK {
		t.Errorf("proof history %+v", proofs)
	}
	audit, _ := e.store.Audit(t.Context(), AuditFilter{MemberID: member})
	if len(audit) != 2 || audit[0].Detail != "GET "+WellKnownPath {
		t.Errorf("verification fetches not audited: %+v", audit)
	}
}
