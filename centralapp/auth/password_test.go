package auth

import (
	"encoding/base64"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

func TestHashPassword(t *testing.T) {
	enc, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(enc, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" || parts[1] != "600000" {
		t.Fatalf("encoding %q: want pbkdf2-sha256$600000$<salt>$<hash>", enc)
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[2])
	hash, err2 := base64.RawStdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(salt) != 16 || len(hash) != 32 {
		t.Fatalf("salt %d bytes (%v), hash %d bytes (%v): want 16 and 32", len(salt), err1, len(hash), err2)
	}
	if ok, err := VerifyPassword(enc, pw); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, err := VerifyPassword(enc, pw+"!"); ok || err != nil {
		t.Fatalf("wrong password: %v %v", ok, err)
	}
	if NeedsRehash(enc) {
		t.Error("a current hash needs rehashing")
	}
}

func TestHashPasswordSalts(t *testing.T) {
	a, _ := hashPassword(pw, testIterations)
	b, _ := hashPassword(pw, testIterations)
	if a == b {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if !NeedsRehash(a) {
		t.Error("a hash of 1000 iterations does not need rehashing")
	}
	for _, enc := range []string{a, b} {
		if ok, err := VerifyPassword(enc, pw); !ok || err != nil {
			t.Fatalf("VerifyPassword: %v %v", ok, err)
		}
	}
}

func TestPasswordLength(t *testing.T) {
	for _, tc := range []struct {
		password string
		ok       bool
	}{
		{"elevenchars", false},
		{"twelve chars", true},
		{"ééééééééééé", false}, // 11 characters in 22 bytes
		{"éééééééééééé", true},
		{strings.Repeat("x", MaxPasswordLength), true},
		{strings.Repeat("x", MaxPasswordLength+1), false},
	} {
		_, err := hashPassword(tc.password, testIterations)
		if (err == nil) != tc.ok {
			t.Errorf("%d-byte password: %v, want ok=%v", len(tc.password), err, tc.ok)
		}
	}
}

func TestVerifyPasswordMalformed(t *testing.T) {
	good, _ := hashPassword(pw, testIterations)
	parts := strings.Split(good, "$")
	for _, enc := range []string{
		"",
		"plain",
		"bcrypt$10$" + parts[2] + "$" + parts[3],
		"pbkdf2-sha256$0$" + parts[2] + "$" + parts[3],
		"pbkdf2-sha256$99999999$" + parts[2] + "$" + parts[3],
		"pbkdf2-sha256$x$" + parts[2] + "$" + parts[3],
		"pbkdf2-sha256$1000$!!$" + parts[3],
		"pbkdf2-sha256$1000$" + parts[2] + "$",
		"pbkdf2-sha256$1000$" + parts[2],
		good + "$extra",
	} {
		if ok, err := VerifyPassword(enc, pw); ok || err == nil {
			t.Errorf("VerifyPassword(%q): %v %v, want an error", enc, ok, err)
		}
	}
}

// TestConstantTimeCompares checks that secrets are compared with the
// constant-time functions, never with == or bytes.Equal, which return at
// the first differing byte.
func TestConstantTimeCompares(t *testing.T) {
	for file, funcs := range map[string]map[string]string{
		"password.go": {"VerifyPassword": "subtle.ConstantTimeCompare"},
		"token.go":    {"principalForToken": "subtle.ConstantTimeCompare"},
		"session.go":  {"parseSession": "hmac.Equal"},
	} {
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			want, ok := funcs[fn.Name.Name]
			if !ok {
				continue
			}
			delete(funcs, fn.Name.Name)
			found := false
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok {
					name := sel.Sel.Name
					if x, ok := sel.X.(*ast.Ident); ok {
						name = x.Name + "." + name
					}
					if name == want {
						found = true
					}
					if name == "bytes.Equal" || name == "slices.Equal" {
						t.Errorf("%s: %s compares with %s", file, fn.Name.Name, name)
					}
				}
				return true
			})
			if !found {
				t.Errorf("%s: %s does not use %s", file, fn.Name.Name, want)
			}
		}
		for name := range funcs {
			t.Errorf("%s: no func %s", file, name)
		}
	}
}

// BenchmarkHashPassword measures the cost of one login's hash.
func BenchmarkHashPassword(b *testing.B) {
	enc, err := HashPassword(pw)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _ := VerifyPassword(enc, pw); !ok {
			b.Fatal("no match")
		}
	}
}
