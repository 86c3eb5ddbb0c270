package pki

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMutualTLS(t *testing.T) {
	ca := newCA(t, Options{})
	url := serve(t, ca, mustServerTLS(t, ca))
	cert, _, id := clientCert(t, ca, "acme")

	status, body, err := get(client(t, ca.Pool(), &cert, 0), url)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusOK || body != id+"/acme" {
		t.Fatalf("got %d %q, want 200 %q", status, body, id+"/acme")
	}

	// Enrolment has no certificate: the handshake succeeds and the HTTP
	// layer decides.
	status, body, err = get(client(t, ca.Pool(), nil, 0), url)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusForbidden || !strings.Contains(body, "no client certificate") {
		t.Fatalf("without a certificate: %d %q", status, body)
	}
}

func TestRevokedRefused(t *testing.T) {
	ca := newCA(t, Options{})
	url := serve(t, ca, mustServerTLS(t, ca))
	cert, serial, _ := clientCert(t, ca, "acme")
	c := client(t, ca.Pool(), &cert, 0)
	if status, _, err := get(c, url); err != nil || status != http.StatusOK {
		t.Fatalf("before revocation: %d %v", status, err)
	}

	if err := ca.Revoke(strings.ToUpper(serial)); err != nil {
		t.Fatal(err)
	}
	// The connection opened before the revocation is still up: the
	// per-request check refuses it.
	status, body, err := get(c, url)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusForbidden || !strings.Contains(body, "revoked") {
		t.Fatalf("open connection after revocation: %d %q", status, body)
	}
	// A new connection fails its handshake.
	if _, _, err := get(client(t, ca.Pool(), &cert, 0), url); err == nil {
		t.Fatal("new connection with a revoked certificate: no error")
	}
	// Other collectors are unaffected.
	other, _, _ := clientCert(t, ca, "acme")
	if status, _, err := get(client(t, ca.Pool(), &other, 0), url); err != nil || status != http.StatusOK {
		t.Fatalf("another certificate: %d %v", status, err)
	}
}

// revokedList is a Revocations backed by a fixed list, standing in for one
// the server refreshes from the store.
type revokedList []string

func (l revokedList) Revoked(serial string) bool { return slices.Contains(l, serial) }

func TestRevocationsOption(t *testing.T) {
	dir := t.TempDir()
	issuer := openCA(t, dir, Options{})
	cert, serial, _ := clientCert(t, issuer, "acme")

	ca := openCA(t, dir, Options{Revocations: revokedList{serial}})
	if _, _, err := ca.VerifyPeer(cert.Leaf); !errors.Is(err, ErrRevoked) {
		t.Fatalf("VerifyPeer: %v, want ErrRevoked", err)
	}
	url := serve(t, ca, mustServerTLS(t, ca))
	if _, _, err := get(client(t, ca.Pool(), &cert, 0), url); err == nil {
		t.Fatal("handshake with a certificate the store revoked: no error")
	}
}

func TestRevokedOnResumedSession(t *testing.T) {
	ca := newCA(t, Options{})
	url := serve(t, ca, mustServerTLS(t, ca))
	cert, serial, _ := clientCert(t, ca, "acme")
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS13,
		RootCAs:            ca.Pool(),
		Certificates:       []tls.Certificate{cert},
		ClientSessionCache: tls.NewLRUClientSessionCache(4),
	}
	addr := strings.TrimPrefix(url, "https://")
	dial := func() (*tls.ConnectionState, error) {
		conn, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		// In TLS 1.3 the server's verdict on the client certificate,
		// and the session ticket, arrive after the client's handshake
		// completes: read to receive them.
		conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		var buf [1]byte
		_, err = conn.Read(buf[:])
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			return nil, err
		}
		cs := conn.ConnectionState()
		return &cs, nil
	}
	if _, err := dial(); err != nil {
		t.Fatal(err)
	}
	cs, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	if !cs.DidResume {
		t.Fatal("second connection did not resume; the test proves nothing")
	}
	if err := ca.Revoke(serial); err != nil {
		t.Fatal(err)
	}
	if _, err := dial(); err == nil {
		t.Fatal("resumed session with a revoked certificate: no error")
	}
}

func TestExpiredCertificateRefused(t *testing.T) {
	dir := t.TempDir()
	ca := openCA(t, dir, Options{})
	past := openCA(t, dir, Options{Now: func() time.Time { return time.Now().Add(-100 * 24 * time.Hour) }})
	cert, _, _ := clientCert(t, past, "acme")
	if !cert.Leaf.NotAfter.Before(time.Now()) {
		t.Fatalf("certificate not expired: %v", cert.Leaf.NotAfter)
	}
	url := serve(t, ca, mustServerTLS(t, ca))
	if _, _, err := get(client(t, ca.Pool(), &cert, 0), url); err == nil {
		t.Fatal("handshake with an expired certificate: no error")
	}
	if _, _, err := ca.VerifyPeer(cert.Leaf); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("VerifyPeer of an expired certificate: %v", err)
	}
}

func TestCertificateOfAnotherCARefused(t *testing.T) {
	ca := newCA(t, Options{})
	other := newCA(t, Options{})
	cert, _, _ := clientCert(t, other, "acme")
	url := serve(t, ca, mustServerTLS(t, ca))
	if _, _, err := get(client(t, ca.Pool(), &cert, 0), url); err == nil {
		t.Fatal("handshake with another CA's certificate: no error")
	}
	if _, _, err := ca.VerifyPeer(cert.Leaf); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Fatalf("VerifyPeer of another CA's certificate: %v", err)
	}
}

func TestServerCertificateRefusedAsClient(t *testing.T) {
	ca := newCA(t, Options{})
	cfg := mustServerTLS(t, ca)
	url := serve(t, ca, cfg)
	srvCert, err := cfg.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	// Signed by the right CA but not for client authentication.
	if _, _, err := get(client(t, ca.Pool(), srvCert, 0), url); err == nil {
		t.Fatal("handshake with the server certificate as a client certificate: no error")
	}
	if _, _, err := ca.VerifyPeer(srvCert.Leaf); err == nil {
		t.Fatal("VerifyPeer accepted a server certificate")
	}
}

func TestTLS12Refused(t *testing.T) {
	ca := newCA(t, Options{})
	url := serve(t, ca, mustServerTLS(t, ca))
	cert, _, _ := clientCert(t, ca, "acme")
	_, _, err := get(client(t, ca.Pool(), &cert, tls.VersionTLS12), url)
	if err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Fatalf("TLS 1.2 client: %v, want a protocol version error", err)
	}
}

// TestPinnedCA is the collector's --ca-sha256 path: trust nothing but the
// certificate in central's chain whose SHA-256 is the pinned one.
func TestPinnedCA(t *testing.T) {
	ca := newCA(t, Options{})
	url := serve(t, ca, mustServerTLS(t, ca, "central.example.org"))
	pin := ca.CAFingerprint()
	var sentChain int
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // VerifyConnection checks against the pin
		VerifyConnection: func(cs tls.ConnectionState) error {
			sentChain = len(cs.PeerCertificates)
			roots := x509.NewCertPool()
			for _, c := range cs.PeerCertificates {
				if sum := sha256.Sum256(c.Raw); strings.EqualFold(pin, hex.EncodeToString(sum[:])) {
					roots.AddCert(c)
				}
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: cs.ServerName, Roots: roots})
			return err
		},
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	defer tr.CloseIdleConnections()
	status, body, err := get(&http.Client{Transport: tr}, url)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusForbidden || sentChain != 2 {
		t.Fatalf("got %d %q with a chain of %d, want 403 (no client certificate) and a chain of 2", status, body, sentChain)
	}
	// A wrong pin fails.
	pin = strings.Repeat("0", 64)
	tr.CloseIdleConnections()
	if _, _, err := get(&http.Client{Transport: tr}, url); err == nil {
		t.Fatal("wrong pin: no error")
	}
}

func TestServerCertificateHosts(t *testing.T) {
	ca := newCA(t, Options{})
	cfg := mustServerTLS(t, ca, "Central.Example.org.", "192.0.2.10", "2001:db8::1", "localhost")
	cert, err := cfg.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.Certificate) != 2 || !bytes.Equal(cert.Certificate[1], ca.Certificate().Raw) {
		t.Fatal("server chain does not end with the CA certificate")
	}
	leaf := cert.Leaf
	if want := []string{"central.example.org", "localhost"}; !slices.Equal(leaf.DNSNames, want) {
		t.Errorf("DNS names %v, want %v", leaf.DNSNames, want)
	}
	var ips []string
	for _, ip := range leaf.IPAddresses {
		ips = append(ips, ip.String())
	}
	if want := []string{"192.0.2.10", "2001:db8::1", "127.0.0.1", "::1"}; !slices.Equal(ips, want) {
		t.Errorf("IP addresses %v, want %v", ips, want)
	}
	for _, host := range []string{"central.example.org", "127.0.0.1", "::1", "localhost"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: ca.Pool()}); err != nil {
			t.Errorf("server certificate for %s: %v", host, err)
		}
	}
	if tls13 := cfg.MinVersion == tls.VersionTLS13 && cfg.MaxVersion == tls.VersionTLS13; !tls13 {
		t.Error("config is not TLS 1.3 only")
	}

	for _, bad := range []string{"central:8443", "-x.example", "exa mple.org", "*.org", "a..b", strings.Repeat("a", 64) + ".org"} {
		if _, err := ca.ServerTLS([]string{bad}); err == nil {
			t.Errorf("ServerTLS(%q): no error", bad)
		}
	}
	if _, err := ca.ServerTLS([]string{"*.central.example.org"}); err != nil {
		t.Errorf("wildcard: %v", err)
	}
}

func TestServerCertificateRenewed(t *testing.T) {
	var clk clock
	ca := newCA(t, Options{ServerCertLifetime: 30 * 24 * time.Hour, Now: clk.now})
	cfg := mustServerTLS(t, ca)
	serial := func() string {
		t.Helper()
		c, err := cfg.GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return FormatSerial(c.Leaf.SerialNumber)
	}
	first := serial()
	clk.advance(19 * 24 * time.Hour)
	if serial() != first {
		t.Fatal("renewed with more than a third of its validity left")
	}
	clk.advance(2 * 24 * time.Hour)
	second := serial()
	if second == first {
		t.Fatal("not renewed with less than a third of its validity left")
	}
	if serial() != second {
		t.Fatal("renewed again at once")
	}
}

func TestExpiresOnOpenConnection(t *testing.T) {
	var clk clock
	ca := newCA(t, Options{Now: clk.now})
	url := serve(t, ca, mustServerTLS(t, ca))
	cert, _, _ := clientCert(t, ca, "acme")
	c := client(t, ca.Pool(), &cert, 0)
	if status, _, err := get(c, url); err != nil || status != http.StatusOK {
		t.Fatalf("fresh certificate: %d %v", status, err)
	}
	clk.advance(91 * 24 * time.Hour)
	status, body, err := get(c, url)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusForbidden || !strings.Contains(body, "not valid at") {
		t.Fatalf("expired during the connection: %d %q", status, body)
	}
}

func TestVerifyRequestWithoutHandshakeChain(t *testing.T) {
	ca := newCA(t, Options{})
	other := newCA(t, Options{})
	mine, _, id := clientCert(t, ca, "acme")
	theirs, _, _ := clientCert(t, other, "acme")
	req := func(leaf *x509.Certificate, chains [][]*x509.Certificate) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}, VerifiedChains: chains}
		return r
	}
	// Another CA's certificate that a handshake verified up to that CA,
	// as under another tls.Config: the chain does not end here, so the
	// certificate is verified in full, and fails.
	if _, _, err := ca.VerifyRequest(req(theirs.Leaf, [][]*x509.Certificate{{theirs.Leaf, other.Certificate()}})); err == nil {
		t.Error("another CA's certificate, verified elsewhere: no error")
	}
	if _, _, err := ca.VerifyRequest(req(theirs.Leaf, nil)); err == nil {
		t.Error("another CA's certificate, unverified: no error")
	}
	if got, _, err := ca.VerifyRequest(req(mine.Leaf, nil)); err != nil || got != id {
		t.Errorf("own certificate, unverified: %q %v", got, err)
	}
	if _, _, err := ca.VerifyRequest(httptest.NewRequest("GET", "/", nil)); !errors.Is(err, ErrNoCertificate) {
		t.Errorf("plain HTTP: %v", err)
	}
}
