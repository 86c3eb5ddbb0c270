package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// defaultHosts are always in the server certificate, so that central can be
// reached on loopback (the demo, health checks) whatever else is configured.
var defaultHosts = []string{"localhost", "127.0.0.1", "::1"}

// ServerTLS returns the TLS configuration of central's listeners:
//   - TLS 1.3 only;
//   - a server certificate signed by the CA for hosts (host names or IP
//     addresses) and loopback, sent with the CA certificate so that a
//     collector can enrol with only the CA's fingerprint, and renewed on
//     the fly when a third of its validity is left;
//   - client certificates requested but not required (enrolment has none;
//     the HTTP layer requires one where it must, with VerifyRequest), verified
//     against the CA, for client authentication;
//   - a certificate whose serial is revoked refused at every handshake,
//     resumed ones included.
func (c *CA) ServerTLS(hosts []string) (*tls.Config, error) {
	dns, ips, err := parseHosts(hosts)
	if err != nil {
		return nil, err
	}
	s := &serverCert{ca: c, dns: dns, ips: ips}
	if _, err := s.renew(); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		MaxVersion: tls.VersionTLS13,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.get()
		},
		ClientAuth:       tls.VerifyClientCertIfGiven,
		ClientCAs:        c.Pool(),
		VerifyConnection: c.verifyConnection,
		Time:             c.now,
	}, nil
}

// verifyConnection runs after crypto/tls has verified the client's chain
// against the CA for client authentication, and also on resumption, where
// no chain is verified again.
func (c *CA) verifyConnection(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return nil
	}
	if serial := FormatSerial(cs.PeerCertificates[0].SerialNumber); c.revokedSerial(serial) {
		return fmt.Errorf("client certificate %s is revoked", serial)
	}
	return nil
}

// serverCert holds central's current server certificate and renews it.
type serverCert struct {
	ca  *CA
	dns []string
	ips []net.IP

	cur     atomic.Pointer[tls.Certificate]
	renewMu sync.Mutex
}

// get returns the current certificate, renewing it first when it is due. If
// renewal fails while the current one is still valid, it is used and
// renewal is tried again on the next handshake.
func (s *serverCert) get() (*tls.Certificate, error) {
	cur := s.cur.Load()
	if !s.due(cur) {
		return cur, nil
	}
	s.renewMu.Lock()
	defer s.renewMu.Unlock()
	if cur = s.cur.Load(); !s.due(cur) {
		return cur, nil // renewed by another handshake meanwhile
	}
	next, err := s.renew()
	if err != nil {
		if s.ca.now().Before(cur.Leaf.NotAfter) {
			return cur, nil
		}
		return nil, err
	}
	return next, nil
}

func (s *serverCert) due(cert *tls.Certificate) bool {
	leaf := cert.Leaf
	validity := leaf.NotAfter.Sub(leaf.NotBefore)
	return !s.ca.now().Before(leaf.NotAfter.Add(-validity / 3))
}

func (s *serverCert) renew() (*tls.Certificate, error) {
	c := s.ca
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: server key: %w", err)
	}
	now := c.now()
	notAfter := now.Add(c.serverLifetime)
	if notAfter.After(c.cert.NotAfter) {
		notAfter = c.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: newSerial(),
		Subject:      pkix.Name{CommonName: s.dns[0]},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     s.dns,
		IPAddresses:  s.ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		return nil, fmt.Errorf("pki: server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: server certificate: %w", err)
	}
	cert := &tls.Certificate{
		Certificate: [][]byte{der, c.cert.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}
	s.cur.Store(cert)
	return cert, nil
}

// parseHosts splits hosts into DNS names and IP addresses, adds loopback and
// drops duplicates. The first DNS name given becomes the common name.
func parseHosts(hosts []string) (dns []string, ips []net.IP, err error) {
	for _, h := range append(slices.Clone(hosts), defaultHosts...) {
		h = strings.TrimSpace(h)
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(h, "."))
		if !validHostName(name) {
			return nil, nil, fmt.Errorf("pki: server host %q is neither an IP address nor a DNS name", h)
		}
		if !slices.Contains(dns, name) {
			dns = append(dns, name)
		}
	}
	return dns, ips, nil
}

// validHostName accepts a DNS name of letters, digits and hyphens, with a
// wildcard allowed as the whole first label.
func validHostName(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	labels := strings.Split(name, ".")
	for i, l := range labels {
		if i == 0 && l == "*" && len(labels) > 2 {
			continue
		}
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
