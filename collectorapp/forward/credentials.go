package forward

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Credentials are a collector's mTLS identity: its client certificate, which
// renewal replaces while connections keep using it, and central's pinned CA.
type Credentials struct {
	dir   string
	id    Identity
	roots *x509.CertPool
	ca    *x509.Certificate

	cert atomic.Pointer[tls.Certificate]
	gen  atomic.Uint64 // bumped on every renewal

	renewMu sync.Mutex // one renewal at a time
}

// LoadCredentials reads the state Enrol wrote into dir. It completes a
// renewal that was cut short between writing the new certificate and moving
// its key into place.
func LoadCredentials(dir string) (*Credentials, error) {
	idJSON, err := os.ReadFile(filepath.Join(dir, IdentityFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("credentials: %s is not enrolled (no %s)", dir, IdentityFile)
		}
		return nil, fmt.Errorf("credentials: %w", err)
	}
	c := &Credentials{dir: dir}
	if err := json.Unmarshal(idJSON, &c.id); err != nil {
		return nil, fmt.Errorf("credentials: %s: %w", filepath.Join(dir, IdentityFile), err)
	}
	if c.id.CollectorID == "" || c.id.MemberID == "" || c.id.Central == "" {
		return nil, fmt.Errorf("credentials: %s: collector_id, member_id and central are required", filepath.Join(dir, IdentityFile))
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, CAFile))
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	if c.ca, err = parseCA(string(caPEM)); err != nil {
		return nil, fmt.Errorf("credentials: %s: %w", filepath.Join(dir, CAFile), err)
	}
	c.roots = x509.NewCertPool()
	c.roots.AddCert(c.ca)
	cert, err := c.loadKeyPair()
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	c.cert.Store(cert)
	return c, nil
}

func (c *Credentials) loadKeyPair() (*tls.Certificate, error) {
	certPath := filepath.Join(c.dir, CertFile)
	keyPath := filepath.Join(c.dir, KeyFile)
	nextPath := filepath.Join(c.dir, nextKeyFile)
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err == nil {
		os.Remove(nextPath) // a renewal that never got its certificate
		return &cert, nil
	}
	// Renewal writes the new key to key.pem.next, then cert.pem, then
	// renames the key. A crash between the last two leaves a certificate
	// that only the next key matches.
	next, nextErr := tls.LoadX509KeyPair(certPath, nextPath)
	if nextErr != nil {
		return nil, err
	}
	if err := os.Rename(nextPath, keyPath); err != nil {
		return nil, err
	}
	if err := syncDir(c.dir); err != nil {
		return nil, err
	}
	return &next, nil
}

// Identity returns the collector's identity.
func (c *Credentials) Identity() Identity { return c.id }

// Central returns the base URL of central.
func (c *Credentials) Central() string { return c.id.Central }

// Leaf returns the client certificate in use.
func (c *Credentials) Leaf() *x509.Certificate { return c.cert.Load().Leaf }

// Generation counts renewals; a client that sees it change closes its idle
// connections so that the next handshake presents the new certificate.
func (c *Credentials) Generation() uint64 { return c.gen.Load() }

// TLSConfig returns a client configuration for central: TLS 1.3 only, the
// pinned CA as the only root, and the current client certificate, looked up
// on each handshake so that a renewal takes effect without a restart.
func (c *Credentials) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		RootCAs:    c.roots,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return c.cert.Load(), nil
		},
	}
}

// newClient returns an HTTP client for central. The caller closes its idle
// connections when done.
func (c *Credentials) newClient(timeout time.Duration) (*http.Client, *http.Transport) {
	tr := &http.Transport{
		TLSClientConfig:     c.TLSConfig(),
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: noRedirect}, tr
}

// RenewAt returns when the certificate should be renewed: when a third of
// its validity is left.
func (c *Credentials) RenewAt() time.Time {
	leaf := c.Leaf()
	validity := leaf.NotAfter.Sub(leaf.NotBefore)
	return leaf.NotAfter.Add(-validity / 3)
}

// Renew asks central for a new certificate over mTLS, with a new key, and
// puts it in use and on disk.
func (c *Credentials) Renew(ctx context.Context) error {
	c.renewMu.Lock()
	defer c.renewMu.Unlock()

	key, csr, err := newKeyAndCSR()
	if err != nil {
		return err
	}
	client, tr := c.newClient(30 * time.Second)
	defer tr.CloseIdleConnections()
	var resp EnrolResponse
	if err := postJSON(ctx, client, c.id.Central+RenewPath, EnrolRequest{CSR: csr}, &resp); err != nil {
		return fmt.Errorf("renew: %w", err)
	}
	if resp.CollectorID != "" && resp.CollectorID != c.id.CollectorID {
		return fmt.Errorf("renew: central answered for collector %q, this is %q", resp.CollectorID, c.id.CollectorID)
	}
	chain, err := checkChain(resp.Certificate, key, c.ca)
	if err != nil {
		return fmt.Errorf("renew: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return err
	}
	cert, err := tls.X509KeyPair(chain, keyPEM)
	if err != nil {
		return fmt.Errorf("renew: %w", err)
	}
	// The order lets LoadCredentials finish a renewal cut short (see
	// loadKeyPair).
	if err := writeFileAtomic(filepath.Join(c.dir, nextKeyFile), keyPEM, 0o600); err != nil {
		return fmt.Errorf("renew: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(c.dir, CertFile), chain, 0o644); err != nil {
		return fmt.Errorf("renew: %w", err)
	}
	if err := os.Rename(filepath.Join(c.dir, nextKeyFile), filepath.Join(c.dir, KeyFile)); err != nil {
		return fmt.Errorf("renew: %w", err)
	}
	if err := syncDir(c.dir); err != nil {
		return fmt.Errorf("renew: %w", err)
	}
	c.cert.Store(&cert)
	c.gen.Add(1)
	return nil
}

// Renewer renews a collector's certificate when a third of its validity is
// left, retrying with backoff when central cannot be reached.
type Renewer struct {
	Credentials *Credentials
	Logger      *slog.Logger  // nil: slog.Default()
	RetryMin    time.Duration // zero: 30s
	RetryMax    time.Duration // zero: 1h
}

// Run renews the certificate whenever it is due, until ctx is done.
func (r *Renewer) Run(ctx context.Context) error {
	log := r.Logger
	if log == nil {
		log = slog.Default()
	}
	bo := Backoff{Min: r.RetryMin, Max: r.RetryMax}
	if bo.Min <= 0 {
		bo.Min = 30 * time.Second
	}
	if bo.Max <= 0 {
		bo.Max = time.Hour
	}
	failures := 0
	for {
		wait := time.Until(r.Credentials.RenewAt())
		if failures > 0 {
			wait = max(wait, bo.Delay(failures-1))
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
		if err := r.Credentials.Renew(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			failures++
			log.Warn("certificate renewal failed", "err", err, "attempt", failures,
				"not_after", r.Credentials.Leaf().NotAfter)
			continue
		}
		failures = 0
		leaf := r.Credentials.Leaf()
		log.Info("certificate renewed", "serial", leaf.SerialNumber.Text(16), "not_after", leaf.NotAfter)
	}
}

// Backoff computes exponential backoff with full jitter: retry n (from 0)
// waits a uniformly random time in [Min, min(Max, Min·2ⁿ)]. Min is a floor so
// that a run of unlucky draws near zero cannot hammer central.
type Backoff struct {
	Min, Max time.Duration
}

// Delay returns the wait before retry n.
func (b Backoff) Delay(n int) time.Duration {
	ceil := b.Max
	if n < 62 {
		if d := b.Min << n; d > 0 && d < ceil {
			ceil = d
		}
	}
	if ceil <= b.Min {
		return b.Min
	}
	return b.Min + rand.N(ceil-b.Min+1)
}
