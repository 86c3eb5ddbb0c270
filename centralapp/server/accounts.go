package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/auth"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// Accounts adapts a store.Store to what package auth persists accounts
// and API tokens in.
type Accounts struct {
	Store store.Store
	// Now is the clock the store judges token expiry by; nil: time.Now.
	Now func() time.Time
}

var _ auth.Accounts = Accounts{}

// Account implements auth.Accounts.
func (a Accounts) Account(ctx context.Context, name string) (auth.Account, error) {
	acct, err := a.Store.Account(ctx, name)
	if err != nil {
		return auth.Account{}, notFound(err)
	}
	return authAccount(acct), nil
}

func authAccount(a store.Account) auth.Account {
	return auth.Account{Name: a.Name, Role: auth.Role(a.Role), MemberID: a.MemberID, PasswordHash: a.PasswordHash}
}

// APIToken implements auth.Accounts.
func (a Accounts) APIToken(ctx context.Context, hash []byte) (auth.APIToken, error) {
	h, err := tokenHash(hash)
	if err != nil {
		return auth.APIToken{}, err
	}
	t, err := a.Store.APIToken(ctx, h)
	if err != nil {
		return auth.APIToken{}, notFound(err)
	}
	return auth.APIToken{Hash: hash, Account: t.Account, Created: t.Created, Expires: t.Expires}, nil
}

// AddAPIToken implements auth.Accounts.
func (a Accounts) AddAPIToken(ctx context.Context, t auth.APIToken) error {
	h, err := tokenHash(t.Hash)
	if err != nil {
		return err
	}
	return a.Store.AddAPIToken(ctx, store.APIToken{Hash: h, Account: t.Account, Created: t.Created, Expires: t.Expires})
}

// DeleteAPIToken implements auth.Accounts; deleting a missing token is not
// an error.
func (a Accounts) DeleteAPIToken(ctx context.Context, hash []byte) error {
	h, err := tokenHash(hash)
	if err != nil {
		return err
	}
	if err := a.Store.DeleteAPIToken(ctx, h); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

func tokenHash(b []byte) (store.TokenHash, error) {
	var h store.TokenHash
	if len(b) != sha256.Size {
		return h, fmt.Errorf("token hash of %d bytes, want %d", len(b), sha256.Size)
	}
	copy(h[:], b)
	return h, nil
}

// notFound makes the store's ErrNotFound auth's too.
func notFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %w", auth.ErrNotFound, err)
	}
	return err
}
