package input

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func startTCP(t testing.TB, cfg TCPConfig, c *collector) *TCP {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "tcp"
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	in, err := NewTCP(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Start(context.Background(), c.sink); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	return in
}

func dial(t testing.TB, in *TCP) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", in.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func octet(s string) string { return fmt.Sprintf("%d %s", len(s), s) }

func TestTCPNewlineFraming(t *testing.T) {
	c := newCollector()
	in := startTCP(t, TCPConfig{}, c)
	conn := dial(t, in)
	want := numbered("<13>Nov 27 10:00:00 host app: newline", 2000)
	w := bufio.NewWriter(conn)
	for _, l := range want {
		w.WriteString(l + "\n")
	}
	w.Flush()
	c.wait(t, len(want), 10*time.Second)
	diffLines(t, c.texts(), want)
	l := c.lines[0]
	local := conn.LocalAddr().(*net.TCPAddr).AddrPort()
	if l.Source != local || l.Received.IsZero() || l.End != 0 {
		t.Errorf("line = %+v, want source %v", l, local)
	}
	if got := in.Stats().Lines.Load(); got != uint64(len(want)) {
		t.Errorf("Stats.Lines = %d, want %d", got, len(want))
	}
	if got := in.Stats().Connections.Load(); got != 1 {
		t.Errorf("Stats.Connections = %d, want 1", got)
	}
}

func TestTCPOctetCounting(t *testing.T) {
	c := newCollector()
	in := startTCP(t, TCPConfig{}, c)
	conn := dial(t, in)
	want := numbered("<165>1 2026-11-27T10:00:00Z host app - - - counted\nwith a newline inside", 1000)
	var sb strings.Builder
	for _, l := range want {
		sb.WriteString(octet(l))
	}
	// Written in small pieces, so that frames and counts straddle reads.
	data := sb.String()
	for len(data) > 0 {
		n := min(len(data), 7)
		if _, err := io.WriteString(conn, data[:n]); err != nil {
			t.Fatal(err)
		}
		data = data[n:]
	}
	c.wait(t, len(want), 10*time.Second)
	diffLines(t, c.texts(), want)
}

// Malformed, binary and oversize frames, mixed with good ones: the bad
// are dropped and counted, the good come through, and the connection and
// the input carry on.
func TestTCPMixedAndMalformedFrames(t *testing.T) {
	c := newCollector()
	in := startTCP(t, TCPConfig{Common: Common{MaxMessage: 100}}, c)
	conn := dial(t, in)
	long := "<13>" + strings.Repeat("x", 300)
	frames := []string{
		"<13>Nov 27 10:00:00 host app: newline\n",
		octet("<13>Nov 27 10:00:01 host app: counted"),
		octet("<13>Nov 27 10:00:02 host app: counted, then newline") + "\n",
		"\x00\x01\xff\xfe binary\n",
		"crlf\r\n",
		"\n\n",
		long + "\n",
		octet(long),
		"12 not a count\n",
		"999999999999 <13> huge count is a line\n",
		"after\n",
	}
	for _, f := range frames {
		if _, err := io.WriteString(conn, f); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"<13>Nov 27 10:00:00 host app: newline",
		"<13>Nov 27 10:00:01 host app: counted",
		"<13>Nov 27 10:00:02 host app: counted, then newline",
		"\x00\x01\xff\xfe binary",
		"crlf",
		"12 not a count",
		"999999999999 <13> huge count is a line",
		"after",
	}
	c.wait(t, len(want), 10*time.Second)
	diffLines(t, c.texts(), want)
	if got := in.Stats().Oversize.Load(); got != 2 {
		t.Errorf("Stats.Oversize = %d, want 2", got)
	}
	// A new connection is served as before.
	conn2 := dial(t, in)
	io.WriteString(conn2, "second connection\n")
	c.wait(t, len(want)+1, 5*time.Second)
}

func TestTCPMaxConnections(t *testing.T) {
	c := newCollector()
	in := startTCP(t, TCPConfig{MaxConnections: 2}, c)
	a, b := dial(t, in), dial(t, in)
	io.WriteString(a, "a\n")
	io.WriteString(b, "b\n")
	c.wait(t, 2, 5*time.Second)
	refused := dial(t, in)
	refused.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := refused.Read(make([]byte, 1)); err == nil {
		t.Fatal("third connection was not closed")
	}
	if got := in.Stats().Rejected.Load(); got != 1 {
		t.Errorf("Stats.Rejected = %d, want 1", got)
	}
	a.Close()
	eventually(t, 5*time.Second, "the closed connection to be untracked", func() bool { return in.Stats().Connections.Load() == 1 })
	d := dial(t, in)
	io.WriteString(d, "d\n")
	c.wait(t, 3, 5*time.Second)
}

// A pipeline that does not take batches stops the input reading, which
// stops the sender; once it takes them again, every line arrives, in order.
func TestTCPBackpressure(t *testing.T) {
	c := newCollector()
	c.gate = make(chan struct{})
	in := startTCP(t, TCPConfig{}, c)
	conn := dial(t, in)
	// A small send buffer; the receiver's may grow to several megabytes.
	conn.(*net.TCPConn).SetWriteBuffer(64 << 10)
	want := numbered("<13>Nov 27 10:00:00 host app: "+strings.Repeat("p", 100), 100_000) // ~14 MB
	var written atomic.Int64
	sent := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(conn, 64<<10)
		for _, l := range want {
			n, err := w.WriteString(l + "\n")
			if err != nil {
				sent <- err
				return
			}
			written.Add(int64(n))
		}
		sent <- w.Flush()
	}()
	// Let the sender fill the socket buffers, then check that it stalls.
	var last int64
	eventually(t, 10*time.Second, "the sender to stall", func() bool {
		time.Sleep(200 * time.Millisecond)
		now := written.Load()
		stalled := now == last && now > 0
		last = now
		return stalled
	})
	total := int64(0)
	for _, l := range want {
		total += int64(len(l) + 1)
	}
	if last >= total {
		t.Fatal("the sender wrote everything while the pipeline was blocked")
	}
	t.Logf("sender stalled after %d of %d bytes", last, total)
	if c.count() != 0 {
		t.Fatalf("%d lines delivered through a closed gate", c.count())
	}
	close(c.gate)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	c.wait(t, len(want), 30*time.Second)
	diffLines(t, c.texts(), want)
	if got := in.Stats().Undelivered.Load(); got != 0 {
		t.Errorf("Stats.Undelivered = %d", got)
	}
}

// Over-rate lines on a stream are kept, and the stream is slowed.
func TestTCPRateSlowsSender(t *testing.T) {
	c := newCollector()
	in := startTCP(t, TCPConfig{Common: Common{Rate: 100, Burst: 10}}, c)
	conn := dial(t, in)
	want := numbered("rated", 60)
	start := time.Now()
	io.WriteString(conn, strings.Join(want, "\n")+"\n")
	c.wait(t, len(want), 10*time.Second)
	elapsed := time.Since(start)
	diffLines(t, c.texts(), want)
	// 10 at once, then 50 at 100 per second.
	if elapsed < 400*time.Millisecond {
		t.Errorf("60 lines at 100/s with a burst of 10 took %v, want about 500ms", elapsed)
	}
	// A line waits unless the wait for the one before, rounded up by the
	// timer, refilled more than one token.
	if got := in.Stats().RateDelayed.Load(); got < 10 || got > 50 {
		t.Errorf("Stats.RateDelayed = %d, want up to 50", got)
	}
}

// Close ends connections that are still open and waits for their
// goroutines (goleak checks), having delivered what was read.
func TestTCPCloseWithOpenConnections(t *testing.T) {
	c := newCollector()
	in := startTCP(t, TCPConfig{}, c)
	conns := []net.Conn{dial(t, in), dial(t, in), dial(t, in)}
	for i, conn := range conns {
		fmt.Fprintf(conn, "line from %d\n", i)
	}
	c.wait(t, 3, 5*time.Second)
	in.Close()
	<-in.Done()
	if got := in.Stats().Connections.Load(); got != 0 {
		t.Errorf("Stats.Connections = %d after Close", got)
	}
}

// pki is a CA with a server and a client certificate, as PEM files.
type pki struct {
	dir                       string
	caFile, certFile, keyFile string
	roots                     *x509.CertPool
	clientCert                tls.Certificate
	otherClientCert           tls.Certificate // signed by another CA
	notAfter                  time.Time
	serial                    int64
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir(), notAfter: time.Now().Add(time.Hour)}
	caKey, caCert, caDER := p.newCA(t, "test CA")
	p.caFile = p.writePEM(t, "ca.pem", "CERTIFICATE", caDER)
	p.roots = x509.NewCertPool()
	p.roots.AddCert(caCert)

	serverKey, serverDER := p.issue(t, caCert, caKey, &x509.Certificate{
		Subject: pkix.Name{CommonName: "collector"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	p.certFile = p.writePEM(t, "server.pem", "CERTIFICATE", serverDER)
	keyDER, err := x509.MarshalPKCS8PrivateKey(serverKey)
	if err != nil {
		t.Fatal(err)
	}
	p.keyFile = p.writePEM(t, "server.key", "PRIVATE KEY", keyDER)

	clientKey, clientDER := p.issue(t, caCert, caKey, &x509.Certificate{
		Subject: pkix.Name{CommonName: "firewall"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	p.clientCert = tls.Certificate{Certificate: [][]byte{clientDER}, PrivateKey: clientKey}

	otherKey, otherCA, _ := p.newCA(t, "other CA")
	ok, odr := p.issue(t, otherCA, otherKey, &x509.Certificate{
		Subject: pkix.Name{CommonName: "intruder"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	p.otherClientCert = tls.Certificate{Certificate: [][]byte{odr}, PrivateKey: ok}
	return p
}

func (p *pki) newCA(t testing.TB, name string) (*ecdsa.PrivateKey, *x509.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: p.notAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert, der
}

func (p *pki) issue(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.serial++
	tmpl.SerialNumber = big.NewInt(p.serial)
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Minute), p.notAfter
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}

func (p *pki) writePEM(t testing.TB, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTLS(t *testing.T) {
	p := newPKI(t)
	c := newCollector()
	in := startTCP(t, TCPConfig{TLS: &TLSConfig{Cert: p.certFile, Key: p.keyFile, ClientCA: p.caFile}}, c)
	addr := in.Addr().String()
	dialTLS := func(conf *tls.Config) (*tls.Conn, error) {
		conf.RootCAs = p.roots
		conn, err := tls.Dial("tcp", addr, conf)
		if err == nil {
			t.Cleanup(func() { conn.Close() })
		}
		return conn, err
	}
	// handshakeFails checks that the server refuses a client: with TLS 1.3
	// the client learns of a refused certificate at its first read.
	handshakeFails := func(name string, conf *tls.Config) {
		t.Helper()
		before := in.Stats().Errors.Load()
		conn, err := dialTLS(conf)
		if err == nil {
			io.WriteString(conn, "must not arrive\n")
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = conn.Read(make([]byte, 1))
		}
		if err == nil || strings.Contains(err.Error(), "timeout") {
			t.Errorf("%s: not refused (%v)", name, err)
		}
		eventually(t, 5*time.Second, name+" to be counted", func() bool { return in.Stats().Errors.Load() > before })
	}

	// TLS garbage from a plain TCP client: the input carries on.
	plain := dial(t, in)
	io.WriteString(plain, "<13>Nov 27 10:00:00 host app: plain text to a TLS port\n")
	plain.Write([]byte{0x16, 0x03, 0x01, 0xff, 0xff, 0xde, 0xad})
	plain.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(plain); err != nil && !strings.Contains(err.Error(), "reset") {
		t.Errorf("plain client: %v, want the server to close", err)
	}
	eventually(t, 5*time.Second, "the garbage to be counted", func() bool { return in.Stats().Errors.Load() >= 1 })

	handshakeFails("client without a certificate", &tls.Config{})
	handshakeFails("client of another CA", &tls.Config{Certificates: []tls.Certificate{p.otherClientCert}})
	handshakeFails("TLS 1.1 client", &tls.Config{Certificates: []tls.Certificate{p.clientCert}, MaxVersion: tls.VersionTLS11})

	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		conn, err := dialTLS(&tls.Config{Certificates: []tls.Certificate{p.clientCert}, MaxVersion: v})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, octet("<13>Nov 27 10:00:00 host app: over TLS")+"<13>Nov 27 10:00:01 host app: newline over TLS\n")
	}
	c.wait(t, 4, 5*time.Second)
	for _, l := range c.texts() {
		if strings.Contains(l, "must not") || strings.Contains(l, "plain") {
			t.Errorf("line %q came through a refused connection", l)
		}
	}
	if got := c.lines[0].Source.Addr(); got != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("source = %v", got)
	}
}
