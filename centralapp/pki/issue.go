package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/oklog/ulid/v2"
)

// Bounds on what SignCSR accepts.
const (
	maxCSR     = 16 << 10 // PEM bytes; an RSA-8192 request is about 2.5 KiB
	minRSABits = 2048
	maxRSABits = 8192 // crypto/tls refuses larger keys anyway
)

// ErrBadCSR is matched by every error SignCSR returns for a request that it
// refuses, as opposed to a failure of the CA itself.
var ErrBadCSR = errors.New("pki: bad certificate request")

var validMember = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// SignCSR issues a client certificate for the key in csrPEM, which must be
// signed with that key. The certificate names collectorID (a ULID) as its
// subject common name and memberID as its one organisational unit; whatever
// subject, names or extensions the request asks for are ignored. It is good
// for client authentication only, for lifetime (zero: 90 days), and never
// outlives the CA.
//
// chainPEM is the leaf alone: there are no intermediates, and the root is the
// CA the collector pins. serial is in FormatSerial's form.
func (c *CA) SignCSR(csrPEM []byte, collectorID, memberID string, lifetime time.Duration) (chainPEM []byte, serial string, notAfter time.Time, err error) {
	if _, err := ulid.ParseStrict(collectorID); err != nil {
		return nil, "", time.Time{}, fmt.Errorf("pki: collector id %q is not a ULID", collectorID)
	}
	if !validMember.MatchString(memberID) {
		return nil, "", time.Time{}, fmt.Errorf("pki: member id %q: want [a-z0-9][a-z0-9._-]{0,63}", memberID)
	}
	if lifetime < 0 {
		return nil, "", time.Time{}, fmt.Errorf("pki: negative certificate lifetime %v", lifetime)
	}
	if lifetime == 0 {
		lifetime = DefaultClientLifetime
	}
	csr, err := parseCSR(csrPEM)
	if err != nil {
		return nil, "", time.Time{}, fmt.Errorf("%w: %w", ErrBadCSR, err)
	}
	now := c.now()
	notAfter = now.Add(lifetime)
	if notAfter.After(c.cert.NotAfter) {
		notAfter = c.cert.NotAfter
	}
	sn := newSerial()
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: collectorID, OrganizationalUnit: []string{memberID}},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, csr.PublicKey, c.key)
	if err != nil {
		return nil, "", time.Time{}, fmt.Errorf("pki: issue certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, "", time.Time{}, fmt.Errorf("pki: issue certificate: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), FormatSerial(sn), leaf.NotAfter, nil
}

// parseCSR decodes one PEM certificate request, checks its self-signature
// and that its key is one this CA certifies.
func parseCSR(b []byte) (*x509.CertificateRequest, error) {
	if len(b) > maxCSR {
		return nil, fmt.Errorf("%d bytes, more than %d", len(b), maxCSR)
	}
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("no PEM CERTIFICATE REQUEST block")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("data after the request")
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil {
		return nil, err
	}
	if err := checkPublicKey(csr.PublicKey); err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	return csr, nil
}

func checkPublicKey(pub any) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return fmt.Errorf("ECDSA key on %s; want P-256 or P-384", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < minRSABits || n > maxRSABits {
			return fmt.Errorf("RSA key of %d bits; want %d to %d", n, minRSABits, maxRSABits)
		}
	default:
		return fmt.Errorf("%T key; want ECDSA P-256/P-384, Ed25519 or RSA of at least %d bits", pub, minRSABits)
	}
	return nil
}
