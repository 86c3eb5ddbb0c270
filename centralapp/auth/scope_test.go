package auth

import (
	"errors"
	"testing"
)

func TestScopeMember(t *testing.T) {
	member := Principal{Account: "acme-ops", Role: RoleMember, MemberID: "acme"}
	analyst := Principal{Account: "ana", Role: RoleAnalyst}
	admin := Principal{Account: "root", Role: RoleAdmin}
	for _, tc := range []struct {
		name      string
		p         Principal
		requested string
		want      string
		err       error
	}{
		{"member, unspecified", member, "", "acme", nil},
		{"member, own", member, "acme", "acme", nil},
		{"member, other", member, "globex", "", ErrForbidden},
		{"member, invalid", member, "../x", "", ErrForbidden},
		{"member without member id", Principal{Role: RoleMember}, "", "", ErrForbidden},
		{"analyst, all", analyst, "", "", nil},
		{"analyst, one", analyst, "globex", "globex", nil},
		{"analyst, invalid", analyst, "Globex", "", ErrInvalidMember},
		{"admin, all", admin, "", "", nil},
		{"admin, one", admin, "acme", "acme", nil},
		{"no role", Principal{Account: "x"}, "", "", ErrForbidden},
		{"unknown role", Principal{Account: "x", Role: "root"}, "acme", "", ErrForbidden},
	} {
		got, err := ScopeMember(tc.p, tc.requested)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("%s: %q %v, want %q %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}

func TestCanSee(t *testing.T) {
	member := Principal{Role: RoleMember, MemberID: "acme"}
	for _, tc := range []struct {
		p      Principal
		member string
		want   bool
	}{
		{member, "acme", true},
		{member, "globex", false},
		{member, "", false},
		{Principal{Role: RoleMember}, "", false},
		{Principal{Role: RoleAnalyst}, "globex", true},
		{Principal{Role: RoleAdmin}, "acme", true},
		{Principal{}, "acme", false},
	} {
		if got := tc.p.CanSee(tc.member); got != tc.want {
			t.Errorf("%+v.CanSee(%q) = %v", tc.p, tc.member, got)
		}
	}
}

func TestAccountValidation(t *testing.T) {
	if a, err := NewAccount("acme-ops", RoleMember, "acme", pw); err != nil || a.PasswordHash == "" {
		t.Fatalf("NewAccount: %+v %v", a, err)
	}
	for _, tc := range []struct {
		name, member, password string
		role                   Role
	}{
		{"Root", "", pw, RoleAdmin},
		{"", "", pw, RoleAdmin},
		{"root", "", pw, "superuser"},
		{"ops", "", pw, RoleMember},
		{"ops", "Acme", pw, RoleMember},
		{"ana", "acme", pw, RoleAnalyst},
		{"root", "", "short", RoleAdmin},
	} {
		if _, err := NewAccount(tc.name, tc.role, tc.member, tc.password); err == nil {
			t.Errorf("NewAccount(%q, %q, %q, %d-char password): no error", tc.name, tc.role, tc.member, len(tc.password))
		}
	}
	if r, err := ParseRole("analyst"); err != nil || r != RoleAnalyst {
		t.Errorf("ParseRole: %v %v", r, err)
	}
}
