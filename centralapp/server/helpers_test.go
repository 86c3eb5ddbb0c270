package server_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/oklog/ulid/v2"
	"go.uber.org/goleak"

	"github.com/cyberalarm/cyberalarm/centralapp/auth"
	"github.com/cyberalarm/cyberalarm/centralapp/pki"
	"github.com/cyberalarm/cyberalarm/centralapp/server"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/sqlite"
	"github.com/cyberalarm/cyberalarm/collectorapp/forward"
	"github.com/cyberalarm/cyberalarm/detect"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is a running central: a SQLite store in a temporary directory, a CA,
// and the server on 127.0.0.1.
type env struct {
	t      testing.TB
	dir    string
	store  *sqlite.Store
	ca     *pki.CA
	auth   *auth.Authenticator
	srv    *server.Server
	addr   string
	url    string
	cancel context.CancelFunc
	done   chan error
	cfg    server.Config
}

// newEnv starts central with cfg's Limits, OnIngest and CertLifetime; the
// rest is filled in.
func newEnv(t testing.TB, cfg server.Config) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir()}
	var err error
	e.store, err = sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(e.dir, "central.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.store.Close() }) // after stop: cleanups run last first
	if e.ca, err = pki.Open(filepath.Join(e.dir, "ca"), pki.Options{}); err != nil {
		t.Fatal(err)
	}
	if e.auth, err = newAuth(e.store); err != nil {
		t.Fatal(err)
	}
	e.cfg = cfg
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	e.url = "https://" + e.addr
	e.start(ln)
	t.Cleanup(e.stop)
	return e
}

// start runs a new Server on ln, over the env's store and CA.
func (e *env) start(ln net.Listener) {
	e.t.Helper()
	tlsConf, err := e.ca.ServerTLS(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := e.cfg
	cfg.Store, cfg.CA, cfg.TLS, cfg.Auth = e.store, e.ca, tlsConf, e.auth
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 5 * time.Second
	}
	if e.srv, err = server.New(cfg); err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	srv := e.srv
	go func() { e.done <- srv.Serve(ctx, ln) }()
}

// stop shuts the server down and waits for it.
func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	if err := <-e.done; err != nil {
		e.t.Errorf("Serve: %v", err)
	}
	e.srv.Close()
	e.cancel = nil
}

// restart stops the server, closes and reopens the store, and starts a new
// server on the same address: central restarted.
func (e *env) restart() {
	e.t.Helper()
	e.stop()
	if err := e.store.Close(); err != nil {
		e.t.Fatal(err)
	}
	var err error
	if e.store, err = sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(e.dir, "central.db")}); err != nil {
		e.t.Fatal(err)
	}
	if e.auth, err = newAuth(e.store); err != nil {
		e.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.start(ln)
}

func newAuth(st store.Store) (*auth.Authenticator, error) {
	return auth.New(server.Accounts{Store: st}, auth.Options{
		SessionKey: bytes.Repeat([]byte{7}, auth.MinSessionKey),
		Logger:     slog.New(slog.DiscardHandler),
	})
}

func (e *env) addMember(id string) {
	e.t.Helper()
	if err := e.store.AddMember(context.Background(), store.Member{ID: id, Name: "Member " + id, Created: time.Now().UTC()}); err != nil {
		e.t.Fatal(err)
	}
}

// token issues an enrolment token for member, valid for ttl.
func (e *env) token(member string, ttl time.Duration) string {
	e.t.Helper()
	tok, _ := pki.NewToken()
	now := time.Now().UTC()
	if err := e.store.AddEnrolToken(context.Background(), store.EnrolToken{
		Hash: store.HashToken(tok), MemberID: member, Created: now, Expires: now.Add(ttl),
	}); err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// enrol enrols a collector of member with the real collector code, pinning
// the CA by fingerprint, and loads its credentials.
func (e *env) enrol(member string) *forward.Credentials {
	e.t.Helper()
	dir := e.t.TempDir()
	id, err := forward.Enrol(context.Background(), e.url, e.token(member, time.Hour), dir,
		forward.EnrolOptions{CASHA256: e.ca.CAFingerprint()})
	if err != nil {
		e.t.Fatal(err)
	}
	if id.MemberID != member {
		e.t.Fatalf("enrolled for member %q, want %q", id.MemberID, member)
	}
	c, err := forward.LoadCredentials(dir)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// client returns an HTTP client presenting cert (none when nil) and
// trusting the env's CA.
func (e *env) client(cert *tls.Certificate) *http.Client {
	conf := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: e.ca.Pool()}
	if cert != nil {
		conf.Certificates = []tls.Certificate{*cert}
	}
	tr := &http.Transport{TLSClientConfig: conf, ForceAttemptHTTP2: true}
	e.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// collectorClient returns a client with c's certificate.
func (e *env) collectorClient(c *forward.Credentials) *http.Client {
	tr := &http.Transport{TLSClientConfig: c.TLSConfig(), ForceAttemptHTTP2: true}
	e.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// counts returns what the store holds for member ("" for all).
func (e *env) counts(member string) store.Counts {
	e.t.Helper()
	c, err := e.store.Counts(context.Background(), member)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// account adds an account and returns an API token for it.
func (e *env) account(name string, role auth.Role, member string) string {
	e.t.Helper()
	ctx := context.Background()
	if err := e.store.AddAccount(ctx, store.Account{Name: name, Role: string(role), MemberID: member, Created: time.Now().UTC()}); err != nil {
		e.t.Fatal(err)
	}
	tok, _, err := e.auth.IssueAPIToken(ctx, name, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// get does a GET with a bearer token and returns the status and body.
func (e *env) get(c *http.Client, path, token string) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(e.t, c, req)
}

func do(t testing.TB, c *http.Client, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// postBatch posts a compressed batch body with the collector's headers.
func (e *env) postBatch(c *http.Client, key string, body []byte) (int, []byte) {
	e.t.Helper()
	resp, err := e.tryBatch(c, key, body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.status, resp.body
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (e *env) tryBatch(c *http.Client, key string, body []byte) (answer, error) {
	req, err := http.NewRequest(http.MethodPost, e.url+server.BatchesPath, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "zstd")
	req.Header.Set("Idempotency-Key", key)
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}, err
}

// batchOf returns a valid batch of n detections for the collector.
func batchOf(c *forward.Credentials, seq uint64, n int) *detect.Batch {
	id := c.Identity()
	b := &detect.Batch{
		BatchID:     ulid.Make().String(),
		CollectorID: id.CollectorID,
		MemberID:    id.MemberID,
		Seq:         seq,
		Created:     time.Now().UTC(),
		Detections:  make([]json.RawMessage, n),
		Summaries: []detect.FlowSummary{{
			Minute: time.Now().UTC().Truncate(time.Minute), SourceIP: netip.MustParseAddr("198.51.100.7"),
			DestinationPort: 22, Transport: "tcp", EventType: "denied", Device: "fw1", Dataset: "cisco_asa", Count: 3,
		}},
		Health: &detect.Health{
			Time: time.Now().UTC(), Started: time.Now().UTC().Add(-time.Hour), Version: "test",
			Devices: []detect.DeviceHealth{{Device: "fw1", Dataset: "cisco_asa", LastSeen: time.Now().UTC()}},
		},
	}
	for i := range b.Detections {
		b.Detections[i] = detection(id.MemberID, fmt.Sprintf("203.0.113.%d", i%250+1))
	}
	return b
}

// detection returns a §3.2 detection as the collector writes it.
func detection(member, source string) json.RawMessage {
	now := time.Now().UTC()
	d := detect.Detection{
		RuleID: "scan.tcp.vertical", RuleName: "TCP port scan of one host", Severity: 50,
		Techniques: []string{"T1046"}, Source: netip.MustParseAddr(source),
		Count: 20, FirstSeen: now.Add(-time.Minute), LastSeen: now, MemberID: member,
	}
	return d.AppendJSON(nil)
}

// encoder compresses batches as the collector does.
type encoder struct{ enc *zstd.Encoder }

func newEncoder(t testing.TB) encoder {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enc.Close() })
	return encoder{enc}
}

func (e encoder) batch(t testing.TB, b *detect.Batch) []byte {
	t.Helper()
	js, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return e.enc.EncodeAll(js, nil)
}

func (e encoder) raw(js []byte) []byte { return e.enc.EncodeAll(js, nil) }

// issue makes a collector certificate from ca for a key of its own.
func issue(t testing.TB, ca *pki.CA, collectorID, member string, lifetime time.Duration) (tls.Certificate, string) {
	t.Helper()
	key := newKey(t)
	chain, serial, _, err := ca.SignCSR(csr(t, key), collectorID, member, lifetime)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(chain, keyPEM(t, key))
	if err != nil {
		t.Fatal(err)
	}
	return cert, serial
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func csr(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func keyPEM(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
