package auth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/pki"
)

// tokenBytes is the entropy of an API token: 256 bits, as pki's tokens.
const tokenBytes = 32

// newAPIToken returns a new token, URL-safe base64 without padding, and its
// hash. API tokens are made like enrolment tokens.
func newAPIToken() (token string, hash []byte) { return pki.NewToken() }

func hashToken(token string) []byte { return pki.HashToken(token) }

// wellFormedToken reports whether token could have come from newAPIToken,
// so that garbage is refused without a store lookup.
func wellFormedToken(token string) bool {
	b, err := base64.RawURLEncoding.DecodeString(token)
	return err == nil && len(b) == tokenBytes
}

// IssueAPIToken creates an API token for account, valid for ttl, and
// returns it: it is shown once, and only its hash is stored.
func (a *Authenticator) IssueAPIToken(ctx context.Context, account string, ttl time.Duration) (token string, expires time.Time, err error) {
	if ttl <= 0 {
		return "", time.Time{}, fmt.Errorf("auth: token lifetime %v: must be positive", ttl)
	}
	if _, err := a.accounts.Account(ctx, account); err != nil {
		return "", time.Time{}, fmt.Errorf("auth: account %q: %w", account, err)
	}
	return a.issue(ctx, account, ttl)
}

func (a *Authenticator) issue(ctx context.Context, account string, ttl time.Duration) (string, time.Time, error) {
	token, hash := newAPIToken()
	now := a.now().UTC()
	t := APIToken{Hash: hash, Account: account, Created: now, Expires: now.Add(ttl)}
	if err := a.accounts.AddAPIToken(ctx, t); err != nil {
		return "", time.Time{}, fmt.Errorf("auth: store token: %w", err)
	}
	return token, t.Expires, nil
}

// errUnauthenticated is behind every 401: the detail goes to the log, not
// to the client.
var errUnauthenticated = errors.New("auth: not authenticated")

// principalForToken resolves a token hash, from a bearer token or a session
// cookie, to its principal. It returns errUnauthenticated for an unknown or
// expired token or account, and the store's error otherwise.
func (a *Authenticator) principalForToken(ctx context.Context, hash []byte, account string) (Principal, error) {
	t, err := a.accounts.APIToken(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return Principal{}, fmt.Errorf("%w: unknown token", errUnauthenticated)
	}
	if err != nil {
		return Principal{}, err
	}
	// The store found the row by hash; compare anyway, in constant time,
	// so that a store matching loosely cannot let a wrong token in.
	if subtle.ConstantTimeCompare(t.Hash, hash) != 1 || (account != "" && t.Account != account) {
		return Principal{}, fmt.Errorf("%w: token mismatch", errUnauthenticated)
	}
	if !a.now().Before(t.Expires) {
		return Principal{}, fmt.Errorf("%w: token expired", errUnauthenticated)
	}
	acct, err := a.accounts.Account(ctx, t.Account)
	if errors.Is(err, ErrNotFound) {
		return Principal{}, fmt.Errorf("%w: account %q is gone", errUnauthenticated, t.Account)
	}
	if err != nil {
		return Principal{}, err
	}
	if err := acct.Validate(); err != nil {
		return Principal{}, fmt.Errorf("%w: %w", errUnauthenticated, err)
	}
	return Principal{Account: acct.Name, Role: acct.Role, MemberID: acct.MemberID}, nil
}
