package forward_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/collectorapp/forward"
	"github.com/cyberalarm/cyberalarm/collectorapp/forward/forwardtest"
)

func TestEnrolWritesStateAndPinsCA(t *testing.T) {
	r := newReceiver(t, forwardtest.Options{})
	dir := filepath.Join(t.TempDir(), "state")
	id, err := forward.Enrol(t.Context(), r.URL()+"/", r.Token("m7", time.Hour), dir,
		forward.EnrolOptions{CASHA256: strings.ToUpper(r.CAFingerprint())})
	if err != nil {
		t.Fatal(err)
	}
	if id.MemberID != "m7" || id.CollectorID == "" || id.Central != r.URL() || !bytes.Equal(id.UpdateKey, r.UpdateKey()) {
		t.Errorf("identity %+v", id)
	}
	modes := map[string]os.FileMode{
		".":                  0o700 | os.ModeDir,
		forward.KeyFile:      0o600,
		forward.CertFile:     0o644,
		forward.CAFile:       0o644,
		forward.IdentityFile: 0o644,
	}
	for name, want := range modes {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Errorf("state dir holds %d entries, want 4 (no temporary files)", len(entries))
	}
	if ca, _ := os.ReadFile(filepath.Join(dir, forward.CAFile)); !bytes.Equal(ca, r.CAPEM()) {
		t.Error("ca.pem is not the receiver's CA")
	}
	var onDisk forward.Identity
	b, _ := os.ReadFile(filepath.Join(dir, forward.IdentityFile))
	if err := json.Unmarshal(b, &onDisk); err != nil || onDisk.CollectorID != id.CollectorID || onDisk.MemberID != "m7" {
		t.Errorf("identity.json %s: %v", b, err)
	}

	c, err := forward.LoadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Leaf().Subject.CommonName != id.CollectorID {
		t.Errorf("certificate is for %q", c.Leaf().Subject.CommonName)
	}
	// Only the pinned CA is trusted from now on.
	conf := c.TLSConfig()
	if conf.RootCAs == nil || !conf.RootCAs.Equal(r.CAPool()) {
		t.Error("TLS configuration does not pin exactly the enrolment CA")
	}

	// A second enrolment into the same directory is refused.
	_, err = forward.Enrol(t.Context(), r.URL(), r.Token("m7", time.Hour), dir, forward.EnrolOptions{CASHA256: r.CAFingerprint()})
	if err == nil || !strings.Contains(err.Error(), "already enrolled") {
		t.Errorf("re-enrol: %v", err)
	}
}

func TestEnrolTrustsRootsWhenNoFingerprint(t *testing.T) {
	r := newReceiver(t, forwardtest.Options{})
	// Stands in for the system pool, in which the receiver's CA is not.
	if _, err := forward.Enrol(t.Context(), r.URL(), r.Token("m1", time.Hour), t.TempDir(),
		forward.EnrolOptions{RootCAs: r.CAPool()}); err != nil {
		t.Fatal(err)
	}
	tok := r.Token("m1", time.Hour)
	dir := t.TempDir()
	_, err := forward.Enrol(t.Context(), r.URL(), tok, dir, forward.EnrolOptions{})
	if err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Fatalf("enrol against the system pool: %v", err)
	}
	// The token never left: it still works.
	if _, err := forward.Enrol(t.Context(), r.URL(), tok, dir, forward.EnrolOptions{CASHA256: r.CAFingerprint()}); err != nil {
		t.Errorf("token unusable after a refused handshake: %v", err)
	}
}

func TestEnrolRefusesWrongFingerprint(t *testing.T) {
	r := newReceiver(t, forwardtest.Options{})
	other := newReceiver(t, forwardtest.Options{})
	_, err := forward.Enrol(t.Context(), r.URL(), r.Token("m1", time.Hour), t.TempDir(),
		forward.EnrolOptions{CASHA256: other.CAFingerprint()})
	if err == nil || !strings.Contains(err.Error(), "no certificate with SHA-256") {
		t.Errorf("enrol with another CA's fingerprint: %v", err)
	}
	for _, fp := range []string{"", "zz", strings.Repeat("a", 63)} {
		_, err := forward.Enrol(t.Context(), r.URL(), "tok", t.TempDir(), forward.EnrolOptions{CASHA256: fp + "x"})
		if err == nil || !strings.Contains(err.Error(), "fingerprint") {
			t.Errorf("fingerprint %q: %v", fp+"x", err)
		}
	}
}

func TestTokenIsOneTime(t *testing.T) {
	r := newReceiver(t, forwardtest.Options{})
	opts := forward.EnrolOptions{CASHA256: r.CAFingerprint()}
	tok := r.Token("m1", time.Hour)
	if _, err := forward.Enrol(t.Context(), r.URL(), tok, t.TempDir(), opts); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, err := forward.Enrol(t.Context(), r.URL(), tok, dir, opts)
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("second use of a token: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed enrolment left %d files", len(entries))
	}
	expired := r.Token("m1", -time.Second)
	if _, err := forward.Enrol(t.Context(), r.URL(), expired, t.TempDir(), opts); err == nil {
		t.Error("expired token accepted")
	}
	if _, err := forward.Enrol(t.Context(), r.URL(), "", t.TempDir(), opts); err == nil {
		t.Error("empty token accepted")
	}
	if _, err := forward.Enrol(t.Context(), "http://"+strings.TrimPrefix(r.URL(), "https://"), tok, t.TempDir(), opts); err == nil {
		t.Error("plain http accepted")
	}
}

func TestLoadCredentialsErrors(t *testing.T) {
	if _, err := forward.LoadCredentials(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not enrolled") {
		t.Errorf("empty dir: %v", err)
	}
	r := newReceiver(t, forwardtest.Options{})
	_, dir := enrol(t, r)
	if err := os.WriteFile(filepath.Join(dir, forward.KeyFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := forward.LoadCredentials(dir); err == nil {
		t.Error("garbage key accepted")
	}
}

func TestRenewalSwapsCertificateWithoutRestart(t *testing.T) {
	r := newReceiver(t, forwardtest.Options{CertLifetime: time.Hour})
	// The first certificate is issued already due: under a third of its
	// validity is left.
	r.SetBackdate(45 * time.Minute)
	c, dir := enrol(t, r)
	r.SetBackdate(0)
	first := c.Leaf().SerialNumber.Text(16)
	if !c.RenewAt().Before(time.Now()) {
		t.Fatalf("renew at %v: not due", c.RenewAt())
	}
	oldKey, _ := os.ReadFile(filepath.Join(dir, forward.KeyFile))

	o := forwardtest.NewMemOutbox()
	m := forwardtest.NewBatchMaker(c.Identity())
	f := newForwarder(t, o, fastConfig(c, nil))
	run(t, f)
	addBatches(t, o, m, 1, 1)
	waitBatches(t, r, 1)

	log, logs := newLogger()
	run(t, &forward.Renewer{Credentials: c, Logger: log})
	eventually(t, "renewal", func() bool { return c.Generation() == 1 })
	second := c.Leaf().SerialNumber.Text(16)
	if second == first || time.Until(c.RenewAt()) < 30*time.Minute {
		t.Fatalf("after renewal: serial %s (was %s), renew at %v", second, first, c.RenewAt())
	}

	addBatches(t, o, m, 1, 1)
	got := waitBatches(t, r, 2)
	if got[0].CertSerial != first || got[1].CertSerial != second {
		t.Errorf("batches came with certificates %s, %s; want %s then %s", got[0].CertSerial, got[1].CertSerial, first, second)
	}
	// Renewed once, then asleep until the new certificate is due.
	time.Sleep(50 * time.Millisecond)
	if _, _, renewals := r.Stats(); renewals != 1 {
		t.Errorf("%d renewals, want 1", renewals)
	}
	if !strings.Contains(logs.String(), "certificate renewed") {
		t.Errorf("renewal not logged:\n%s", logs)
	}

	// A restart finds the new certificate on disk.
	c2, err := forward.LoadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s := c2.Leaf().SerialNumber.Text(16); s != second {
		t.Errorf("on disk: serial %s, want %s", s, second)
	}

	// A renewal cut short after the certificate was written, before its key
	// was moved into place, is completed at load.
	newKey, _ := os.ReadFile(filepath.Join(dir, forward.KeyFile))
	if err := os.WriteFile(filepath.Join(dir, "key.pem.next"), newKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, forward.KeyFile), oldKey, 0o600); err != nil {
		t.Fatal(err)
	}
	c3, err := forward.LoadCredentials(dir)
	if err != nil {
		t.Fatalf("after an interrupted renewal: %v", err)
	}
	if s := c3.Leaf().SerialNumber.Text(16); s != second {
		t.Errorf("recovered serial %s, want %s", s, second)
	}
	if k, _ := os.ReadFile(filepath.Join(dir, forward.KeyFile)); !bytes.Equal(k, newKey) {
		t.Error("key.pem is not the renewed key")
	}
	if _, err := os.Stat(filepath.Join(dir, "key.pem.next")); !os.IsNotExist(err) {
		t.Errorf("key.pem.next left behind: %v", err)
	}
}

func TestRenewalRetriesWhenCentralIsDown(t *testing.T) {
	r := newReceiver(t, forwardtest.Options{CertLifetime: time.Hour})
	r.SetBackdate(45 * time.Minute)
	c, _ := enrol(t, r)
	r.SetBackdate(0)
	r.Down()
	log, logs := newLogger()
	run(t, &forward.Renewer{Credentials: c, Logger: log, RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond})
	eventually(t, "failed attempts", func() bool { return strings.Count(logs.String(), "renewal failed") >= 2 })
	if err := r.Up(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "renewal", func() bool { return c.Generation() == 1 })
	if err := c.Renew(context.Background()); err != nil {
		t.Errorf("explicit renewal: %v", err)
	}
}
