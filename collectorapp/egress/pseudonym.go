package egress

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/netip"
	"os"
	"sync"
)

// MinKeyLen is the shortest pseudonym key accepted: 256 bits, the size of
// HMAC-SHA256's output. A shorter key would be the weakest link.
const MinKeyLen = 32

// PseudonymPrefix starts every pseudonym, so that a reader can tell one from
// an address at a glance.
const PseudonymPrefix = "h:"

// pseudonymBytes is how much of the HMAC a pseudonym keeps: 128 bits, far
// beyond any collision among one member's addresses.
const pseudonymBytes = 16

// PseudonymLen is the length of a pseudonym in bytes.
const PseudonymLen = len(PseudonymPrefix) + 2*pseudonymBytes

// domain separates these HMACs from any other use of the key.
const domain = "cyberalarm egress address v1\x00"

// Pseudonymiser replaces addresses with keyed pseudonyms: "h:" and the first
// 16 bytes of HMAC-SHA256(key, address) in lower-case hex. The same address
// always gets the same pseudonym under one key, so central can still count
// and correlate per target; without the key, the address cannot be
// recovered, not even by trying all 2^24 addresses of 10.0.0.0/8. An IPv4
// address and its IPv4-mapped IPv6 form get the same pseudonym; zones are
// ignored.
//
// A Pseudonymiser is safe for concurrent use.
type Pseudonymiser struct {
	key  []byte
	pool sync.Pool // of *hasher
}

// hasher is one reusable HMAC with room for its input and output, so that a
// pseudonym costs no allocation.
type hasher struct {
	mac hash.Hash
	in  [len(domain) + 16]byte
	sum [sha256.Size]byte
}

// NewPseudonymiser returns a Pseudonymiser with the given key, which must be
// at least MinKeyLen bytes. The key is copied.
func NewPseudonymiser(key []byte) (*Pseudonymiser, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("pseudonym key is %d bytes; it must be at least %d (make one with: head -c 32 /dev/urandom > key; chmod 600 key)", len(key), MinKeyLen)
	}
	return &Pseudonymiser{key: append([]byte(nil), key...)}, nil
}

// ErrKeyPermissions is returned by LoadKey for a key file that others can
// read: with the key, anyone can undo the pseudonyms by trying every
// internal address.
var ErrKeyPermissions = errors.New("pseudonym key file is readable by group or others")

// LoadKey reads a pseudonym key from a file: all of its bytes, as they are
// (a trailing newline is part of the key). The file must be at least
// MinKeyLen bytes and must not be readable by group or others.
func LoadKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pseudonym key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("pseudonym key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("pseudonym key %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s: %w (mode %04o; run chmod 600 %s)", path, ErrKeyPermissions, perm, path)
	}
	// Read one byte past any sane key, to refuse a wrong file early.
	const maxKey = 4096
	key, err := io.ReadAll(io.LimitReader(f, maxKey+1))
	if err != nil {
		return nil, fmt.Errorf("pseudonym key %s: %w", path, err)
	}
	n := len(key)
	switch {
	case n > maxKey:
		return nil, fmt.Errorf("pseudonym key %s: longer than %d bytes; is it the right file?", path, maxKey)
	case n < MinKeyLen:
		return nil, fmt.Errorf("pseudonym key %s: %d bytes; it must be at least %d (make one with: head -c 32 /dev/urandom > %s; chmod 600 %s)", path, n, MinKeyLen, path, path)
	}
	return key, nil
}

// AppendPseudonym appends a's pseudonym to b. It does not allocate when b
// has room.
func (p *Pseudonymiser) AppendPseudonym(b []byte, a netip.Addr) []byte {
	h, _ := p.pool.Get().(*hasher)
	if h == nil {
		h = &hasher{mac: hmac.New(sha256.New, p.key)}
		copy(h.in[:], domain)
	}
	h.mac.Reset()
	ip := a.Unmap().As16()
	copy(h.in[len(domain):], ip[:])
	h.mac.Write(h.in[:])
	sum := h.mac.Sum(h.sum[:0])
	b = append(b, PseudonymPrefix...)
	b = hex.AppendEncode(b, sum[:pseudonymBytes])
	p.pool.Put(h)
	return b
}

// Pseudonym returns a's pseudonym.
func (p *Pseudonymiser) Pseudonym(a netip.Addr) string {
	var buf [PseudonymLen]byte
	return string(p.AppendPseudonym(buf[:0], a))
}
