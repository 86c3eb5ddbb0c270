package forward

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
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Files in a collector's state directory.
const (
	KeyFile      = "key.pem"       // the client key, mode 0600
	CertFile     = "cert.pem"      // the client certificate chain
	CAFile       = "ca.pem"        // central's pinned CA
	IdentityFile = "identity.json" // collector and member ids; written last
	// nextKeyFile holds a renewed key until its certificate is in place.
	nextKeyFile = "key.pem.next"
)

// API paths on central (DESIGN.md §3.4).
const (
	EnrolPath   = "/api/v1/enrol"
	RenewPath   = "/api/v1/renew"
	BatchesPath = "/api/v1/batches"
	UpdatesPath = "/api/v1/updates"
)

// EnrolRequest is the body of POST /api/v1/enrol. Renewal sends the same
// shape without a token.
type EnrolRequest struct {
	Token string `json:"token,omitempty"`
	CSR   string `json:"csr"` // PEM
}

// EnrolResponse is central's answer to an enrolment or a renewal.
type EnrolResponse struct {
	Certificate string `json:"certificate"` // PEM chain, leaf first
	CA          string `json:"ca"`          // PEM; the root of both sides of mTLS
	CollectorID string `json:"collector_id"`
	MemberID    string `json:"member_id"`
	// UpdateKey is central's ed25519 update-signing public key, if central
	// hands it out at enrolment.
	UpdateKey []byte `json:"update_key,omitempty"`
}

// Identity is what identity.json holds.
type Identity struct {
	CollectorID string `json:"collector_id"`
	MemberID    string `json:"member_id"`
	Central     string `json:"central"` // base URL the collector enrolled with
	// UpdateKey is the update-signing key received at enrolment, if any.
	UpdateKey []byte `json:"update_key,omitempty"`
}

// EnrolOptions choose how the first connection to central is trusted.
//
// The token travels on that connection, before the collector has any pinned
// key, so something must vouch for central: either the system's public CAs
// (central's enrolment endpoint has a publicly trusted certificate), or the
// SHA-256 fingerprint of central's own CA, given out of band with the token
// (--ca-sha256). The first trusts every public CA for this one exchange; the
// second trusts nothing but the fingerprint. Either way the CA that central
// returns is then pinned, and no later connection trusts anything else. With
// neither a trusted chain nor a fingerprint the token would be sent blind, so
// Enrol refuses.
type EnrolOptions struct {
	// CASHA256 is the hex SHA-256 of the DER of central's CA certificate
	// (colons and case are ignored). Central must send that certificate in
	// its TLS chain. When set, RootCAs is not used.
	CASHA256 string
	// RootCAs verifies central when CASHA256 is empty; nil means the
	// system pool.
	RootCAs *x509.CertPool
	// Timeout bounds the exchange; zero means 30s.
	Timeout time.Duration
}

// maxResponse bounds what is read of any response from central.
const maxResponse = 1 << 20

// Enrol exchanges a one-time token for a client certificate and writes the
// collector's state into dir: key.pem (0600), cert.pem, ca.pem and, last,
// identity.json. It refuses to overwrite an existing enrolment.
func Enrol(ctx context.Context, central, token, dir string, opts EnrolOptions) (Identity, error) {
	base, err := parseCentral(central)
	if err != nil {
		return Identity{}, err
	}
	if token == "" {
		return Identity{}, errors.New("enrol: empty token")
	}
	if _, err := os.Stat(filepath.Join(dir, IdentityFile)); err == nil {
		return Identity{}, fmt.Errorf("enrol: %s is already enrolled; remove %s to enrol again", dir, IdentityFile)
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: opts.RootCAs}
	var pin []byte
	if opts.CASHA256 != "" {
		if pin, err = parseFingerprint(opts.CASHA256); err != nil {
			return Identity{}, err
		}
		// Verification is done by VerifyConnection, against the pinned
		// certificate only.
		tlsConf.InsecureSkipVerify = true
		tlsConf.VerifyConnection = verifyPinnedCA(pin)
	}
	key, csr, err := newKeyAndCSR()
	if err != nil {
		return Identity{}, err
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	tr := &http.Transport{TLSClientConfig: tlsConf, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: noRedirect}

	var resp EnrolResponse
	if err := postJSON(ctx, client, base+EnrolPath, EnrolRequest{Token: token, CSR: csr}, &resp); err != nil {
		return Identity{}, fmt.Errorf("enrol: %w", err)
	}
	if resp.CollectorID == "" || resp.MemberID == "" {
		return Identity{}, errors.New("enrol: central's answer has no collector_id or member_id")
	}
	if n := len(resp.UpdateKey); n != 0 && n != ed25519.PublicKeySize {
		return Identity{}, fmt.Errorf("enrol: central's update_key has %d bytes, want %d", n, ed25519.PublicKeySize)
	}
	ca, err := parseCA(resp.CA)
	if err != nil {
		return Identity{}, fmt.Errorf("enrol: %w", err)
	}
	if pin != nil {
		if sum := sha256.Sum256(ca.Raw); !bytes.Equal(sum[:], pin) {
			return Identity{}, fmt.Errorf("enrol: central returned CA %x, not the pinned %x", sum, pin)
		}
	}
	chain, err := checkChain(resp.Certificate, key, ca)
	if err != nil {
		return Identity{}, fmt.Errorf("enrol: %w", err)
	}
	id := Identity{CollectorID: resp.CollectorID, MemberID: resp.MemberID, Central: base, UpdateKey: resp.UpdateKey}
	if err := writeEnrolment(dir, key, chain, resp.CA, id); err != nil {
		return Identity{}, fmt.Errorf("enrol: %w", err)
	}
	return id, nil
}

func writeEnrolment(dir string, key *ecdsa.PrivateKey, chain []byte, caPEM string, id Identity) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return err
	}
	idJSON, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
		perm os.FileMode
	}{
		{KeyFile, keyPEM, 0o600},
		{CertFile, chain, 0o644},
		{CAFile, []byte(caPEM), 0o644},
		{IdentityFile, append(idJSON, '\n'), 0o644},
	}
	for _, f := range files {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data, f.perm); err != nil {
			return err
		}
	}
	return nil
}

func parseCentral(central string) (string, error) {
	u, err := url.Parse(central)
	if err != nil {
		return "", fmt.Errorf("central URL: %w", err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("central URL %q: want https://host[:port]", central)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("central URL %q: want no user, query or fragment", central)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func parseFingerprint(s string) ([]byte, error) {
	h := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("CA fingerprint %q: want 64 hex digits (SHA-256)", s)
	}
	return b, nil
}

// verifyPinnedCA accepts a server whose chain contains the certificate with
// the pinned fingerprint and whose leaf verifies up to it for the host name.
func verifyPinnedCA(pin []byte) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("central sent no certificate")
		}
		roots, inter := x509.NewCertPool(), x509.NewCertPool()
		found := false
		for _, c := range cs.PeerCertificates {
			if sum := sha256.Sum256(c.Raw); bytes.Equal(sum[:], pin) {
				roots.AddCert(c)
				found = true
			} else {
				inter.AddCert(c)
			}
		}
		if !found {
			return fmt.Errorf("central's TLS chain has no certificate with SHA-256 %x (central must send its CA certificate)", pin)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
			DNSName:       cs.ServerName,
			Roots:         roots,
			Intermediates: inter,
		})
		return err
	}
}

func newKeyAndCSR() (*ecdsa.PrivateKey, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "cyberalarm-collector"},
	}, key)
	if err != nil {
		return nil, "", err
	}
	return key, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), nil
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func parseCA(s string) (*x509.Certificate, error) {
	certs, err := parseCerts([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("ca: want one certificate, got %d", len(certs))
	}
	if !certs[0].IsCA {
		return nil, errors.New("ca: certificate is not a CA")
	}
	return certs[0], nil
}

// checkChain checks that the PEM chain central issued is for key and verifies
// as a client certificate under ca, and returns it re-encoded as PEM.
func checkChain(s string, key *ecdsa.PrivateKey, ca *x509.Certificate) ([]byte, error) {
	certs, err := parseCerts([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	if len(certs) == 0 {
		return nil, errors.New("certificate: none in answer")
	}
	leaf := certs[0]
	if !key.PublicKey.Equal(leaf.PublicKey) {
		return nil, errors.New("certificate: not issued for the key this collector sent")
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(ca)
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out, nil
}

func parseCerts(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("unexpected PEM block %q", blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(bytes.TrimSpace(b)) != 0 {
		return nil, errors.New("data that is not PEM")
	}
	return certs, nil
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// postJSON posts in as JSON and decodes a 200 answer into out. Any other
// status is an error quoting the start of the body.
func postJSON(ctx context.Context, client *http.Client, url string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return fmt.Errorf("%s: read answer: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, excerpt(b))
	}
	if len(b) > maxResponse {
		return fmt.Errorf("%s: answer longer than %d bytes", url, maxResponse)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: decode answer: %w", url, err)
	}
	return nil
}

// maxExcerpt bounds the part of a response body kept in errors and in
// quarantine reasons.
const maxExcerpt = 512

// excerpt returns the start of b as printable text.
func excerpt(b []byte) string {
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
	if len(s) > maxExcerpt {
		s = strings.ToValidUTF8(s[:maxExcerpt], "") + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
