package auth

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Password hashing: PBKDF2-HMAC-SHA256 (the standard library's, FIPS
// approved) at OWASP's 2023 work factor, stored as
// pbkdf2-sha256$<iterations>$<b64 salt>$<b64 hash> so that the cost can
// rise later without invalidating stored hashes.
const (
	Iterations        = 600_000
	MinPasswordLength = 12   // characters
	MaxPasswordLength = 1024 // bytes; bounds the work a request can ask for
	saltBytes         = 16
	hashBytes         = 32
	hashScheme        = "pbkdf2-sha256"
	// maxIterations bounds what a stored hash may ask for, so that a
	// corrupt row cannot stall a login.
	maxIterations = 10_000_000
)

// ErrWeakPassword is returned by HashPassword for a password that is too
// short or too long.
var ErrWeakPassword = fmt.Errorf("auth: a password must have %d to %d characters", MinPasswordLength, MaxPasswordLength)

// HashPassword returns the encoded hash of password with a new random salt.
func HashPassword(password string) (string, error) {
	return hashPassword(password, Iterations)
}

func hashPassword(password string, iter int) (string, error) {
	if utf8.RuneCountInString(password) < MinPasswordLength || len(password) > MaxPasswordLength {
		return "", ErrWeakPassword
	}
	salt := make([]byte, saltBytes)
	rand.Read(salt) // never fails since Go 1.24
	dk, err := pbkdf2.Key(sha256.New, password, salt, iter, hashBytes)
	if err != nil {
		return "", fmt.Errorf("auth: hash password: %w", err)
	}
	enc := base64.RawStdEncoding
	return hashScheme + "$" + strconv.Itoa(iter) + "$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(dk), nil
}

// VerifyPassword reports whether password matches the encoded hash,
// comparing in constant time. It errs only when encoded is malformed.
func VerifyPassword(encoded, password string) (bool, error) {
	iter, salt, want, err := parseHash(encoded)
	if err != nil {
		return false, err
	}
	if len(password) > MaxPasswordLength {
		return false, nil
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(want))
	if err != nil {
		return false, fmt.Errorf("auth: verify password: %w", err)
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// NeedsRehash reports whether encoded was made with fewer iterations than
// HashPassword uses now; the caller rehashes at the next successful login.
func NeedsRehash(encoded string) bool {
	iter, _, _, err := parseHash(encoded)
	return err != nil || iter < Iterations
}

var errBadHash = errors.New("auth: malformed password hash")

func parseHash(encoded string) (iter int, salt, hash []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 4 || parts[0] != hashScheme {
		return 0, nil, nil, fmt.Errorf("%w: want %s$<iterations>$<salt>$<hash>", errBadHash, hashScheme)
	}
	iter, err = strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > maxIterations {
		return 0, nil, nil, fmt.Errorf("%w: iterations %q", errBadHash, parts[1])
	}
	enc := base64.RawStdEncoding
	if salt, err = enc.DecodeString(parts[2]); err != nil || len(salt) < 8 {
		return 0, nil, nil, fmt.Errorf("%w: salt", errBadHash)
	}
	if hash, err = enc.DecodeString(parts[3]); err != nil || len(hash) < 16 || len(hash) > 64 {
		return 0, nil, nil, fmt.Errorf("%w: hash", errBadHash)
	}
	return iter, salt, hash, nil
}

// burnPassword spends the time of a verification at iter iterations, so
// that a login for an unknown account takes as long as one for a known
// account: the answer's timing must not tell which names exist.
func burnPassword(password string, iter int) {
	var salt [saltBytes]byte
	pbkdf2.Key(sha256.New, password, salt[:], iter, hashBytes)
}
