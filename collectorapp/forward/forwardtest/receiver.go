// Package forwardtest provides a test receiver that implements central's
// side of DESIGN.md §3.4 (enrolment, renewal, batches, updates) on
// 127.0.0.1, with its own CA and injectable faults, and an in-memory Outbox.
// It stands in for central in the collector's tests.
package forwardtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/oklog/ulid/v2"

	"github.com/cyberalarm/cyberalarm/collectorapp/forward"
	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/detect/update"
)

// Options configure a Receiver.
type Options struct {
	// TLSVersion, when set, is the only TLS version served; the default
	// is TLS 1.3 only. Set tls.VersionTLS12 to check that collectors
	// refuse it.
	TLSVersion uint16
	// CertLifetime is the validity of issued client certificates; zero:
	// 24h.
	CertLifetime time.Duration
	// MaxBody bounds a compressed batch; zero: 32 MiB.
	MaxBody int64
}

// Fault makes the batches endpoint misbehave.
type Fault struct {
	Status     int           // answer with this status instead; 0: answer normally
	Body       string        // body of the fault answer
	RetryAfter string        // Retry-After header of the fault answer
	Delay      time.Duration // wait this long before answering
	// AfterAccept stores the batch before answering with Status, as when
	// central's answer is lost.
	AfterAccept bool
	// Times is how many batch requests the fault applies to; 0: until
	// cleared.
	Times int
}

// Accepted is a batch the receiver stored.
type Accepted struct {
	Batch      detect.Batch
	CertSerial string // hex serial of the client certificate it came with
	Received   time.Time
}

// Receiver is a TLS 1.3 test server for collectors.
type Receiver struct {
	opts       Options
	ca         *x509.Certificate
	caKey      *ecdsa.PrivateKey
	caPEM      []byte
	caPool     *x509.CertPool
	serverCert tls.Certificate
	signer     ed25519.PrivateKey
	dec        *zstd.Decoder
	addr       string

	mu         sync.Mutex
	tlsVersion uint16
	srv        *http.Server
	served     chan struct{} // closed when srv's Serve returns
	tokens     map[string]*token
	collectors int
	backdate   time.Duration
	fault      *Fault
	seen       map[string]bool // collector id + "/" + batch id
	accepted   []Accepted
	changed    chan struct{} // closed and replaced on every accepted batch
	requests   int
	duplicates int
	renewals   int
	updates    []update.Signed
}

type token struct {
	member  string
	expires time.Time
	used    bool
}

// New starts a receiver on 127.0.0.1 with a new CA.
func New(opts Options) (*Receiver, error) {
	if opts.CertLifetime <= 0 {
		opts.CertLifetime = 24 * time.Hour
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 32 << 20
	}
	r := &Receiver{
		opts:    opts,
		tokens:  make(map[string]*token),
		seen:    make(map[string]bool),
		changed: make(chan struct{}),
	}
	r.tlsVersion = opts.TLSVersion
	var err error
	if err = r.makeCA(); err != nil {
		return nil, err
	}
	if _, r.signer, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return nil, err
	}
	if r.dec, err = zstd.NewReader(nil, zstd.WithDecoderMaxMemory(256<<20), zstd.WithDecoderConcurrency(2)); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.dec.Close()
		return nil, err
	}
	r.addr = ln.Addr().String()
	r.serve(ln)
	return r, nil
}

func (r *Receiver) makeCA() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(),
		Subject:               pkix.Name{CommonName: "forwardtest CA"},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	if r.ca, err = x509.ParseCertificate(der); err != nil {
		return err
	}
	r.caKey = key
	r.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	r.caPool = x509.NewCertPool()
	r.caPool.AddCert(r.ca)

	skey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	stmpl := &x509.Certificate{
		SerialNumber: newSerial(),
		Subject:      pkix.Name{CommonName: "forwardtest central"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	sder, err := x509.CreateCertificate(rand.Reader, stmpl, r.ca, &skey.PublicKey, key)
	if err != nil {
		return err
	}
	// The chain carries the CA so that a collector can enrol with only
	// the CA's fingerprint.
	r.serverCert = tls.Certificate{Certificate: [][]byte{sder, der}, PrivateKey: skey}
	return nil
}

func newSerial() *big.Int {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand.Reader never fails since Go 1.24
	}
	return s.Add(s, big.NewInt(1))
}

func (r *Receiver) serve(ln net.Listener) {
	tlsConf := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{r.serverCert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    r.caPool,
	}
	r.mu.Lock()
	if v := r.tlsVersion; v != 0 {
		tlsConf.MinVersion, tlsConf.MaxVersion = v, v
	}
	r.mu.Unlock()
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+forward.EnrolPath, r.enrol)
	mux.HandleFunc("POST "+forward.RenewPath, r.renew)
	mux.HandleFunc("POST "+forward.BatchesPath, r.batches)
	mux.HandleFunc("GET "+forward.UpdatesPath, r.getUpdates)
	srv := &http.Server{
		Handler:           mux,
		TLSConfig:         tlsConf,
		ReadHeaderTimeout: 10 * time.Second,
		// Collectors that fail the handshake are the point of some
		// tests; keep their noise out of the test output.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	done := make(chan struct{})
	r.mu.Lock()
	r.srv, r.served = srv, done
	r.mu.Unlock()
	go func() {
		defer close(done)
		srv.ServeTLS(ln, "", "")
	}()
}

// URL returns the receiver's base URL.
func (r *Receiver) URL() string { return "https://" + r.addr }

// CAPEM returns the receiver's CA certificate as PEM.
func (r *Receiver) CAPEM() []byte { return r.caPEM }

// CAPool returns a pool holding only the receiver's CA.
func (r *Receiver) CAPool() *x509.CertPool { return r.caPool }

// CAFingerprint returns the hex SHA-256 of the CA certificate, as given to
// a collector with --ca-sha256.
func (r *Receiver) CAFingerprint() string {
	sum := sha256.Sum256(r.ca.Raw)
	return hex.EncodeToString(sum[:])
}

// UpdateKey returns the public key of the receiver's update-signing key.
func (r *Receiver) UpdateKey() ed25519.PublicKey { return r.signer.Public().(ed25519.PublicKey) }

// Close stops the receiver and waits for its server to finish.
func (r *Receiver) Close() {
	r.Down()
	r.dec.Close()
}

// Down stops listening and drops every connection, so that collectors get
// "connection refused" until Up.
func (r *Receiver) Down() {
	r.mu.Lock()
	srv, done := r.srv, r.served
	r.srv = nil
	r.mu.Unlock()
	if srv == nil {
		return
	}
	srv.Close()
	<-done
}

// Up listens again on the same address after Down.
func (r *Receiver) Up() error {
	r.mu.Lock()
	up := r.srv != nil
	r.mu.Unlock()
	if up {
		return nil
	}
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		return fmt.Errorf("forwardtest: listen again on %s: %w", r.addr, err)
	}
	r.serve(ln)
	return nil
}

// SetTLSVersion sets the only TLS version served from the next Up; zero
// means TLS 1.3 only.
func (r *Receiver) SetTLSVersion(v uint16) {
	r.mu.Lock()
	r.tlsVersion = v
	r.mu.Unlock()
}

// Token returns a new one-time enrolment token for member, valid for ttl.
func (r *Receiver) Token(member string, ttl time.Duration) string {
	b := make([]byte, 16)
	rand.Read(b)
	t := hex.EncodeToString(b)
	r.mu.Lock()
	r.tokens[t] = &token{member: member, expires: time.Now().Add(ttl)}
	r.mu.Unlock()
	return t
}

// SetBackdate makes certificates issued from now on start d in the past,
// so that they are already due for renewal.
func (r *Receiver) SetBackdate(d time.Duration) {
	r.mu.Lock()
	r.backdate = d
	r.mu.Unlock()
}

// SetFault installs f on the batches endpoint; nil clears it.
func (r *Receiver) SetFault(f *Fault) {
	r.mu.Lock()
	if f != nil {
		c := *f
		f = &c
	}
	r.fault = f
	r.mu.Unlock()
}

// Sign signs an update with the receiver's key.
func (r *Receiver) Sign(kind string, version int64, payload []byte) (update.Signed, error) {
	return update.Sign(r.signer, kind, version, payload)
}

// SetUpdates replaces what GET /api/v1/updates serves.
func (r *Receiver) SetUpdates(items ...update.Signed) {
	r.mu.Lock()
	r.updates = append([]update.Signed(nil), items...)
	r.mu.Unlock()
}

// Batches returns the accepted batches in the order they arrived.
func (r *Receiver) Batches() []Accepted {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Accepted(nil), r.accepted...)
}

// Stats returns how many batch requests arrived, how many were answered as
// duplicates, and how many renewals were served.
func (r *Receiver) Stats() (requests, duplicates, renewals int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests, r.duplicates, r.renewals
}

// WaitBatches waits until at least n batches were accepted, or ctx ends.
func (r *Receiver) WaitBatches(ctx context.Context, n int) ([]Accepted, error) {
	for {
		r.mu.Lock()
		got, changed := len(r.accepted), r.changed
		r.mu.Unlock()
		if got >= n {
			return r.Batches(), nil
		}
		select {
		case <-ctx.Done():
			return r.Batches(), fmt.Errorf("forwardtest: %d of %d batches: %w", got, n, ctx.Err())
		case <-changed:
		}
	}
}

// identity returns the collector and member ids of a request's verified
// client certificate.
func identity(req *http.Request) (collector, member, serial string, ok bool) {
	if req.TLS == nil || len(req.TLS.VerifiedChains) == 0 {
		return "", "", "", false
	}
	leaf := req.TLS.VerifiedChains[0][0]
	if leaf.Subject.CommonName == "" || len(leaf.Subject.OrganizationalUnit) != 1 {
		return "", "", "", false
	}
	return leaf.Subject.CommonName, leaf.Subject.OrganizationalUnit[0], leaf.SerialNumber.Text(16), true
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func decodeStrict(rd io.Reader, v any) error {
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

func (r *Receiver) enrol(w http.ResponseWriter, req *http.Request) {
	var in forward.EnrolRequest
	if err := decodeStrict(http.MaxBytesReader(w, req.Body, 64<<10), &in); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	t := r.tokens[in.Token]
	valid := t != nil && !t.used && time.Now().Before(t.expires)
	if valid {
		t.used = true
		r.collectors++
	}
	n := r.collectors
	r.mu.Unlock()
	if !valid {
		http.Error(w, "invalid, used or expired token", http.StatusForbidden)
		return
	}
	r.issue(w, in.CSR, fmt.Sprintf("collector-%d", n), t.member)
}

func (r *Receiver) renew(w http.ResponseWriter, req *http.Request) {
	collector, member, _, ok := identity(req)
	if !ok {
		http.Error(w, "client certificate required", http.StatusUnauthorized)
		return
	}
	var in forward.EnrolRequest
	if err := decodeStrict(http.MaxBytesReader(w, req.Body, 64<<10), &in); err != nil || in.Token != "" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.renewals++
	r.mu.Unlock()
	r.issue(w, in.CSR, collector, member)
}

func (r *Receiver) issue(w http.ResponseWriter, csrPEM, collector, member string) {
	blk, _ := pem.Decode([]byte(csrPEM))
	if blk == nil || blk.Type != "CERTIFICATE REQUEST" {
		http.Error(w, "csr: not a PEM certificate request", http.StatusBadRequest)
		return
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err == nil {
		err = csr.CheckSignature()
	}
	if err != nil {
		http.Error(w, "csr: "+err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	backdate := r.backdate
	r.mu.Unlock()
	start := time.Now().Add(-backdate).Add(-time.Minute)
	tmpl := &x509.Certificate{
		SerialNumber: newSerial(),
		Subject:      pkix.Name{CommonName: collector, OrganizationalUnit: []string{member}},
		NotBefore:    start,
		NotAfter:     start.Add(r.opts.CertLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, r.ca, csr.PublicKey, r.caKey)
	if err != nil {
		http.Error(w, "issue: "+err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, forward.EnrolResponse{
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		CA:          string(r.caPEM),
		CollectorID: collector,
		MemberID:    member,
		UpdateKey:   r.UpdateKey(),
	})
}

// takeFault returns the fault for this request, if any, counting it down.
func (r *Receiver) takeFault() *Fault {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	f := r.fault
	if f == nil {
		return nil
	}
	c := *f
	if f.Times > 0 {
		f.Times--
		if f.Times == 0 {
			r.fault = nil
		}
	}
	return &c
}

func (r *Receiver) batches(w http.ResponseWriter, req *http.Request) {
	f := r.takeFault()
	if f != nil && f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-req.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	if f != nil && f.Status != 0 && !f.AfterAccept {
		r.fail(w, f)
		return
	}
	status, msg, dup := r.accept(req)
	if status != http.StatusOK {
		http.Error(w, msg, status)
		return
	}
	if f != nil && f.Status != 0 {
		r.fail(w, f)
		return
	}
	writeJSON(w, map[string]bool{"duplicate": dup})
}

func (r *Receiver) fail(w http.ResponseWriter, f *Fault) {
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(f.Status)
	io.WriteString(w, f.Body)
}

// accept checks and stores one batch as central would, returning the status
// to answer with.
func (r *Receiver) accept(req *http.Request) (status int, msg string, duplicate bool) {
	collector, member, serial, ok := identity(req)
	if !ok {
		return http.StatusUnauthorized, "client certificate required", false
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/json" {
		return http.StatusUnsupportedMediaType, "Content-Type " + strconv.Quote(ct) + ", want application/json", false
	}
	if ce := req.Header.Get("Content-Encoding"); ce != "zstd" {
		return http.StatusUnsupportedMediaType, "Content-Encoding " + strconv.Quote(ce) + ", want zstd", false
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, r.opts.MaxBody+1))
	if err != nil {
		return http.StatusBadRequest, "read body: " + err.Error(), false
	}
	if int64(len(body)) > r.opts.MaxBody {
		return http.StatusRequestEntityTooLarge, "batch too large", false
	}
	js, err := r.dec.DecodeAll(body, nil)
	if err != nil {
		return http.StatusBadRequest, "zstd: " + err.Error(), false
	}
	var b detect.Batch
	if err := decodeStrict(bytes.NewReader(js), &b); err != nil {
		return http.StatusBadRequest, "batch: " + err.Error(), false
	}
	if _, err := ulid.ParseStrict(b.BatchID); err != nil {
		return http.StatusBadRequest, "batch_id: " + err.Error(), false
	}
	if k := req.Header.Get("Idempotency-Key"); k != b.BatchID {
		return http.StatusBadRequest, "Idempotency-Key " + strconv.Quote(k) + " is not the batch_id", false
	}
	if b.CollectorID != collector || b.MemberID != member {
		return http.StatusForbidden, "batch is for another collector or member than the certificate", false
	}
	if b.Created.IsZero() || b.Seq == 0 {
		return http.StatusBadRequest, "batch: created and seq are required", false
	}
	for i, d := range b.Detections {
		if !json.Valid(d) || len(d) == 0 || d[0] != '{' {
			return http.StatusBadRequest, fmt.Sprintf("detections[%d]: not a JSON object", i), false
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	key := collector + "/" + b.BatchID
	if r.seen[key] {
		r.duplicates++
		return http.StatusOK, "", true
	}
	r.seen[key] = true
	r.accepted = append(r.accepted, Accepted{Batch: b, CertSerial: serial, Received: time.Now()})
	close(r.changed)
	r.changed = make(chan struct{})
	return http.StatusOK, "", false
}

func (r *Receiver) getUpdates(w http.ResponseWriter, req *http.Request) {
	if _, _, _, ok := identity(req); !ok {
		http.Error(w, "client certificate required", http.StatusUnauthorized)
		return
	}
	r.mu.Lock()
	items := append([]update.Signed(nil), r.updates...)
	r.mu.Unlock()
	if len(items) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, update.Manifest{Items: items})
}
