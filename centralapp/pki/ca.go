// Package pki is central's certificate authority. It creates and keeps the CA
// that signs collector client certificates and central's own server
// certificate, issues certificates from collectors' requests, checks client
// certificates (chain, validity, revocation) on every handshake and request,
// makes enrolment tokens, and keeps the ed25519 key that signs updates.
//
// Everything it keeps lives in one directory:
//
//	ca.pem          the CA certificate (0644)
//	ca-key.pem      the CA's ECDSA P-256 key (0600)
//	update-key.pem  the ed25519 update-signing key (0600)
//
// Each file is created once, atomically, and only loaded after that.
package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// Files in a CA directory.
const (
	CertFile      = "ca.pem"
	KeyFile       = "ca-key.pem"
	UpdateKeyFile = "update-key.pem"
)

// Defaults.
const (
	DefaultCommonName         = "CyberAlarm central CA"
	DefaultClientLifetime     = 90 * 24 * time.Hour
	DefaultServerCertLifetime = 30 * 24 * time.Hour
	caLifetime                = 10 * 365 * 24 * time.Hour
	// clockSkew backdates NotBefore so that a peer whose clock is a little
	// behind does not reject a certificate that was just issued.
	clockSkew = 5 * time.Minute
)

// Options configure Open.
type Options struct {
	// CommonName is the subject of a newly created CA; empty means
	// DefaultCommonName. It is ignored when the CA exists.
	CommonName string
	// Revocations, when set, is consulted in addition to the CA's own
	// set (see (*CA).Revocations) for every client certificate.
	Revocations Revocations
	// ServerCertLifetime is the validity of central's server
	// certificates; zero means DefaultServerCertLifetime. They are
	// renewed when a third of it is left.
	ServerCertLifetime time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// CA is central's certificate authority. Its methods are safe for concurrent
// use.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey
	pool    *x509.CertPool
	update  updateKey

	revoked *RevocationSet
	extra   Revocations

	serverLifetime time.Duration
	now            func() time.Time
}

// Open loads the CA kept in dir, creating the directory, the CA and the
// update-signing key the first time. Two processes that open a fresh
// directory at once end up with the same CA: creation never replaces a file.
func Open(dir string, opts Options) (*CA, error) {
	if dir == "" {
		return nil, errors.New("pki: empty CA directory")
	}
	if opts.ServerCertLifetime < 0 {
		return nil, fmt.Errorf("pki: negative server certificate lifetime %v", opts.ServerCertLifetime)
	}
	c := &CA{
		revoked:        NewRevocationSet(),
		extra:          opts.Revocations,
		serverLifetime: opts.ServerCertLifetime,
		now:            opts.Now,
	}
	if c.serverLifetime == 0 {
		c.serverLifetime = DefaultServerCertLifetime
	}
	if c.now == nil {
		c.now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	name := opts.CommonName
	if name == "" {
		name = DefaultCommonName
	}
	if err := c.loadOrCreateCA(dir, name); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	if err := c.update.loadOrCreate(filepath.Join(dir, UpdateKeyFile)); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	return c, nil
}

func (c *CA) loadOrCreateCA(dir, name string) error {
	keyPath := filepath.Join(dir, KeyFile)
	certPath := filepath.Join(dir, CertFile)

	// A certificate without its key can sign nothing, and a new key would
	// not match it: refuse rather than make one.
	if _, err := os.Stat(keyPath); errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(certPath); err == nil {
			return fmt.Errorf("%s exists but its key %s is missing; restore the key from backup", certPath, keyPath)
		}
	}
	key, err := loadOrCreateKey(keyPath, func() (crypto.Signer, error) {
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	})
	if err != nil {
		return err
	}
	ecKey, ok := key.(*ecdsa.PrivateKey)
	if !ok || ecKey.Curve != elliptic.P256() {
		return fmt.Errorf("%s: want an ECDSA P-256 key, have %T", keyPath, key)
	}
	c.key = ecKey

	certPEM, err := c.loadOrCreateCert(certPath, name)
	if err != nil {
		return err
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return fmt.Errorf("%s: %w", certPath, err)
	}
	if !cert.IsCA || !cert.BasicConstraintsValid || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fmt.Errorf("%s: not a CA certificate", certPath)
	}
	if !c.key.PublicKey.Equal(cert.PublicKey) {
		return fmt.Errorf("%s does not belong to the key in %s", certPath, keyPath)
	}
	if now := c.now(); now.After(cert.NotAfter) {
		return fmt.Errorf("%s: CA expired on %s", certPath, cert.NotAfter.UTC().Format(time.RFC3339))
	}
	c.cert = cert
	c.certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	c.pool = x509.NewCertPool()
	c.pool.AddCert(cert)
	return nil
}

// loadOrCreateCert returns the PEM of the CA certificate, creating it for
// c.key when missing. A key without a certificate is what a crash between
// the two writes leaves; no one can have pinned a certificate that was never
// written, so making it now is safe.
func (c *CA) loadOrCreateCert(path, name string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return b, err
	}
	der, err := c.selfSign(name)
	if err != nil {
		return nil, err
	}
	err = writeFileExclusive(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	// Another process may have won the race: use what is on disk.
	return os.ReadFile(path)
}

func (c *CA) selfSign(name string) ([]byte, error) {
	now := c.now()
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(caLifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            0,
		MaxPathLenZero:        true, // no intermediates: the CA signs leaves only
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	return x509.CreateCertificate(rand.Reader, tmpl, tmpl, &c.key.PublicKey, c.key)
}

// Certificate returns the CA certificate.
func (c *CA) Certificate() *x509.Certificate { return c.cert }

// CAPEM returns the CA certificate as PEM, as central returns it at
// enrolment.
func (c *CA) CAPEM() []byte { return bytes.Clone(c.certPEM) }

// CAFingerprint returns the lower-case hex SHA-256 of the CA certificate's
// DER, the value a collector pins with --ca-sha256.
func (c *CA) CAFingerprint() string {
	sum := sha256.Sum256(c.cert.Raw)
	return hex.EncodeToString(sum[:])
}

// Pool returns a pool holding only the CA certificate.
func (c *CA) Pool() *x509.CertPool { return c.pool.Clone() }

// newSerial returns a random positive serial number of at most 128 bits.
func newSerial() *big.Int {
	b := make([]byte, 16)
	for {
		rand.Read(b) // never fails since Go 1.24
		if n := new(big.Int).SetBytes(b); n.Sign() > 0 {
			return n
		}
	}
}

// FormatSerial returns the form in which this package writes serial numbers:
// lower-case hex without leading zeros, as (*big.Int).Text(16) writes it.
func FormatSerial(n *big.Int) string { return n.Text(16) }

func parseCertPEM(b []byte) (*x509.Certificate, error) {
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("data after the certificate")
	}
	return x509.ParseCertificate(blk.Bytes)
}
