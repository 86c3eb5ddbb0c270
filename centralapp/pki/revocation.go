package pki

import (
	"fmt"
	"maps"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
)

// Revocations says whether a certificate serial, as FormatSerial writes it,
// has been revoked. It is consulted on every handshake and request, so it
// must answer from memory.
type Revocations interface {
	Revoked(serial string) bool
}

var _ Revocations = (*RevocationSet)(nil)

// RevocationSet is an in-memory set of revoked serials. Reads take no lock:
// writers publish a new copy of the set, which suits a set that is read on
// every request and changed when an administrator revokes a collector.
type RevocationSet struct {
	mu  sync.Mutex // serialises writers
	set atomic.Pointer[map[string]struct{}]
}

// NewRevocationSet returns an empty set.
func NewRevocationSet() *RevocationSet {
	s := &RevocationSet{}
	s.set.Store(&map[string]struct{}{})
	return s
}

// Revoked reports whether serial is in the set.
func (s *RevocationSet) Revoked(serial string) bool {
	_, ok := (*s.set.Load())[serial]
	return ok
}

// Len returns the number of serials in the set.
func (s *RevocationSet) Len() int { return len(*s.set.Load()) }

// Add puts serials in the set. They may be written in any case, with
// leading zeros or colons between bytes.
func (s *RevocationSet) Add(serials ...string) error {
	canon, err := canonicalSerials(serials)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next := maps.Clone(*s.set.Load())
	for _, c := range canon {
		next[c] = struct{}{}
	}
	s.set.Store(&next)
	return nil
}

// Replace makes serials the whole set, as when it is refreshed from the
// store. On error the set is left as it was.
func (s *RevocationSet) Replace(serials []string) error {
	canon, err := canonicalSerials(serials)
	if err != nil {
		return err
	}
	next := make(map[string]struct{}, len(canon))
	for _, c := range canon {
		next[c] = struct{}{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set.Store(&next)
	return nil
}

func canonicalSerials(serials []string) ([]string, error) {
	out := make([]string, len(serials))
	for i, s := range serials {
		c, err := CanonicalSerial(s)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// CanonicalSerial rewrites a hex serial number in the form FormatSerial
// writes: lower case, no colons, no leading zeros.
func CanonicalSerial(s string) (string, error) {
	h := strings.ReplaceAll(strings.TrimSpace(s), ":", "")
	n, ok := new(big.Int).SetString(h, 16)
	if !ok || h == "" || n.Sign() <= 0 || len(h) > 40 {
		return "", fmt.Errorf("pki: serial %q: want a positive hex number of at most 20 bytes", s)
	}
	return FormatSerial(n), nil
}

// Revocations returns the CA's own set of revoked serials, which the server
// fills from the store at start and refreshes periodically (another
// process, such as the command line, may revoke).
func (c *CA) Revocations() *RevocationSet { return c.revoked }

// Revoke refuses the certificate with serial from now on, on new handshakes
// and, through VerifyPeer, on requests over connections already open. The
// caller records the revocation in the store; this only makes it take effect
// at once in this process.
func (c *CA) Revoke(serial string) error { return c.revoked.Add(serial) }

// revokedSerial reports whether any of the CA's checkers knows serial as
// revoked.
func (c *CA) revokedSerial(serial string) bool {
	return c.revoked.Revoked(serial) || (c.extra != nil && c.extra.Revoked(serial))
}
