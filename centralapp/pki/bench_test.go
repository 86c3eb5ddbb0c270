package pki

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http/httptest"
	"testing"

	"github.com/oklog/ulid/v2"
)

// BenchmarkVerifyPeer is the per-request certificate check of the ingest
// path.
func BenchmarkVerifyPeer(b *testing.B) {
	ca, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	cert, _, _ := clientCert(b, ca, "acme")
	for range 1000 {
		_, serial, _, err := ca.SignCSR(newCSR(b, newECKey(b), pkix.Name{}), ulid.Make().String(), "acme", 0)
		if err != nil {
			b.Fatal(err)
		}
		ca.Revoke(serial)
	}
	for b.Loop() {
		if _, _, err := ca.VerifyPeer(cert.Leaf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignCSR is the cost of one enrolment or renewal.
func BenchmarkSignCSR(b *testing.B) {
	ca, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	csr := newCSR(b, newECKey(b), pkix.Name{})
	id := ulid.Make().String()
	for b.Loop() {
		if _, _, _, err := ca.SignCSR(csr, id, "acme", 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyRequest is the per-request check on a connection whose
// handshake verified the chain: what ingest pays per batch.
func BenchmarkVerifyRequest(b *testing.B) {
	ca, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	cert, _, _ := clientCert(b, ca, "acme")
	r := httptest.NewRequest("GET", "/", nil)
	r.TLS = &tls.ConnectionState{
		PeerCertificates: []*x509.Certificate{cert.Leaf},
		VerifiedChains:   [][]*x509.Certificate{{cert.Leaf, ca.Certificate()}},
	}
	for b.Loop() {
		if _, _, err := ca.VerifyRequest(r); err != nil {
			b.Fatal(err)
		}
	}
}
