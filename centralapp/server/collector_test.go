package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/auth"
	"github.com/cyberalarm/cyberalarm/centralapp/server"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/collectorapp/forward"
	"github.com/cyberalarm/cyberalarm/collectorapp/forward/forwardtest"
	"github.com/cyberalarm/cyberalarm/detect/update"
)

// fastForwarder returns a forwarder for c with short waits.
func fastForwarder(t testing.TB, c *forward.Credentials, out forward.Outbox) *forward.Forwarder {
	t.Helper()
	f, err := forward.New(out, forward.Config{
		Central:     c.Central(),
		Credentials: c,
		Timeout:     10 * time.Second,
		MinBackoff:  5 * time.Millisecond,
		MaxBackoff:  50 * time.Millisecond,
		Poll:        20 * time.Millisecond,
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// run runs f until the test ends.
func run(t testing.TB, f *forward.Forwarder) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestCollectorEndToEnd runs the real collector client against the server:
// enrolment pinned by CA fingerprint, forwarding, export, renewal and a
// signed update.
func TestCollectorEndToEnd(t *testing.T) {
	var mu sync.Mutex
	var hooked []store.Batch
	e := newEnv(t, server.Config{OnIngest: func(b store.Batch) {
		mu.Lock()
		hooked = append(hooked, b)
		mu.Unlock()
	}})
	e.addMember("m1")
	creds := e.enrol("m1")
	id := creds.Identity()
	if leaf := creds.Leaf(); leaf.Subject.CommonName != id.CollectorID || leaf.Subject.OrganizationalUnit[0] != "m1" {
		t.Fatalf("certificate subject %v, want CN=%s OU=m1", leaf.Subject, id.CollectorID)
	}
	if !bytes.Equal(id.UpdateKey, e.ca.UpdatePublicKey()) {
		t.Fatal("enrolment did not hand out the update key")
	}

	out := forwardtest.NewMemOutbox()
	enc := newEncoder(t)
	var want []string
	for seq := uint64(1); seq <= 5; seq++ {
		b := batchOf(creds, seq, 4)
		for _, d := range b.Detections {
			want = append(want, string(d))
		}
		out.Add(b.BatchID, enc.batch(t, b))
	}
	f := fastForwarder(t, creds, out)
	run(t, f)
	waitFor(t, 10*time.Second, "5 batches delivered", func() bool { return len(out.DeliveredIDs()) == 5 })
	if q := out.QuarantinedBatches(); len(q) != 0 {
		t.Fatalf("quarantined: %+v", q)
	}
	if got := e.counts("m1"); got != (store.Counts{Batches: 5, Detections: 20, Summaries: 5}) {
		t.Fatalf("stored %+v", got)
	}
	mu.Lock()
	if len(hooked) != 5 || hooked[0].CollectorID != id.CollectorID || len(hooked[0].Detections) != 4 {
		t.Errorf("OnIngest got %d batches", len(hooked))
	}
	mu.Unlock()

	// The export reproduces what the collector sent, byte for byte.
	var buf bytes.Buffer
	if err := server.Export(context.Background(), e.store, &buf, server.ExportQuery{MemberID: "m1"}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("export:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	tok := e.account("analyst", auth.RoleAnalyst, "")
	status, body := e.get(e.client(nil), server.DetectionsPath+"?member=m1", tok)
	if status != http.StatusOK || !bytes.Equal(body, buf.Bytes()) {
		t.Fatalf("GET detections: %d, body differs from export:\n%s", status, body)
	}

	// Health shows the collector and its device.
	status, body = e.get(e.client(nil), server.HealthPath, tok)
	if status != http.StatusOK || !strings.Contains(string(body), id.CollectorID) || !strings.Contains(string(body), `"device":"fw1"`) {
		t.Fatalf("GET health: %d %s", status, body)
	}

	// Renewal: a new certificate for the same identity, recorded.
	oldSerial := creds.Leaf().SerialNumber
	if err := creds.Renew(context.Background()); err != nil {
		t.Fatal(err)
	}
	if creds.Leaf().SerialNumber.Cmp(oldSerial) == 0 || creds.Leaf().Subject.CommonName != id.CollectorID {
		t.Fatal("renewal did not issue a new certificate for the collector")
	}
	c, err := e.store.Collector(context.Background(), id.CollectorID)
	if err != nil {
		t.Fatal(err)
	}
	if c.CertSerial != creds.Leaf().SerialNumber.Text(16) {
		t.Fatalf("stored serial %s, want the renewed %s", c.CertSerial, creds.Leaf().SerialNumber.Text(16))
	}
	b := batchOf(creds, 6, 1)
	out.Add(b.BatchID, enc.batch(t, b))
	waitFor(t, 10*time.Second, "batch after renewal", func() bool { return len(out.DeliveredIDs()) == 6 })

	// Updates: published, signed, fetched and applied by the collector.
	if _, err := e.srv.Publish(context.Background(), update.KindIndicators, []byte("198.51.100.7\n")); err != nil {
		t.Fatal(err)
	}
	if v, err := e.srv.Publish(context.Background(), update.KindIndicators, []byte("198.51.100.8\n")); err != nil || v != 2 {
		t.Fatalf("second publish: version %d, %v", v, err)
	}
	var applied []string
	u, err := forward.NewUpdater(forward.UpdaterConfig{
		Credentials: creds,
		PublicKey:   id.UpdateKey,
		Dir:         t.TempDir(),
		Apply: func(kind string, version int64, payload []byte) error {
			applied = append(applied, kind+":"+string(payload))
			return nil
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(applied) != 1 || applied[0] != "indicators:198.51.100.8\n" || u.Version(update.KindIndicators) != 2 {
		t.Fatalf("applied %q, version %d", applied, u.Version(update.KindIndicators))
	}
	// Nothing newer: 204, nothing applied.
	if err := u.Poll(context.Background()); err != nil || len(applied) != 1 {
		t.Fatalf("second poll: %v, applied %q", err, applied)
	}
}

func TestUpdatesQuery(t *testing.T) {
	e := newEnv(t, server.Config{})
	e.addMember("m1")
	c := e.collectorClient(e.enrol("m1"))
	ctx := context.Background()
	if status, _ := e.get(c, server.UpdatesPath+"?rules=0&indicators=0", ""); status != http.StatusNoContent {
		t.Fatalf("no releases: %d, want 204", status)
	}
	for range 3 {
		if _, err := e.srv.Publish(ctx, update.KindRules, []byte("rules")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.srv.Publish(ctx, update.KindIndicators, []byte("ind")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query  string
		status int
		kinds  []string
	}{
		{"", http.StatusOK, []string{"rules:3", "indicators:1"}},
		{"?rules=2&indicators=0", http.StatusOK, []string{"rules:3", "indicators:1"}},
		{"?rules=3&indicators=0", http.StatusOK, []string{"indicators:1"}},
		{"?rules=3&indicators=1", http.StatusNoContent, nil},
		{"?rules=9&indicators=9", http.StatusNoContent, nil},
		{"?rules=x", http.StatusBadRequest, nil},
		{"?indicators=-1", http.StatusBadRequest, nil},
	} {
		status, body := e.get(c, server.UpdatesPath+tc.query, "")
		if status != tc.status {
			t.Errorf("%q: %d %s, want %d", tc.query, status, body, tc.status)
			continue
		}
		if status != http.StatusOK {
			continue
		}
		var m update.Manifest
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range m.Items {
			env, err := update.Verify(e.ca.UpdatePublicKey(), s)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, env.Kind+":"+strconv.FormatInt(env.Version, 10))
		}
		if strings.Join(got, ",") != strings.Join(tc.kinds, ",") {
			t.Errorf("%q: items %v, want %v", tc.query, got, tc.kinds)
		}
	}
	// Without a client certificate: 401.
	if status, _ := e.get(e.client(nil), server.UpdatesPath, ""); status != http.StatusUnauthorized {
		t.Errorf("no certificate: %d, want 401", status)
	}
}

func TestEnrolRefusals(t *testing.T) {
	e := newEnv(t, server.Config{})
	e.addMember("m1")
	c := e.client(nil)
	post := func(body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.url+server.EnrolPath, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		status, b := do(t, c, req)
		return status, string(b)
	}
	good := string(csr(t, newKey(t)))
	enrolBody := func(tok, csrPEM string) string {
		b, _ := json.Marshal(map[string]string{"token": tok, "csr": csrPEM})
		return string(b)
	}

	used := e.token("m1", time.Hour)
	if status, body := post(enrolBody(used, good)); status != http.StatusOK {
		t.Fatalf("first use: %d %s", status, body)
	}
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"used token", enrolBody(used, good), http.StatusForbidden},
		{"unknown token", enrolBody("no-such-token", good), http.StatusForbidden},
		{"expired token", enrolBody(e.token("m1", -time.Second), good), http.StatusForbidden},
		{"bad csr", enrolBody(e.token("m1", time.Hour), "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"), http.StatusBadRequest},
		{"not a csr", enrolBody(e.token("m1", time.Hour), "hello"), http.StatusBadRequest},
		{"no token", `{"csr":"x"}`, http.StatusBadRequest},
		{"malformed", `{"token":`, http.StatusBadRequest},
		{"unknown field", `{"token":"a","csr":"b","admin":true}`, http.StatusBadRequest},
		{"oversized", `{"token":"` + strings.Repeat("a", 100<<10) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		if status, body := post(tc.body); status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, status, body, tc.status)
		}
	}
	// A token that failed on a bad CSR is still good.
	tok := e.token("m1", time.Hour)
	if status, _ := post(enrolBody(tok, "hello")); status != http.StatusBadRequest {
		t.Fatal("bad csr accepted")
	}
	// Of concurrent requests with one token, exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 8 {
		wg.Go(func() {
			if status, _ := post(enrolBody(tok, good)); status == http.StatusOK {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d enrolments with one token, want 1", ok)
	}
	cs, err := e.store.Collectors(context.Background(), "m1")
	if err != nil || len(cs) != 2 {
		t.Fatalf("collectors: %d, %v; want 2", len(cs), err)
	}
	// Renewal needs a certificate, and refuses a token.
	req, _ := http.NewRequest(http.MethodPost, e.url+server.RenewPath, strings.NewReader(`{"csr":"x"}`))
	if status, _ := do(t, c, req); status != http.StatusUnauthorized {
		t.Errorf("renew without certificate: %d, want 401", status)
	}
	cc := e.collectorClient(e.enrol("m1"))
	req, _ = http.NewRequest(http.MethodPost, e.url+server.RenewPath, strings.NewReader(enrolBody("tok", good)))
	if status, _ := do(t, cc, req); status != http.StatusBadRequest {
		t.Errorf("renew with a token: %d, want 400", status)
	}
}

// lockedBuffer is a bytes.Buffer safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestNoSecretsLogged enrols, fails to enrol and ingests with debug
// logging, and checks that no token and no batch content reaches the log,
// while the collector and member ids do.
func TestNoSecretsLogged(t *testing.T) {
	var logs lockedBuffer
	e := newEnv(t, server.Config{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	e.addMember("m1")
	good := e.token("m1", time.Hour)
	dir := t.TempDir()
	id, err := forward.Enrol(context.Background(), e.url, good, dir, forward.EnrolOptions{CASHA256: e.ca.CAFingerprint()})
	if err != nil {
		t.Fatal(err)
	}
	expired := e.token("m1", -time.Minute)
	for _, tok := range []string{good, expired, "guessed-token-value"} {
		if _, err := forward.Enrol(context.Background(), e.url, tok, t.TempDir(), forward.EnrolOptions{CASHA256: e.ca.CAFingerprint()}); err == nil {
			t.Fatal("enrolment with a bad token succeeded")
		}
	}
	creds, err := forward.LoadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	enc := newEncoder(t)
	b := batchOf(creds, 1, 1)
	b.Detections[0] = detection("m1", "192.0.2.99")
	e.postBatch(e.collectorClient(creds), b.BatchID, enc.batch(t, b))
	bad := batchOf(creds, 2, 1)
	bad.MemberID = "m2"
	e.postBatch(e.collectorClient(creds), bad.BatchID, enc.batch(t, bad))

	out := logs.String()
	for _, secret := range []string{good, expired, "guessed-token-value", "192.0.2.99"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{id.CollectorID, `"member":"m1"`, "collector enrolled", "batch rejected"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// TestGracefulShutdown stops the server while a batch is in flight: the
// batch is answered, and Serve returns only after it.
func TestGracefulShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	e := newEnv(t, server.Config{OnIngest: func(store.Batch) {
		close(entered)
		<-release
	}})
	e.addMember("m1")
	creds := e.enrol("m1")
	enc := newEncoder(t)
	b := batchOf(creds, 1, 1)
	answered := make(chan answer, 1)
	go func() {
		a, err := e.tryBatch(e.collectorClient(creds), b.BatchID, enc.batch(t, b))
		if err != nil {
			a.status = -1
		}
		answered <- a
	}()
	<-entered
	e.cancel()
	select {
	case err := <-e.done:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if a := <-answered; a.status != http.StatusOK {
		t.Fatalf("in-flight batch: %d %s", a.status, a.body)
	}
	if err := <-e.done; err != nil {
		t.Fatal(err)
	}
	e.srv.Close()
	e.cancel = nil
	if _, err := e.client(nil).Get(e.url + "/healthz"); err == nil {
		t.Fatal("server still answers after shutdown")
	}
}
