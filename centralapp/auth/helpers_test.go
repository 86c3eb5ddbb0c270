package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testIterations keeps tests fast; TestHashPassword uses the real cost.
const testIterations = 1000

// memAccounts is an in-memory Accounts.
type memAccounts struct {
	mu       sync.Mutex
	accounts map[string]Account
	tokens   map[string]APIToken
	err      error // returned by every method when set
}

var _ Accounts = (*memAccounts)(nil)

func newMemAccounts() *memAccounts {
	return &memAccounts{accounts: map[string]Account{}, tokens: map[string]APIToken{}}
}

func (m *memAccounts) add(t *testing.T, name string, role Role, member, password string) {
	t.Helper()
	a := Account{Name: name, Role: role, MemberID: member}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	if password != "" {
		h, err := hashPassword(password, testIterations)
		if err != nil {
			t.Fatal(err)
		}
		a.PasswordHash = h
	}
	m.mu.Lock()
	m.accounts[name] = a
	m.mu.Unlock()
}

func (m *memAccounts) Account(_ context.Context, name string) (Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return Account{}, m.err
	}
	a, ok := m.accounts[name]
	if !ok {
		return Account{}, ErrNotFound
	}
	return a, nil
}

func (m *memAccounts) APIToken(_ context.Context, hash []byte) (APIToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return APIToken{}, m.err
	}
	t, ok := m.tokens[string(hash)]
	if !ok {
		return APIToken{}, ErrNotFound
	}
	return t, nil
}

func (m *memAccounts) AddAPIToken(_ context.Context, t APIToken) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.tokens[string(t.Hash)] = t
	return nil
}

func (m *memAccounts) DeleteAPIToken(_ context.Context, hash []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	delete(m.tokens, string(hash))
	return nil
}

func (m *memAccounts) setErr(err error) {
	m.mu.Lock()
	m.err = err
	m.mu.Unlock()
}

// clock is a settable clock for Options.Now.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

var testKey = bytes.Repeat([]byte("k"), MinSessionKey)

// fixture is an Authenticator over memAccounts holding admin, analyst and
// a member account for "acme", with a settable clock.
type fixture struct {
	a    *Authenticator
	accs *memAccounts
	clk  *clock
	// api serves /whoami to every role and /admin to admins, behind
	// Middleware, and login and logout.
	api http.Handler
}

const pw = "correct horse battery"

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	f := &fixture{accs: newMemAccounts(), clk: &clock{}}
	f.accs.add(t, "root", RoleAdmin, "", pw)
	f.accs.add(t, "ana", RoleAnalyst, "", pw)
	f.accs.add(t, "acme-ops", RoleMember, "acme", pw)
	if opts.SessionKey == nil {
		opts.SessionKey = testKey
	}
	opts.Now = f.clk.now
	a, err := New(f.accs, opts)
	if err != nil {
		t.Fatal(err)
	}
	a.iterations = testIterations
	f.a = a
	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := PrincipalFrom(r.Context())
		json.NewEncoder(w).Encode(p)
	})
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/login", a.Login())
	mux.Handle("POST /api/v1/logout", a.Logout())
	mux.Handle("/whoami", a.Middleware(whoami))
	mux.Handle("/admin", a.Middleware(Require(RoleAdmin)(whoami)))
	f.api = mux
	return f
}

// do runs one request through the fixture's API.
func (f *fixture) do(method, path, body string, mod func(*http.Request)) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = "192.0.2.1:40000"
	if mod != nil {
		mod(r)
	}
	w := httptest.NewRecorder()
	f.api.ServeHTTP(w, r)
	return w
}

// login logs in and returns the answer, the bearer token and the cookie.
func (f *fixture) login(t *testing.T, name, password string) (*httptest.ResponseRecorder, string, *http.Cookie) {
	t.Helper()
	body, _ := json.Marshal(LoginRequest{Name: name, Password: password})
	w := f.do("POST", "/api/v1/login", string(body), nil)
	if w.Code != http.StatusOK {
		return w, "", nil
	}
	var resp LoginResponse
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	var cookie *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == CookieName {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("login set no session cookie")
	}
	return w, resp.Token, cookie
}

func withBearer(token string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

func withCookie(value string) func(*http.Request) {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: CookieName, Value: value}) }
}

func principalOf(t *testing.T, w *httptest.ResponseRecorder) Principal {
	t.Helper()
	var p Principal
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("%d %s: %v", w.Code, w.Body, err)
	}
	return p
}

var errStoreDown = errors.New("store down")
