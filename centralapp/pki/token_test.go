package pki

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"testing"
)

func TestNewToken(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, hash := NewToken()
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(raw) != 32 {
			t.Fatalf("token %q: %d bytes, %v", tok, len(raw), err)
		}
		if sum := sha256.Sum256([]byte(tok)); !bytes.Equal(hash, sum[:]) {
			t.Fatal("hash is not the SHA-256 of the token")
		}
		if !TokenMatches(tok, hash) {
			t.Fatal("token does not match its hash")
		}
		if seen[tok] {
			t.Fatal("token repeated")
		}
		seen[tok] = true
	}
	tok, hash := NewToken()
	bad := slices.Clone(hash)
	bad[31] ^= 1
	if TokenMatches(tok, bad) || TokenMatches(tok+"x", hash) || TokenMatches(tok, nil) {
		t.Error("TokenMatches accepted a wrong token or hash")
	}
}

func TestRevocationSet(t *testing.T) {
	s := NewRevocationSet()
	if err := s.Add("00:AB:cd", "1"); err != nil {
		t.Fatal(err)
	}
	if !s.Revoked("abcd") || !s.Revoked("1") || s.Revoked("2") || s.Len() != 2 {
		t.Fatalf("after Add: abcd %v, 1 %v, 2 %v, len %d", s.Revoked("abcd"), s.Revoked("1"), s.Revoked("2"), s.Len())
	}
	if err := s.Replace([]string{"2"}); err != nil {
		t.Fatal(err)
	}
	if s.Revoked("abcd") || !s.Revoked("2") || s.Len() != 1 {
		t.Fatal("Replace did not replace the set")
	}
	for _, bad := range []string{"", "xyz", "0", "-5", "00000000000000000000000000000000000000001"} {
		if err := s.Add(bad); err == nil {
			t.Errorf("Add(%q): no error", bad)
		}
		if err := s.Replace([]string{"3", bad}); err == nil {
			t.Errorf("Replace with %q: no error", bad)
		}
	}
	if !s.Revoked("2") || s.Len() != 1 {
		t.Error("a failed Replace changed the set")
	}
}
