package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
)

func TestSignCSR(t *testing.T) {
	ca := newCA(t, Options{})
	id := ulid.Make().String()
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]crypto.Signer{
		"P-256": newECKey(t), "P-384": p384, "Ed25519": edKey, "RSA-2048": rsaKey,
	} {
		t.Run(name, func(t *testing.T) {
			// The request asks for a subject, names and uses that central
			// must not grant.
			der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
				Subject:     pkix.Name{CommonName: "admin", OrganizationalUnit: []string{"other-member"}},
				DNSNames:    []string{"central.example.org"},
				IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			}, key)
			if err != nil {
				t.Fatal(err)
			}
			csr := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
			before := time.Now()
			chain, serial, notAfter, err := ca.SignCSR(csr, id, "acme", 0)
			if err != nil {
				t.Fatal(err)
			}
			blk, rest := pem.Decode(chain)
			if blk == nil || len(rest) != 0 {
				t.Fatalf("chain is not one PEM certificate:\n%s", chain)
			}
			leaf, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if leaf.Subject.CommonName != id || !slices.Equal(leaf.Subject.OrganizationalUnit, []string{"acme"}) {
				t.Errorf("subject %q, want CN=%s OU=acme", leaf.Subject, id)
			}
			if len(leaf.DNSNames)+len(leaf.IPAddresses)+len(leaf.EmailAddresses)+len(leaf.URIs) != 0 {
				t.Errorf("certificate carries the names the request asked for: %v %v", leaf.DNSNames, leaf.IPAddresses)
			}
			if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) || leaf.IsCA {
				t.Errorf("ext key usage %v, IsCA %v: want client auth only", leaf.ExtKeyUsage, leaf.IsCA)
			}
			if !leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
				t.Error("certificate is not for the request's key")
			}
			if serial != FormatSerial(leaf.SerialNumber) || leaf.SerialNumber.BitLen() > 128 || leaf.SerialNumber.BitLen() < 64 {
				t.Errorf("serial %s (%d bits)", serial, leaf.SerialNumber.BitLen())
			}
			if !notAfter.Equal(leaf.NotAfter) {
				t.Errorf("notAfter %v, certificate says %v", notAfter, leaf.NotAfter)
			}
			if d := leaf.NotAfter.Sub(before); d < 90*24*time.Hour-time.Minute || d > 90*24*time.Hour+time.Minute {
				t.Errorf("lifetime %v, want 90 days", d)
			}
			collector, member, err := ca.VerifyPeer(leaf)
			if err != nil || collector != id || member != "acme" {
				t.Errorf("VerifyPeer: %q %q %v", collector, member, err)
			}
		})
	}
}

func TestSignCSRSerialsDiffer(t *testing.T) {
	ca := newCA(t, Options{})
	csr := newCSR(t, newECKey(t), pkix.Name{})
	seen := map[string]bool{}
	for range 20 {
		_, serial, _, err := ca.SignCSR(csr, ulid.Make().String(), "acme", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if seen[serial] {
			t.Fatalf("serial %s issued twice", serial)
		}
		seen[serial] = true
	}
}

func TestSignCSRLifetime(t *testing.T) {
	ca := newCA(t, Options{})
	csr := newCSR(t, newECKey(t), pkix.Name{})
	_, _, notAfter, err := ca.SignCSR(csr, ulid.Make().String(), "acme", 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(notAfter); d < time.Hour+59*time.Minute || d > 2*time.Hour {
		t.Errorf("2h certificate ends in %v", d)
	}
	// Never beyond the CA.
	_, _, notAfter, err = ca.SignCSR(csr, ulid.Make().String(), "acme", 20*365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !notAfter.Equal(ca.Certificate().NotAfter) {
		t.Errorf("20-year certificate ends %v, CA %v", notAfter, ca.Certificate().NotAfter)
	}
	if _, _, _, err := ca.SignCSR(csr, ulid.Make().String(), "acme", -time.Hour); err == nil {
		t.Error("negative lifetime: no error")
	}
}

func TestSignCSRRefuses(t *testing.T) {
	ca := newCA(t, Options{})
	good := newCSR(t, newECKey(t), pkix.Name{})

	blk, _ := pem.Decode(good)
	tampered := slices.Clone(blk.Bytes)
	tampered[len(tampered)-3] ^= 0x55 // inside the signature
	weak, err := rsa.GenerateKey(rand.Reader, 1536)
	if err != nil {
		t.Fatal(err)
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)

	for _, tc := range []struct {
		name string
		csr  []byte
		want string
	}{
		{"bad signature", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tampered}), "signature"},
		{"RSA-1536", newCSR(t, weak, pkix.Name{}), "RSA key of 1536 bits"},
		{"P-224", newCSR(t, p224, pkix.Name{}), "P-224"},
		{"P-521", newCSR(t, p521, pkix.Name{}), "P-521"},
		{"empty", nil, "no PEM"},
		{"certificate instead", ca.CAPEM(), "no PEM CERTIFICATE REQUEST"},
		{"trailing data", append(slices.Clone(good), "junk"...), "data after"},
		{"garbage DER", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte("junk")}), "asn1"},
		{"too large", append(slices.Clone(good), make([]byte, maxCSR)...), "more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := ca.SignCSR(tc.csr, ulid.Make().String(), "acme", 0)
			if !errors.Is(err, ErrBadCSR) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("SignCSR: %v, want ErrBadCSR containing %q", err, tc.want)
			}
		})
	}
	for _, ids := range [][2]string{{"not-a-ulid", "acme"}, {ulid.Make().String(), "Acme"}, {ulid.Make().String(), ""}, {ulid.Make().String(), "-x"}} {
		if _, _, _, err := ca.SignCSR(good, ids[0], ids[1], 0); err == nil {
			t.Errorf("SignCSR for collector %q member %q: no error", ids[0], ids[1])
		}
	}
}

func TestVerifyPeerRefusesForeignSubject(t *testing.T) {
	// A certificate the CA signed but not through SignCSR, as an older
	// or broken issuer might have: VerifyPeer must not trust its names.
	ca := newCA(t, Options{})
	key := newECKey(t)
	for _, subj := range []pkix.Name{
		{CommonName: "not-a-ulid", OrganizationalUnit: []string{"acme"}},
		{CommonName: ulid.Make().String()},
		{CommonName: ulid.Make().String(), OrganizationalUnit: []string{"acme", "other"}},
	} {
		tmpl := &x509.Certificate{
			SerialNumber: newSerial(), Subject: subj,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(der)
		if _, _, err := ca.VerifyPeer(leaf); err == nil {
			t.Errorf("VerifyPeer accepted subject %q", subj)
		}
	}
	if _, _, err := ca.VerifyPeer(nil); !errors.Is(err, ErrNoCertificate) {
		t.Errorf("VerifyPeer(nil): %v", err)
	}
}
