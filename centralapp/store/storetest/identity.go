package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

func testMembers(t *testing.T, h *harness) {
	s := h.open(t)
	ctx := t.Context()
	b := addMember(t, s, "zeta")
	a := addMember(t, s, "alpha")
	wantErr(t, "add twice", s.AddMember(ctx, a), store.ErrExists)
	wantErr(t, "bad id", s.AddMember(ctx, store.Member{ID: "Not A Slug", Name: "x", Created: base}), store.ErrInvalid)

	got, err := s.Member(ctx, "alpha")
	must(t, err)
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("member (-want +got):\n%s", diff)
	}
	_, err = s.Member(ctx, "nobody")
	wantErr(t, "missing member", err, store.ErrNotFound)

	all, err := s.Members(ctx)
	must(t, err)
	if diff := cmp.Diff([]store.Member{a, b}, all); diff != "" {
		t.Errorf("members, by id (-want +got):\n%s", diff)
	}
}

func testEnrolTokens(t *testing.T, h *harness) {
	s := h.open(t)
	ctx := t.Context()
	addMember(t, s, "acme")
	addMember(t, s, "globex")
	hash := store.HashToken("secret")
	tok := store.EnrolToken{Hash: hash, MemberID: "acme", Created: base, Expires: at(time.Hour)}
	wantErr(t, "token for unknown member",
		s.AddEnrolToken(ctx, store.EnrolToken{Hash: store.HashToken("x"), MemberID: "nobody", Created: base, Expires: at(time.Hour)}),
		store.ErrNotFound)
	must(t, s.AddEnrolToken(ctx, tok))
	wantErr(t, "same hash twice", s.AddEnrolToken(ctx, tok), store.ErrExists)

	got, err := s.EnrolToken(ctx, hash)
	must(t, err)
	if diff := cmp.Diff(tok, got); diff != "" {
		t.Errorf("token (-want +got):\n%s", diff)
	}
	_, err = s.EnrolToken(ctx, store.HashToken("other"))
	wantErr(t, "unknown token", err, store.ErrNotFound)

	c := store.Collector{ID: "01JCOLLECTOR", MemberID: "acme", CertSerial: "ab12", CertNotAfter: at(48 * time.Hour), Created: at(time.Minute)}
	// A collector for another member than the token's is refused, and the
	// token stays usable.
	wrong := c
	wrong.MemberID = "globex"
	wantErr(t, "member mismatch", s.UseEnrolToken(ctx, hash, at(time.Minute), wrong), store.ErrInvalid)
	wantErr(t, "expired token", s.UseEnrolToken(ctx, hash, at(time.Hour), c), store.ErrTokenExpired)
	wantErr(t, "unknown token", s.UseEnrolToken(ctx, store.HashToken("other"), at(time.Minute), c), store.ErrNotFound)
	if _, err := s.Collector(ctx, c.ID); !isNotFound(err) {
		t.Fatalf("collector exists after refused enrolments: %v", err)
	}

	must(t, s.UseEnrolToken(ctx, hash, at(time.Minute), c))
	wantErr(t, "second use", s.UseEnrolToken(ctx, hash, at(2*time.Minute), store.Collector{ID: "01JOTHER", MemberID: "acme",
		CertSerial: "cd", CertNotAfter: at(time.Hour), Created: at(time.Minute)}), store.ErrTokenUsed)
	got, err = s.EnrolToken(ctx, hash)
	must(t, err)
	if !got.Used.Equal(at(time.Minute)) {
		t.Errorf("used = %v, want %v", got.Used, at(time.Minute))
	}
	gotC, err := s.Collector(ctx, c.ID)
	must(t, err)
	if diff := cmp.Diff(c, gotC); diff != "" {
		t.Errorf("enrolled collector (-want +got):\n%s", diff)
	}
	if _, err := s.Collector(ctx, "01JOTHER"); !isNotFound(err) {
		t.Errorf("collector of a used token was added: %v", err)
	}

	// A collector id is unique: a second token cannot reuse it.
	hash2 := store.HashToken("secret2")
	must(t, s.AddEnrolToken(ctx, store.EnrolToken{Hash: hash2, MemberID: "acme", Created: base, Expires: at(time.Hour)}))
	wantErr(t, "collector id taken", s.UseEnrolToken(ctx, hash2, at(time.Minute), c), store.ErrExists)
	got, err = s.EnrolToken(ctx, hash2)
	must(t, err)
	if !got.Used.IsZero() {
		t.Errorf("token used by a failed enrolment")
	}
}

func isNotFound(err error) bool { return err != nil && errors.Is(err, store.ErrNotFound) }

func testEnrolTokenRace(t *testing.T, h *harness) {
	s := h.open(t)
	addMember(t, s, "acme")
	hash := store.HashToken("raced")
	must(t, s.AddEnrolToken(t.Context(), store.EnrolToken{Hash: hash, MemberID: "acme", Created: base, Expires: at(time.Hour)}))
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.UseEnrolToken(t.Context(), hash, at(time.Minute), store.Collector{ID: batchID(i), MemberID: "acme",
				CertSerial: "01", CertNotAfter: at(time.Hour), Created: at(time.Minute)})
		})
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrTokenUsed):
			t.Errorf("use %d: %v, want ErrTokenUsed", i, err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent uses of one token succeeded, want 1", ok, n)
	}
	cs, err := s.Collectors(t.Context(), "acme")
	must(t, err)
	if len(cs) != 1 {
		t.Fatalf("%d collectors enrolled with one token, want 1", len(cs))
	}
}

func testCollectors(t *testing.T, h *harness) {
	s := h.setup(t)
	ctx := t.Context()
	c2 := enrol(t, s, "acme", "c-acme-2")

	cs, err := s.Collectors(ctx, "acme")
	must(t, err)
	if len(cs) != 2 || cs[0].ID != "c-acme" || cs[1].ID != c2.ID {
		t.Fatalf("acme's collectors = %+v, want c-acme, c-acme-2", cs)
	}
	all, err := s.Collectors(ctx, "")
	must(t, err)
	if len(all) != 3 {
		t.Fatalf("%d collectors in all, want 3", len(all))
	}
	none, err := s.Collectors(ctx, "nobody")
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("collectors of an unknown member: %+v", none)
	}

	must(t, s.RenewCollector(ctx, c2.ID, "ff01", at(200*24*time.Hour)))
	got, err := s.Collector(ctx, c2.ID)
	must(t, err)
	if got.CertSerial != "ff01" || !got.CertNotAfter.Equal(at(200*24*time.Hour)) {
		t.Errorf("after renewal: serial %q not after %v", got.CertSerial, got.CertNotAfter)
	}
	wantErr(t, "renew unknown", s.RenewCollector(ctx, "nobody", "01", at(time.Hour)), store.ErrNotFound)

	must(t, s.RevokeCollector(ctx, c2.ID, at(time.Hour)))
	must(t, s.RevokeCollector(ctx, c2.ID, at(2*time.Hour)))
	got, err = s.Collector(ctx, c2.ID)
	must(t, err)
	if !got.Revoked.Equal(at(time.Hour)) {
		t.Errorf("revoked = %v, want the first revocation %v", got.Revoked, at(time.Hour))
	}
	wantErr(t, "renew revoked", s.RenewCollector(ctx, c2.ID, "02", at(time.Hour)), store.ErrRevoked)
	wantErr(t, "revoke unknown", s.RevokeCollector(ctx, "nobody", at(time.Hour)), store.ErrNotFound)
	_, err = s.IngestBatch(ctx, &store.Batch{ID: batchID(1), CollectorID: c2.ID, MemberID: "acme", Seq: 1, Created: base, Received: at(3 * time.Hour)})
	wantErr(t, "ingest from a revoked collector", err, store.ErrRevoked)
	if c := counts(t, s, ""); c.Batches != 0 {
		t.Errorf("revoked collector's batch stored: %+v", c)
	}
	other, err := s.Collector(ctx, "c-acme")
	must(t, err)
	if !other.Revoked.IsZero() {
		t.Errorf("revoking one collector revoked another")
	}
}

func testAccounts(t *testing.T, h *harness) {
	s := h.setup(t)
	ctx := t.Context()
	admin := store.Account{Name: "root", Role: store.RoleAdmin, PasswordHash: "$argon2id$x", Created: base}
	analyst := store.Account{Name: "ana", Role: store.RoleAnalyst, PasswordHash: "h2", Created: base}
	member := store.Account{Name: "acme-ops", Role: store.RoleMember, MemberID: "acme", PasswordHash: "h3", Created: base}
	for _, a := range []store.Account{admin, analyst, member} {
		must(t, s.AddAccount(ctx, a))
	}
	wantErr(t, "duplicate", s.AddAccount(ctx, admin), store.ErrExists)
	wantErr(t, "bad role", s.AddAccount(ctx, store.Account{Name: "x", Role: "root", Created: base}), store.ErrInvalid)
	wantErr(t, "member role without member", s.AddAccount(ctx, store.Account{Name: "x", Role: store.RoleMember, Created: base}), store.ErrInvalid)
	wantErr(t, "analyst with member", s.AddAccount(ctx, store.Account{Name: "x", Role: store.RoleAnalyst, MemberID: "acme", Created: base}), store.ErrInvalid)
	wantErr(t, "unknown member", s.AddAccount(ctx, store.Account{Name: "x", Role: store.RoleMember, MemberID: "nobody", Created: base}), store.ErrNotFound)

	got, err := s.Account(ctx, "acme-ops")
	must(t, err)
	if diff := cmp.Diff(member, got); diff != "" {
		t.Errorf("account (-want +got):\n%s", diff)
	}
	all, err := s.Accounts(ctx)
	must(t, err)
	if diff := cmp.Diff([]store.Account{member, analyst, admin}, all); diff != "" {
		t.Errorf("accounts by name (-want +got):\n%s", diff)
	}
	must(t, s.SetPassword(ctx, "ana", "new-hash"))
	got, err = s.Account(ctx, "ana")
	must(t, err)
	if got.PasswordHash != "new-hash" {
		t.Errorf("password hash %q after SetPassword", got.PasswordHash)
	}
	wantErr(t, "set password of unknown", s.SetPassword(ctx, "nobody", "h"), store.ErrNotFound)
	must(t, s.DeleteAccount(ctx, "ana"))
	_, err = s.Account(ctx, "ana")
	wantErr(t, "deleted account", err, store.ErrNotFound)
	wantErr(t, "delete twice", s.DeleteAccount(ctx, "ana"), store.ErrNotFound)
}

func testAPITokens(t *testing.T, h *harness) {
	s := h.setup(t)
	ctx := t.Context()
	member := store.Account{Name: "acme-ops", Role: store.RoleMember, MemberID: "acme", Created: base}
	must(t, s.AddAccount(ctx, member))
	live, old := store.HashToken("live"), store.HashToken("old")
	must(t, s.AddAPIToken(ctx, store.APIToken{Hash: live, Account: "acme-ops", Created: base, Expires: at(time.Hour)}))
	must(t, s.AddAPIToken(ctx, store.APIToken{Hash: old, Account: "acme-ops", Created: base, Expires: at(time.Minute)}))
	wantErr(t, "duplicate token", s.AddAPIToken(ctx, store.APIToken{Hash: live, Account: "acme-ops", Created: base, Expires: at(time.Hour)}), store.ErrExists)
	wantErr(t, "token of unknown account", s.AddAPIToken(ctx, store.APIToken{Hash: store.HashToken("x"), Account: "nobody", Created: base, Expires: at(time.Hour)}), store.ErrNotFound)

	got, err := s.AccountByToken(ctx, live, at(30*time.Minute))
	must(t, err)
	if diff := cmp.Diff(member, got); diff != "" {
		t.Errorf("account by token (-want +got):\n%s", diff)
	}
	_, err = s.AccountByToken(ctx, old, at(time.Minute))
	wantErr(t, "expired token", err, store.ErrTokenExpired)
	_, err = s.AccountByToken(ctx, store.HashToken("nope"), base)
	wantErr(t, "unknown token", err, store.ErrNotFound)

	// APIToken returns a token whether it has expired or not.
	for _, want := range []store.APIToken{
		{Hash: live, Account: "acme-ops", Created: base, Expires: at(time.Hour)},
		{Hash: old, Account: "acme-ops", Created: base, Expires: at(time.Minute)},
	} {
		tok, err := s.APIToken(ctx, want.Hash)
		must(t, err)
		if diff := cmp.Diff(want, tok); diff != "" {
			t.Errorf("API token (-want +got):\n%s", diff)
		}
	}
	_, err = s.APIToken(ctx, store.HashToken("nope"))
	wantErr(t, "unknown API token", err, store.ErrNotFound)

	must(t, s.DeleteAPIToken(ctx, live))
	_, err = s.AccountByToken(ctx, live, base)
	wantErr(t, "deleted token", err, store.ErrNotFound)
	wantErr(t, "delete twice", s.DeleteAPIToken(ctx, live), store.ErrNotFound)

	// Deleting an account takes its tokens with it.
	must(t, s.AddAPIToken(ctx, store.APIToken{Hash: live, Account: "acme-ops", Created: base, Expires: at(time.Hour)}))
	must(t, s.DeleteAccount(ctx, "acme-ops"))
	_, err = s.AccountByToken(ctx, live, base)
	wantErr(t, "token of deleted account", err, store.ErrNotFound)
}
