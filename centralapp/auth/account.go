// Package auth authenticates the people and programs that use central's API
// (not collectors, which present client certificates: see centralapp/pki),
// and scopes what each may see.
//
// Accounts have a role: admin, analyst or member; a member account is bound
// to one member id and sees only that member's data. People log in with a
// name and password (POST /api/v1/login) and get an HMAC-signed session
// cookie and a bearer token; programs use API tokens. Only hashes of
// passwords and tokens are stored. Persistence is the caller's: it
// implements Accounts.
package auth

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Role is what an account may do.
type Role string

// Roles.
const (
	RoleAdmin   Role = "admin"   // everything, including accounts and members
	RoleAnalyst Role = "analyst" // reads every member's data
	RoleMember  Role = "member"  // reads its own member's data only
)

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAdmin, RoleAnalyst, RoleMember:
		return r, nil
	}
	return "", fmt.Errorf("auth: unknown role %q (want admin, analyst or member)", s)
}

// Account is a person's or program's account.
type Account struct {
	Name         string
	Role         Role
	MemberID     string // set for RoleMember only
	PasswordHash string // HashPassword's encoding; empty: cannot log in with a password
}

// APIToken is a stored API token. The token itself is shown once and never
// stored.
type APIToken struct {
	Hash    []byte // SHA-256 of the token
	Account string
	Created time.Time
	Expires time.Time
}

// Accounts is the persistence auth needs. Implementations return an error
// matching ErrNotFound for a missing account or token.
type Accounts interface {
	// Account returns the account called name.
	Account(ctx context.Context, name string) (Account, error)
	// APIToken returns the token with hash, expired or not.
	APIToken(ctx context.Context, hash []byte) (APIToken, error)
	// AddAPIToken stores t.
	AddAPIToken(ctx context.Context, t APIToken) error
	// DeleteAPIToken removes the token with hash; removing a missing
	// token is not an error.
	DeleteAPIToken(ctx context.Context, hash []byte) error
}

// ErrNotFound is what Accounts returns, wrapped or not, for a missing
// account or token.
var ErrNotFound = errors.New("auth: not found")

var (
	validName   = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)
	validMember = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
)

// ValidMemberID reports whether id is a member id: [a-z0-9][a-z0-9._-]{0,63}.
func ValidMemberID(id string) bool { return validMember.MatchString(id) }

// NewAccount checks an account's fields and hashes its password.
func NewAccount(name string, role Role, memberID, password string) (Account, error) {
	a := Account{Name: name, Role: role, MemberID: memberID}
	if err := a.Validate(); err != nil {
		return Account{}, err
	}
	h, err := HashPassword(password)
	if err != nil {
		return Account{}, err
	}
	a.PasswordHash = h
	return a, nil
}

// Validate checks the name, the role and the member binding: a member
// account has a valid member id, others have none.
func (a Account) Validate() error {
	if !validName.MatchString(a.Name) {
		return fmt.Errorf("auth: account name %q: want [a-z0-9][a-z0-9._@-]{0,63}", a.Name)
	}
	if _, err := ParseRole(string(a.Role)); err != nil {
		return err
	}
	switch {
	case a.Role == RoleMember && !ValidMemberID(a.MemberID):
		return fmt.Errorf("auth: account %s: a member account needs a member id, [a-z0-9][a-z0-9._-]{0,63}; have %q", a.Name, a.MemberID)
	case a.Role != RoleMember && a.MemberID != "":
		return fmt.Errorf("auth: account %s: only member accounts are bound to a member", a.Name)
	}
	return nil
}
