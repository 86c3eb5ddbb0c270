package auth

import (
	"context"
	"errors"
	"fmt"
)

// Principal is who a request is made by.
type Principal struct {
	Account  string
	Role     Role
	MemberID string // for RoleMember
}

// Errors of ScopeMember: the HTTP layer answers 403 and 400.
var (
	ErrForbidden     = errors.New("auth: forbidden")
	ErrInvalidMember = errors.New("auth: invalid member id")
)

// CanSee reports whether p may see memberID's data.
func (p Principal) CanSee(memberID string) bool {
	switch p.Role {
	case RoleAdmin, RoleAnalyst:
		return true
	case RoleMember:
		return p.MemberID != "" && memberID == p.MemberID
	}
	return false
}

// ScopeMember returns the member whose data a request by p for requested
// (empty: not given) may read. A member account always gets its own member,
// and ErrForbidden if it asked for another. Analysts and admins get what
// they asked for, where empty means every member.
func ScopeMember(p Principal, requested string) (string, error) {
	switch p.Role {
	case RoleAdmin, RoleAnalyst:
		if requested != "" && !ValidMemberID(requested) {
			return "", fmt.Errorf("%w %q", ErrInvalidMember, requested)
		}
		return requested, nil
	case RoleMember:
		if p.MemberID == "" || (requested != "" && requested != p.MemberID) {
			return "", ErrForbidden
		}
		return p.MemberID, nil
	}
	return "", ErrForbidden
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal that Middleware put in ctx.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
