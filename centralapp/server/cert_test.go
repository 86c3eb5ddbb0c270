package server_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/cyberalarm/cyberalarm/centralapp/pki"
	"github.com/cyberalarm/cyberalarm/centralapp/server"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/detect"
)

// TestCertificatesRefused checks that batches with an expired, revoked,
// wrong-CA or missing certificate are refused and nothing is stored.
func TestCertificatesRefused(t *testing.T) {
	e := newEnv(t, server.Config{})
	e.addMember("m1")
	enc := newEncoder(t)
	ctx := context.Background()

	// A collector the store knows, to which the certificates below are
	// issued.
	id := ulid.Make().String()
	tok := e.token("m1", time.Hour)
	if err := e.store.UseEnrolToken(ctx, store.HashToken(tok), time.Now().UTC(), store.Collector{
		ID: id, MemberID: "m1", CertSerial: "1", CertNotAfter: time.Now().Add(time.Hour).UTC(), Created: time.Now().UTC(),
	}); err != nil {
		t.Fatal(err)
	}
	batchFor := func(collector, member string) (string, []byte) {
		b := &detect.Batch{
			BatchID: ulid.Make().String(), CollectorID: collector, MemberID: member, Seq: 1, Created: time.Now().UTC(),
		}
		return b.BatchID, enc.batch(t, b)
	}
	refused := func(name string, cert *tls.Certificate, want int) {
		t.Helper()
		key, body := batchFor(id, "m1")
		a, err := e.tryBatch(e.client(cert), key, body)
		switch {
		case want == 0 && err == nil:
			t.Errorf("%s: handshake succeeded with status %d %s; want it refused", name, a.status, a.body)
		case want != 0 && err != nil:
			t.Errorf("%s: %v; want status %d", name, err, want)
		case want != 0 && a.status != want:
			t.Errorf("%s: %d %s, want %d", name, a.status, a.body, want)
		}
	}

	// Expired: issued by the same CA with a clock two days back.
	past, err := pki.Open(filepath.Join(e.dir, "ca"), pki.Options{Now: func() time.Time { return time.Now().Add(-48 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	expired, _ := issue(t, past, id, "m1", time.Hour)
	refused("expired", &expired, 0)

	// Wrong CA: a CA of its own, same subject.
	other, err := pki.Open(t.TempDir(), pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := issue(t, other, id, "m1", time.Hour)
	refused("wrong CA", &foreign, 0)

	// No certificate at all.
	refused("no certificate", nil, http.StatusUnauthorized)

	// A valid certificate for a collector the store does not know.
	unknown, _ := issue(t, e.ca, ulid.Make().String(), "m1", time.Hour)
	refused("unknown collector", &unknown, http.StatusForbidden)

	// A valid certificate whose member is not the collector's.
	e.addMember("m2")
	wrongMember, _ := issue(t, e.ca, id, "m2", time.Hour)
	refused("certificate of another member", &wrongMember, http.StatusForbidden)

	// Valid, then revoked in the CA's set: the next handshake is refused,
	// and so is the next request on a connection already open.
	good, serial := issue(t, e.ca, id, "m1", time.Hour)
	c := e.client(&good)
	key, body := batchFor(id, "m1")
	if status, b := e.postBatch(c, key, body); status != http.StatusOK {
		t.Fatalf("valid certificate: %d %s", status, b)
	}
	if err := e.ca.Revoke(serial); err != nil {
		t.Fatal(err)
	}
	key, body = batchFor(id, "m1")
	if status, b := e.postBatch(c, key, body); status != http.StatusForbidden {
		t.Errorf("revoked, open connection: %d %s, want 403", status, b)
	}
	refused("revoked, new connection", &good, 0)

	if got := e.counts(""); got.Batches != 1 {
		t.Fatalf("stored %d batches, want only the one sent before revocation", got.Batches)
	}
}

// TestCollectorRevokedInStore revokes a collector in the store, as another
// process (the command line) would: its next batch, renewal and update
// poll are refused at once, on the connection it already has.
func TestCollectorRevokedInStore(t *testing.T) {
	e := newEnv(t, server.Config{})
	e.addMember("m1")
	creds := e.enrol("m1")
	c := e.collectorClient(creds)
	enc := newEncoder(t)
	b := batchOf(creds, 1, 1)
	if status, body := e.postBatch(c, b.BatchID, enc.batch(t, b)); status != http.StatusOK {
		t.Fatalf("before revocation: %d %s", status, body)
	}
	if err := e.store.RevokeCollector(context.Background(), creds.Identity().CollectorID, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	b = batchOf(creds, 2, 1)
	if status, body := e.postBatch(c, b.BatchID, enc.batch(t, b)); status != http.StatusForbidden {
		t.Errorf("batch after revocation: %d %s, want 403", status, body)
	}
	if status, body := e.get(c, server.UpdatesPath, ""); status != http.StatusForbidden {
		t.Errorf("updates after revocation: %d %s, want 403", status, body)
	}
	if err := creds.Renew(context.Background()); err == nil {
		t.Error("renewal after revocation succeeded")
	}
	if got := e.counts(""); got.Batches != 1 {
		t.Fatalf("stored %d batches, want 1", got.Batches)
	}
}
