// Package update defines the signed envelope in which central ships rule
// packs and indicator lists to collectors (GET /api/v1/updates, DESIGN.md
// §3.4), and signs and verifies it with ed25519.
//
// Both apps import it: central to sign, the collector to verify. It holds no
// transport, so central never needs to import the collector's code.
package update

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Kinds of update.
const (
	KindRules      = "rules"
	KindIndicators = "indicators"
)

// signingContext is prepended to the envelope bytes before signing, so a
// signature made for an update can never be replayed as a signature over
// anything else made with the same key.
const signingContext = "cyberalarm update v1\x00"

// Envelope is what a signature covers. Version rises by at least one with
// every release of a kind; collectors never apply a version that is not
// newer than the one they run.
type Envelope struct {
	Kind    string    `json:"kind"`
	Version int64     `json:"version"`
	Created time.Time `json:"created"`
	SHA256  string    `json:"sha256"`  // lower-case hex digest of Payload
	Payload []byte    `json:"payload"` // base64 in JSON
}

// Signed is an envelope as sent: its exact JSON bytes and a detached ed25519
// signature over them. The collector verifies the bytes it received, never a
// re-encoding of them.
type Signed struct {
	Envelope  []byte `json:"envelope"`  // base64 of the envelope's JSON
	Signature []byte `json:"signature"` // base64 of the ed25519 signature
}

// Manifest is the body of GET /api/v1/updates: the current release of each
// kind. Central may leave out kinds the collector already runs (the request
// carries the versions it has as query parameters, e.g. ?rules=3&indicators=7).
type Manifest struct {
	Items []Signed `json:"items"`
}

// Sign builds and signs an envelope for payload, stamped with the current
// time.
func Sign(priv ed25519.PrivateKey, kind string, version int64, payload []byte) (Signed, error) {
	return SignAt(priv, kind, version, payload, time.Now())
}

// SignAt is Sign with an explicit creation time.
func SignAt(priv ed25519.PrivateKey, kind string, version int64, payload []byte, created time.Time) (Signed, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return Signed{}, fmt.Errorf("update: private key has %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	sum := sha256.Sum256(payload)
	env := Envelope{
		Kind:    kind,
		Version: version,
		Created: created.UTC().Truncate(time.Millisecond),
		SHA256:  hex.EncodeToString(sum[:]),
		Payload: payload,
	}
	if err := env.check(); err != nil {
		return Signed{}, err
	}
	b, err := json.Marshal(env)
	if err != nil {
		return Signed{}, fmt.Errorf("update: encode envelope: %w", err)
	}
	return Signed{Envelope: b, Signature: ed25519.Sign(priv, signedBytes(b))}, nil
}

// ErrSignature is returned by Verify when the signature does not match.
var ErrSignature = errors.New("update: bad signature")

// Verify checks s's signature with pub and returns the envelope it carries,
// after checking that it is well formed and that the payload matches its
// digest. Nothing in an envelope is trusted before the signature is.
func Verify(pub ed25519.PublicKey, s Signed) (Envelope, error) {
	if len(pub) != ed25519.PublicKeySize {
		return Envelope{}, fmt.Errorf("update: public key has %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	if len(s.Signature) != ed25519.SignatureSize {
		return Envelope{}, fmt.Errorf("%w: %d bytes, want %d", ErrSignature, len(s.Signature), ed25519.SignatureSize)
	}
	if !ed25519.Verify(pub, signedBytes(s.Envelope), s.Signature) {
		return Envelope{}, ErrSignature
	}
	var env Envelope
	dec := json.NewDecoder(bytes.NewReader(s.Envelope))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return Envelope{}, fmt.Errorf("update: decode envelope: %w", err)
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		return Envelope{}, errors.New("update: data after envelope")
	}
	if err := env.check(); err != nil {
		return Envelope{}, err
	}
	sum := sha256.Sum256(env.Payload)
	if env.SHA256 != hex.EncodeToString(sum[:]) {
		return Envelope{}, fmt.Errorf("update: %s version %d: payload does not match its sha256", env.Kind, env.Version)
	}
	return env, nil
}

func (e *Envelope) check() error {
	switch e.Kind {
	case KindRules, KindIndicators:
	default:
		return fmt.Errorf("update: unknown kind %q", e.Kind)
	}
	if e.Version < 1 {
		return fmt.Errorf("update: %s version %d: must be at least 1", e.Kind, e.Version)
	}
	return nil
}

func signedBytes(envelope []byte) []byte {
	b := make([]byte, 0, len(signingContext)+len(envelope))
	b = append(b, signingContext...)
	return append(b, envelope...)
}

// ParsePublicKey reads an ed25519 public key written as standard base64, the
// form in which it appears in configuration files.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("update: public key: not base64: %w", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("update: public key has %d bytes, want %d", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}
