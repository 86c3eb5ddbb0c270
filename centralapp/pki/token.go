package pki

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// tokenBytes is the entropy of an enrolment token: 256 bits.
const tokenBytes = 32

// NewToken returns a new one-time enrolment token, URL-safe base64 without
// padding (43 characters), and the SHA-256 hash under which central stores
// it. The token itself is shown once and never stored.
func NewToken() (token string, hash []byte) {
	b := make([]byte, tokenBytes)
	rand.Read(b) // never fails since Go 1.24
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token)
}

// HashToken returns the SHA-256 of token, the key to look it up by. A
// lookup by hash leaks nothing useful through timing: the hash of a guess
// tells nothing about the stored token's hash.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// TokenMatches reports in constant time whether token hashes to hash.
func TokenMatches(token string, hash []byte) bool {
	return subtle.ConstantTimeCompare(HashToken(token), hash) == 1
}
