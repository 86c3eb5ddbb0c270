package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/oklog/ulid/v2"
)

// Errors of VerifyPeer. The HTTP layer answers ErrNoCertificate with 401 and
// the others with 401 or 403 as it sees fit.
var (
	ErrNoCertificate = errors.New("pki: no client certificate")
	ErrRevoked       = errors.New("pki: client certificate revoked")
)

// VerifyPeer checks a client certificate as the HTTP layer must on every
// request: a TLS session may be resumed, and an HTTP/2 connection may live
// well past a revocation or an expiry, so the handshake's verdict is not
// enough. It checks that cert chains to the CA for client authentication,
// is within its validity now and is not revoked, and returns the collector
// (subject CN) and member (the one subject OU) it was issued to.
func (c *CA) VerifyPeer(cert *x509.Certificate) (collectorID, memberID string, err error) {
	if cert == nil {
		return "", "", ErrNoCertificate
	}
	if _, err := cert.Verify(x509.VerifyOptions{
		Roots:       c.pool,
		CurrentTime: c.now(),
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return "", "", fmt.Errorf("pki: client certificate: %w", err)
	}
	return c.checkVerified(cert)
}

// VerifyRequest is VerifyPeer on the certificate that r's client presented.
// When the handshake verified it up to this CA (ServerTLS), the signatures
// are not checked again: only what can change during a connection, the time
// and revocation, which makes the per-request check cheap.
func (c *CA) VerifyRequest(r *http.Request) (collectorID, memberID string, err error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return "", "", ErrNoCertificate
	}
	leaf := r.TLS.PeerCertificates[0]
	for _, chain := range r.TLS.VerifiedChains {
		if len(chain) == 2 && chain[0].Equal(leaf) && chain[1].Equal(c.cert) {
			now := c.now()
			if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
				return "", "", fmt.Errorf("pki: client certificate %s: not valid at %s (valid %s to %s)", FormatSerial(leaf.SerialNumber),
					now.UTC().Format(time.RFC3339), leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
			}
			return c.checkVerified(leaf)
		}
	}
	return c.VerifyPeer(leaf)
}

// checkVerified checks revocation and the subject of a certificate whose
// chain is verified.
func (c *CA) checkVerified(cert *x509.Certificate) (collectorID, memberID string, err error) {
	serial := FormatSerial(cert.SerialNumber)
	if c.revokedSerial(serial) {
		return "", "", fmt.Errorf("%w: serial %s", ErrRevoked, serial)
	}
	collectorID = cert.Subject.CommonName
	if _, err := ulid.ParseStrict(collectorID); err != nil {
		return "", "", fmt.Errorf("pki: client certificate %s: subject CN %q is not a collector id", serial, collectorID)
	}
	if ou := cert.Subject.OrganizationalUnit; len(ou) != 1 || !validMember.MatchString(ou[0]) {
		return "", "", fmt.Errorf("pki: client certificate %s: subject OU %q is not one member id", serial, ou)
	}
	return collectorID, cert.Subject.OrganizationalUnit[0], nil
}
