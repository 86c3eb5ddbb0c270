package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a settable clock for Options.Now.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time            { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration)   { c.offset.Add(int64(d)) }
func newCA(t *testing.T, opts Options) *CA { return openCA(t, t.TempDir(), opts) }
func openCA(t *testing.T, dir string, opts Options) *CA {
	t.Helper()
	ca, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func newCSR(t testing.TB, key crypto.Signer, subject pkix.Name) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// clientCert issues a collector certificate from ca and returns it with its
// serial.
func clientCert(t testing.TB, ca *CA, member string) (tls.Certificate, string, string) {
	t.Helper()
	key := newECKey(t)
	id := ulid.Make().String()
	chain, serial, _, err := ca.SignCSR(newCSR(t, key, pkix.Name{CommonName: "ignored"}), id, member, 0)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(chain)
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{blk.Bytes}, PrivateKey: key, Leaf: leaf}, serial, id
}

// serve runs an HTTPS server with cfg on 127.0.0.1 until the test ends. Its
// one handler answers with the verified identity of the client, or 403.
func serve(t *testing.T, ca *CA, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			collector, member, err := ca.VerifyRequest(r)
			if err != nil {
				http.Error(w, err.Error(), http.StatusForbidden)
				return
			}
			fmt.Fprintf(w, "%s/%s", collector, member)
		}),
		TLSConfig: cfg,
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeTLS(ln, "", "")
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return "https://" + ln.Addr().String()
}

// client returns an HTTPS client trusting roots and presenting cert, if
// any, closed when the test ends.
func client(t *testing.T, roots *x509.CertPool, cert *tls.Certificate, maxVersion uint16) *http.Client {
	t.Helper()
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: maxVersion, RootCAs: roots}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// get returns the status and body of GET url, or the transport error.
func get(c *http.Client, url string) (int, string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", err
	}
	return resp.StatusCode, string(b), nil
}

func mustServerTLS(t *testing.T, ca *CA, hosts ...string) *tls.Config {
	t.Helper()
	cfg, err := ca.ServerTLS(hosts)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func ed25519Key(b []byte) ed25519.PublicKey { return ed25519.PublicKey(b) }
