package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// CookieName is the session cookie. The __Host- prefix makes browsers keep
// it only when Secure, for this host and path / alone.
const CookieName = "__Host-cyberalarm-session"

// MinSessionKey is the shortest session key New accepts.
const MinSessionKey = 32

// maxCookie bounds the cookie parsed.
const maxCookie = 1024

// sessionContext separates session MACs from anything else made with the
// key.
const sessionContext = "cyberalarm session v1\x00"

// session is what the cookie carries. It names the session's API token by
// hash (never the token), so that logging out, or deleting the token,
// ends the cookie too; the MAC means that someone who reads the store's
// token hashes still cannot make a cookie without the key.
type session struct {
	Account string `json:"a"`
	Token   []byte `json:"t"` // SHA-256 of the session's API token
	Expires int64  `json:"e"` // Unix seconds
}

func (a *Authenticator) sessionCookie(s session) *http.Cookie {
	payload, _ := json.Marshal(s) // a struct of strings, bytes and ints
	p := base64.RawURLEncoding.EncodeToString(payload)
	exp := time.Unix(s.Expires, 0)
	return &http.Cookie{
		Name:     CookieName,
		Value:    p + "." + base64.RawURLEncoding.EncodeToString(a.mac(p)),
		Path:     "/",
		Expires:  exp,
		MaxAge:   max(int(exp.Sub(a.now()).Seconds()), 1),
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	}
}

func clearedCookie() *http.Cookie {
	return &http.Cookie{
		Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	}
}

func (a *Authenticator) mac(payload string) []byte {
	m := hmac.New(sha256.New, a.sessionKey)
	m.Write([]byte(sessionContext))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

var errBadCookie = errors.New("auth: bad session cookie")

// parseSession checks a cookie value's MAC and expiry and returns what it
// carries.
func (a *Authenticator) parseSession(value string) (session, error) {
	if len(value) > maxCookie {
		return session{}, errBadCookie
	}
	p, m, ok := strings.Cut(value, ".")
	if !ok {
		return session{}, errBadCookie
	}
	got, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil || !hmac.Equal(got, a.mac(p)) {
		return session{}, errBadCookie
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return session{}, errBadCookie
	}
	var s session
	if err := json.Unmarshal(payload, &s); err != nil || s.Account == "" || len(s.Token) != sha256.Size {
		return session{}, errBadCookie
	}
	if !a.now().Before(time.Unix(s.Expires, 0)) {
		return session{}, errors.New("auth: session expired")
	}
	return s, nil
}
