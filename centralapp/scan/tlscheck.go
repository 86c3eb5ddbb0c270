package scan

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// tlsVersions are the versions offered one at a time. Go's client offers
// TLS 1.0 and 1.1 only when MinVersion asks for them, as here.
var tlsVersions = []uint16{tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13}

// weakSuites are the cipher suites a server should refuse: RC4 and 3DES
// (broken or 64-bit block), and the CBC-SHA256 suites Go lists as
// insecure (Lucky13).
func weakSuites() []uint16 {
	var out []uint16
	for _, cs := range tls.InsecureCipherSuites() {
		out = append(out, cs.ID)
	}
	return out
}

// staticRSASuites are secure ciphers without forward secrecy: a stolen
// server key decrypts every recorded session.
var staticRSASuites = []uint16{
	tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA,
	tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
}

// expiringSoon is how close to expiry a certificate becomes a finding.
const expiringSoon = 21 * 24 * time.Hour

// tlsChecks tests which protocol versions and weak suites a TLS service
// accepts, and examines its certificate.
func (s *Scanner) tlsChecks(ctx context.Context, g *guard, h host, port uint16, base Finding) []Finding {
	var out []Finding
	add := func(check string, sev Severity, title, evidence, advice string) {
		f := base
		f.Check, f.Kind, f.Severity, f.Title, f.Evidence, f.Advice = check, KindTLS, sev, title, evidence, advice
		out = append(out, f)
	}
	var accepted []uint16
	var best tls.ConnectionState
	for _, v := range tlsVersions {
		st, err := g.tlsHello(ctx, h, port, clientTLS(h.Name, v, v), "offer "+tls.VersionName(v)+" only")
		if err != nil {
			if context.Cause(ctx) != nil {
				return out
			}
			continue
		}
		accepted = append(accepted, v)
		best = st
	}
	if len(accepted) == 0 {
		return out
	}
	names := make([]string, len(accepted))
	for i, v := range accepted {
		names[i] = tls.VersionName(v)
	}
	evidence := "accepted: " + strings.Join(names, ", ")
	for _, v := range accepted {
		if v < tls.VersionTLS12 {
			add("tls.version."+strings.ToLower(strings.ReplaceAll(tls.VersionName(v), " ", "")), Medium,
				tls.VersionName(v)+" accepted", evidence,
				"Turn off TLS 1.0 and 1.1 (deprecated by RFC 8996): allow TLS 1.2 and 1.3 only.")
		}
	}
	if !slices.Contains(accepted, tls.VersionTLS12) && !slices.Contains(accepted, tls.VersionTLS13) {
		add("tls.version.no-modern", High, "No TLS 1.2 or 1.3 support", evidence,
			"Upgrade the server's TLS library or configuration: current browsers refuse anything older than TLS 1.2.")
	}

	// Suites: offered a class at a time under the oldest version that
	// allows them; each accepted suite is struck off and the rest offered
	// again, so every accepted one is named.
	legacy := slices.DeleteFunc(slices.Clone(accepted), func(v uint16) bool { return v == tls.VersionTLS13 })
	if len(legacy) > 0 {
		lo, hi := legacy[0], legacy[len(legacy)-1]
		if weak := s.acceptedSuites(ctx, g, h, port, lo, hi, weakSuites()); len(weak) > 0 {
			add("tls.cipher.weak", Medium, "Weak TLS cipher suites accepted", "accepted: "+strings.Join(weak, ", "),
				"Disable RC4, 3DES and CBC-SHA256 suites; prefer ECDHE with AES-GCM or ChaCha20-Poly1305.")
		}
		if rsaKex := s.acceptedSuites(ctx, g, h, port, lo, hi, staticRSASuites); len(rsaKex) > 0 {
			add("tls.cipher.no-forward-secrecy", Low, "TLS cipher suites without forward secrecy accepted", "accepted: "+strings.Join(rsaKex, ", "),
				"Prefer ECDHE key exchange so a stolen server key cannot decrypt recorded traffic.")
		}
	}
	if len(best.PeerCertificates) > 0 {
		out = append(out, s.certChecks(h, best, base)...)
	}
	return out
}

func (s *Scanner) acceptedSuites(ctx context.Context, g *guard, h host, port uint16, lo, hi uint16, offer []uint16) []string {
	var got []string
	offer = slices.Clone(offer)
	for len(offer) > 0 && ctx.Err() == nil {
		conf := clientTLS(h.Name, lo, hi)
		conf.CipherSuites = offer
		st, err := g.tlsHello(ctx, h, port, conf, fmt.Sprintf("offer %d suites", len(offer)))
		if err != nil || !slices.Contains(offer, st.CipherSuite) {
			break
		}
		got = append(got, tls.CipherSuiteName(st.CipherSuite))
		offer = slices.DeleteFunc(offer, func(id uint16) bool { return id == st.CipherSuite })
	}
	return got
}

// certChecks examines the certificate a TLS service presented.
func (s *Scanner) certChecks(h host, st tls.ConnectionState, base Finding) []Finding {
	var out []Finding
	add := func(check string, sev Severity, title, evidence, advice string) {
		f := base
		f.Check, f.Kind, f.Severity, f.Title, f.Evidence, f.Advice = check, KindTLS, sev, title, evidence, advice
		out = append(out, f)
	}
	leaf := st.PeerCertificates[0]
	now := s.now()
	subject := leaf.Subject.String()
	if subject == "" {
		subject = "(empty subject)"
	}
	valid := fmt.Sprintf("certificate %q valid %s to %s", subject, leaf.NotBefore.UTC().Format(time.DateOnly), leaf.NotAfter.UTC().Format(time.DateOnly))
	switch {
	case now.After(leaf.NotAfter):
		add("tls.cert.expired", High, "TLS certificate expired", valid,
			"Renew the certificate now; automate renewal (for example with ACME/Let's Encrypt) so it cannot lapse again.")
	case leaf.NotAfter.Sub(now) < expiringSoon:
		add("tls.cert.expiring", Medium, "TLS certificate expires within three weeks", valid,
			"Renew the certificate before it expires, and automate renewal.")
	case now.Before(leaf.NotBefore):
		add("tls.cert.not-yet-valid", Medium, "TLS certificate not yet valid", valid,
			"Check the server's clock and the certificate's dates.")
	}
	selfSigned := bytes.Equal(leaf.RawIssuer, leaf.RawSubject) && leaf.CheckSignatureFrom(leaf) == nil
	if selfSigned {
		add("tls.cert.self-signed", Medium, "TLS certificate is self-signed", valid,
			"Use a certificate from a public certificate authority: visitors cannot tell a self-signed certificate from an attacker's.")
	} else {
		inter := x509.NewCertPool()
		for _, c := range st.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Intermediates: inter, CurrentTime: now}); err != nil {
			if _, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
				add("tls.cert.untrusted", Medium, "TLS certificate not issued by a trusted authority", valid+"; "+err.Error(),
					"Install a certificate from a public certificate authority, with its intermediate certificates.")
			}
		}
	}
	if !isAddr(h.Name) {
		if err := leaf.VerifyHostname(h.Name); err != nil {
			names := leaf.DNSNames
			if len(names) == 0 && leaf.Subject.CommonName != "" {
				names = []string{leaf.Subject.CommonName}
			}
			add("tls.cert.hostname", Medium, "TLS certificate does not match the host name",
				fmt.Sprintf("%s is not among the certificate's names %v", h.Name, names),
				"Install a certificate whose names include this host.")
		}
	}
	if k, ok := leaf.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() < 2048 {
		add("tls.cert.weak-key", Medium, "TLS certificate key too short", fmt.Sprintf("RSA %d bits", k.N.BitLen()),
			"Reissue the certificate with an RSA key of at least 2048 bits, or an ECDSA key.")
	}
	switch leaf.SignatureAlgorithm {
	case x509.MD5WithRSA, x509.SHA1WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1:
		add("tls.cert.weak-signature", Medium, "TLS certificate signed with a broken hash", leaf.SignatureAlgorithm.String(),
			"Reissue the certificate signed with SHA-256 or better.")
	}
	return out
}
