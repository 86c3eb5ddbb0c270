package update

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func TestSignVerify(t *testing.T) {
	pub, priv := newKey(t)
	created := time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.FixedZone("x", 3600))
	s, err := SignAt(priv, KindRules, 3, []byte("id: a\n"), created)
	if err != nil {
		t.Fatal(err)
	}
	env, err := Verify(pub, s)
	if err != nil {
		t.Fatal(err)
	}
	if env.Kind != KindRules || env.Version != 3 || string(env.Payload) != "id: a\n" ||
		!env.Created.Equal(created.Truncate(time.Millisecond)) || env.Created.Location() != time.UTC {
		t.Errorf("envelope %+v", env)
	}
	// The wire form round-trips through JSON as base64.
	b, err := json.Marshal(Manifest{Items: []Signed{s}})
	if err != nil {
		t.Fatal(err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil || len(m.Items) != 1 {
		t.Fatalf("manifest %s: %v", b, err)
	}
	if _, err := Verify(pub, m.Items[0]); err != nil {
		t.Errorf("after a JSON round trip: %v", err)
	}
}

func TestVerifyRefuses(t *testing.T) {
	pub, priv := newKey(t)
	otherPub, _ := newKey(t)
	good, err := Sign(priv, KindIndicators, 1, []byte("203.0.113.7\n"))
	if err != nil {
		t.Fatal(err)
	}
	// signRaw signs arbitrary envelope bytes with the right key, to reach
	// the checks behind the signature.
	signRaw := func(env string) Signed {
		return Signed{Envelope: []byte(env), Signature: ed25519.Sign(priv, signedBytes([]byte(env)))}
	}
	flipped := bytes.Clone(good.Envelope)
	flipped[len(flipped)/2] ^= 1
	for name, tc := range map[string]struct {
		key ed25519.PublicKey
		s   Signed
		sig bool
	}{
		"other key":         {otherPub, good, true},
		"flipped bit":       {pub, Signed{Envelope: flipped, Signature: good.Signature}, true},
		"short signature":   {pub, Signed{Envelope: good.Envelope, Signature: good.Signature[:10]}, true},
		"no context prefix": {pub, Signed{Envelope: good.Envelope, Signature: ed25519.Sign(priv, good.Envelope)}, true},
		"short key":         {pub[:5], good, false},
		"unknown kind":      {pub, signRaw(`{"kind":"binary","version":1,"created":"2026-01-01T00:00:00Z","sha256":"","payload":""}`), false},
		"version zero":      {pub, signRaw(`{"kind":"rules","version":0,"created":"2026-01-01T00:00:00Z","sha256":"","payload":""}`), false},
		"digest mismatch":   {pub, signRaw(`{"kind":"rules","version":1,"created":"2026-01-01T00:00:00Z","sha256":"00","payload":"eA=="}`), false},
		"unknown field":     {pub, signRaw(`{"kind":"rules","version":1,"extra":1}`), false},
		"trailing data":     {pub, signRaw(`{"kind":"rules","version":1} {}`), false},
		"not json":          {pub, signRaw(`rules 1`), false},
	} {
		_, err := Verify(tc.key, tc.s)
		if err == nil {
			t.Errorf("%s: verified", name)
			continue
		}
		if errors.Is(err, ErrSignature) != tc.sig {
			t.Errorf("%s: %v; signature error: %v, want %v", name, err, errors.Is(err, ErrSignature), tc.sig)
		}
	}
}

func TestSignRefuses(t *testing.T) {
	_, priv := newKey(t)
	if _, err := Sign(priv, "firmware", 1, nil); err == nil {
		t.Error("unknown kind signed")
	}
	if _, err := Sign(priv, KindRules, 0, nil); err == nil {
		t.Error("version 0 signed")
	}
	if _, err := Sign(priv[:10], KindRules, 1, nil); err == nil {
		t.Error("short key used")
	}
}

func TestParsePublicKey(t *testing.T) {
	pub, _ := newKey(t)
	got, err := ParsePublicKey(" " + base64.StdEncoding.EncodeToString(pub) + "\n")
	if err != nil || !got.Equal(pub) {
		t.Errorf("ParsePublicKey: %v", err)
	}
	for _, bad := range []string{"", "!!!", base64.StdEncoding.EncodeToString(pub[:31])} {
		if _, err := ParsePublicKey(bad); err == nil || !strings.Contains(err.Error(), "public key") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
