package auth

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestNewOptions(t *testing.T) {
	if _, err := New(newMemAccounts(), Options{SessionKey: testKey[:31]}); err == nil {
		t.Error("31-byte session key: no error")
	}
	if _, err := New(nil, Options{SessionKey: testKey}); err == nil {
		t.Error("nil Accounts: no error")
	}
	if _, err := New(newMemAccounts(), Options{SessionKey: testKey, SessionTTL: -time.Hour}); err == nil {
		t.Error("negative TTL: no error")
	}
}

func TestLogin(t *testing.T) {
	f := newFixture(t, Options{SessionTTL: time.Hour})
	w, token, cookie := f.login(t, "acme-ops", pw)
	if w.Code != http.StatusOK {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	var resp LoginResponse
	json.Unmarshal(w.Body.Bytes(), &resp)
	if resp.Account != "acme-ops" || resp.Role != RoleMember || resp.MemberID != "acme" || !wellFormedToken(token) {
		t.Errorf("login answer %+v", resp)
	}
	if d := time.Until(resp.Expires); d < 59*time.Minute || d > time.Hour {
		t.Errorf("token expires in %v, want 1h", d)
	}
	if !cookie.HttpOnly || !cookie.Secure || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" || cookie.Domain != "" {
		t.Errorf("cookie attributes %+v", cookie)
	}
	if cookie.MaxAge < 3590 || cookie.MaxAge > 3600 {
		t.Errorf("cookie Max-Age %d, want 3600", cookie.MaxAge)
	}
	if strings.Contains(cookie.Value, token) {
		t.Error("the cookie carries the bearer token")
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Error("login answer may be cached")
	}
	// Only the hash is stored.
	for k, v := range f.accs.tokens {
		if strings.Contains(k, token) || !bytes.Equal(v.Hash, hashToken(token)) || v.Account != "acme-ops" {
			t.Errorf("stored token %+v", v)
		}
	}

	want := Principal{Account: "acme-ops", Role: RoleMember, MemberID: "acme"}
	for name, mod := range map[string]func(*http.Request){
		"bearer": withBearer(token), "cookie": withCookie(cookie.Value),
	} {
		w := f.do("GET", "/whoami", "", mod)
		if w.Code != http.StatusOK || principalOf(t, w) != want {
			t.Errorf("%s: %d %s", name, w.Code, w.Body)
		}
	}
}

func TestLoginRefusals(t *testing.T) {
	f := newFixture(t, Options{})
	f.accs.add(t, "tokens-only", RoleAnalyst, "", "")
	wrong := f.do("POST", "/api/v1/login", `{"name":"root","password":"wrong password!"}`, nil)
	unknown := f.do("POST", "/api/v1/login", `{"name":"nobody","password":"wrong password!"}`, nil)
	noPassword := f.do("POST", "/api/v1/login", `{"name":"tokens-only","password":"wrong password!"}`, nil)
	for name, w := range map[string]*httptest.ResponseRecorder{"wrong": wrong, "unknown": unknown, "no password": noPassword} {
		if w.Code != http.StatusUnauthorized || w.Body.String() != wrong.Body.String() {
			t.Errorf("%s: %d %s; want 401 and the same answer for every failure", name, w.Code, w.Body)
		}
		if len(w.Result().Cookies()) != 0 {
			t.Errorf("%s: failed login set a cookie", name)
		}
	}
	for _, body := range []string{``, `{}`, `{"name":"root"}`, `{"name":"root","password":"x","extra":1}`, `{"name":"root","password":"x"}{}`, `[]`,
		`{"name":"root","password":"` + strings.Repeat("x", 5000) + `"}`} {
		if w := f.do("POST", "/api/v1/login", body, nil); w.Code != http.StatusBadRequest {
			t.Errorf("body %.40q: %d, want 400", body, w.Code)
		}
	}
	rec := httptest.NewRecorder()
	f.a.Login().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/login", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET login: %d", rec.Code)
	}
	// Login CSRF: a cross-site form must not log the browser in.
	w := f.do("POST", "/api/v1/login", `{"name":"root","password":"`+pw+`"}`, func(r *http.Request) {
		r.Header.Set("Sec-Fetch-Site", "cross-site")
	})
	if w.Code != http.StatusForbidden {
		t.Errorf("cross-site login: %d, want 403", w.Code)
	}
}

// TestLoginUnknownAccountTakesAsLong checks that a login for a name without
// an account spends the time of a password hash, so that timing does not
// tell which names exist. Load only slows the login down, so comparing it
// with the fastest of a few direct hashes cannot fail spuriously.
func TestLoginUnknownAccountTakesAsLong(t *testing.T) {
	f := newFixture(t, Options{})
	f.a.iterations = 100_000
	fastest := time.Duration(1 << 62)
	for range 3 {
		start := time.Now()
		burnPassword(pw, f.a.iterations)
		fastest = min(fastest, time.Since(start))
	}
	start := time.Now()
	w := f.do("POST", "/api/v1/login", `{"name":"nobody","password":"wrong password!"}`, nil)
	took := time.Since(start)
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("login: %d", w.Code)
	}
	if took < fastest/2 {
		t.Errorf("login for an unknown account took %v; a hash takes %v", took, fastest)
	}
}

func TestMiddleware401And403(t *testing.T) {
	f := newFixture(t, Options{})
	_, member, memberCookie := f.login(t, "acme-ops", pw)
	_, admin, _ := f.login(t, "root", pw)
	_, analyst, _ := f.login(t, "ana", pw)

	for _, tc := range []struct {
		name string
		path string
		mod  func(*http.Request)
		want int
	}{
		{"no credentials", "/whoami", nil, 401},
		{"unknown token", "/whoami", withBearer(base64.RawURLEncoding.EncodeToString(make([]byte, 32))), 401},
		{"malformed token", "/whoami", withBearer("abc"), 401},
		{"basic auth", "/whoami", func(r *http.Request) { r.SetBasicAuth("root", pw) }, 401},
		{"bad bearer wins over good cookie", "/whoami", func(r *http.Request) {
			withCookie(memberCookie.Value)(r)
			withBearer("abc")(r)
		}, 401},
		{"member on admin route", "/admin", withBearer(member), 403},
		{"analyst on admin route", "/admin", withBearer(analyst), 403},
		{"admin on admin route", "/admin", withBearer(admin), 200},
		{"lower-case scheme", "/whoami", func(r *http.Request) { r.Header.Set("Authorization", "bearer "+member) }, 200},
	} {
		w := f.do("GET", tc.path, "", tc.mod)
		if w.Code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, w.Code, w.Body, tc.want)
		}
		if w.Code == 401 && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: 401 without WWW-Authenticate", tc.name)
		}
	}

	// Require without Middleware in front: nobody is authenticated.
	rec := httptest.NewRecorder()
	Require(RoleAdmin)(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("Require alone: %d, want 401", rec.Code)
	}
}

func TestCookieCrossOrigin(t *testing.T) {
	f := newFixture(t, Options{})
	_, token, cookie := f.login(t, "root", pw)
	crossSite := func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }
	for _, tc := range []struct {
		name   string
		method string
		mod    []func(*http.Request)
		want   int
	}{
		{"cookie POST cross-site", "POST", []func(*http.Request){withCookie(cookie.Value), crossSite}, 403},
		{"cookie POST same-origin", "POST", []func(*http.Request){withCookie(cookie.Value), func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "same-origin") }}, 200},
		{"cookie GET cross-site", "GET", []func(*http.Request){withCookie(cookie.Value), crossSite}, 200},
		{"bearer POST cross-site", "POST", []func(*http.Request){withBearer(token), crossSite}, 200},
	} {
		w := f.do(tc.method, "/admin", "", func(r *http.Request) {
			for _, m := range tc.mod {
				m(r)
			}
		})
		if w.Code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, w.Code, tc.want)
		}
	}
}

func TestCookieTampering(t *testing.T) {
	f := newFixture(t, Options{})
	_, _, cookie := f.login(t, "acme-ops", pw)
	_, _, rootCookie := f.login(t, "root", pw)
	payload, mac, _ := strings.Cut(cookie.Value, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	var s session
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	reencode := func(s session) string {
		b, _ := json.Marshal(s)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	escalated := s
	escalated.Account = "root" // with acme-ops's session token
	longer := s
	longer.Expires += 86400

	other, err := New(f.accs, Options{SessionKey: bytes.Repeat([]byte("o"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	forged := other.sessionCookie(s).Value

	flip := []byte(cookie.Value)
	flip[len(payload)/2] ^= 1
	rootPayload, _, _ := strings.Cut(rootCookie.Value, ".")

	for name, value := range map[string]string{
		"flipped byte":          string(flip),
		"account changed":       reencode(escalated) + "." + mac,
		"expiry extended":       reencode(longer) + "." + mac,
		"signed by another key": forged,
		"no MAC":                payload,
		"empty MAC":             payload + ".",
		"MAC of another cookie": rootPayload + "." + mac,
		"truncated MAC":         cookie.Value[:len(cookie.Value)-2],
		"garbage":               "x.y",
		"huge":                  strings.Repeat("A", 5000) + "." + mac,
	} {
		if w := f.do("GET", "/whoami", "", withCookie(value)); w.Code != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", name, w.Code, w.Body)
		}
	}
	// A validly signed cookie whose account does not own the token it
	// names is refused too (defence in depth for a leaked key).
	if w := f.do("GET", "/whoami", "", withCookie(f.a.sessionCookie(escalated).Value)); w.Code != http.StatusUnauthorized {
		t.Errorf("signed cookie naming another account's token: %d", w.Code)
	}
	if w := f.do("GET", "/whoami", "", withCookie(cookie.Value)); w.Code != http.StatusOK {
		t.Errorf("untouched cookie: %d", w.Code)
	}
}

func TestExpiry(t *testing.T) {
	f := newFixture(t, Options{SessionTTL: time.Hour})
	_, token, cookie := f.login(t, "ana", pw)
	apiToken, _, err := f.a.IssueAPIToken(context.Background(), "ana", 3*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f.clk.advance(time.Hour + time.Second)
	for name, mod := range map[string]func(*http.Request){
		"login token": withBearer(token), "cookie": withCookie(cookie.Value),
	} {
		if w := f.do("GET", "/whoami", "", mod); w.Code != http.StatusUnauthorized {
			t.Errorf("expired %s: %d, want 401", name, w.Code)
		}
	}
	if w := f.do("GET", "/whoami", "", withBearer(apiToken)); w.Code != http.StatusOK {
		t.Errorf("3h API token after 1h: %d", w.Code)
	}
	f.clk.advance(2 * time.Hour)
	if w := f.do("GET", "/whoami", "", withBearer(apiToken)); w.Code != http.StatusUnauthorized {
		t.Errorf("expired API token: %d, want 401", w.Code)
	}

	if _, _, err := f.a.IssueAPIToken(context.Background(), "nobody", time.Hour); !errors.Is(err, ErrNotFound) {
		t.Errorf("token for an unknown account: %v", err)
	}
	if _, _, err := f.a.IssueAPIToken(context.Background(), "ana", 0); err == nil {
		t.Error("token without a lifetime: no error")
	}
}

// TestCookieExpiry checks the cookie's own expiry, apart from its token's.
func TestCookieExpiry(t *testing.T) {
	f := newFixture(t, Options{})
	token, _, err := f.a.IssueAPIToken(context.Background(), "ana", 3*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := f.a.sessionCookie(session{Account: "ana", Token: hashToken(token), Expires: f.clk.now().Add(time.Hour).Unix()})
	if w := f.do("GET", "/whoami", "", withCookie(c.Value)); w.Code != http.StatusOK {
		t.Fatalf("fresh cookie: %d", w.Code)
	}
	f.clk.advance(2 * time.Hour)
	if w := f.do("GET", "/whoami", "", withCookie(c.Value)); w.Code != http.StatusUnauthorized {
		t.Errorf("expired cookie with a live token: %d, want 401", w.Code)
	}
	if w := f.do("GET", "/whoami", "", withBearer(token)); w.Code != http.StatusOK {
		t.Errorf("the token itself: %d", w.Code)
	}
}

func TestLogout(t *testing.T) {
	f := newFixture(t, Options{})
	_, token, cookie := f.login(t, "ana", pw)
	w := f.do("POST", "/api/v1/logout", "", withCookie(cookie.Value))
	if w.Code != http.StatusNoContent {
		t.Fatalf("logout: %d", w.Code)
	}
	cleared := w.Result().Cookies()
	if len(cleared) != 1 || cleared[0].Name != CookieName || cleared[0].MaxAge >= 0 {
		t.Errorf("logout cookies %v, want the session cookie cleared", cleared)
	}
	for name, mod := range map[string]func(*http.Request){"bearer": withBearer(token), "cookie": withCookie(cookie.Value)} {
		if w := f.do("GET", "/whoami", "", mod); w.Code != http.StatusUnauthorized {
			t.Errorf("%s after logout: %d, want 401", name, w.Code)
		}
	}
	// Logging out by bearer token, and without any session.
	_, token, _ = f.login(t, "ana", pw)
	if w := f.do("POST", "/api/v1/logout", "", withBearer(token)); w.Code != http.StatusNoContent {
		t.Fatalf("logout by bearer: %d", w.Code)
	}
	if w := f.do("GET", "/whoami", "", withBearer(token)); w.Code != http.StatusUnauthorized {
		t.Errorf("bearer after logout: %d", w.Code)
	}
	if w := f.do("POST", "/api/v1/logout", "", nil); w.Code != http.StatusNoContent {
		t.Errorf("logout without a session: %d", w.Code)
	}
}

func TestDeletedAccountLosesAccess(t *testing.T) {
	f := newFixture(t, Options{})
	_, token, _ := f.login(t, "ana", pw)
	f.accs.mu.Lock()
	delete(f.accs.accounts, "ana")
	f.accs.mu.Unlock()
	if w := f.do("GET", "/whoami", "", withBearer(token)); w.Code != http.StatusUnauthorized {
		t.Errorf("token of a deleted account: %d, want 401", w.Code)
	}
}

func TestStoreFailureIs500(t *testing.T) {
	f := newFixture(t, Options{})
	_, token, _ := f.login(t, "ana", pw)
	f.accs.setErr(errStoreDown)
	if w := f.do("GET", "/whoami", "", withBearer(token)); w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "store down") {
		t.Errorf("store down: %d %s, want 500 without detail", w.Code, w.Body)
	}
	if w := f.do("POST", "/api/v1/login", `{"name":"ana","password":"`+pw+`"}`, nil); w.Code != http.StatusInternalServerError {
		t.Errorf("login with the store down: %d", w.Code)
	}
}

func TestLockout(t *testing.T) {
	f := newFixture(t, Options{})
	bad := `{"name":"ana","password":"wrong password!"}`
	good := `{"name":"ana","password":"` + pw + `"}`
	for i := range DefaultAccountBackoff.Free + 1 {
		if w := f.do("POST", "/api/v1/login", bad, nil); w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, w.Code)
		}
	}
	// Locked for 1s: even the right password is refused unchecked.
	w := f.do("POST", "/api/v1/login", good, nil)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("locked: %d Retry-After %q, want 429 and 1", w.Code, w.Header().Get("Retry-After"))
	}
	// Another address is held back by the account lock too.
	if w := f.do("POST", "/api/v1/login", good, func(r *http.Request) { r.RemoteAddr = "198.51.100.9:1" }); w.Code != http.StatusTooManyRequests {
		t.Fatalf("locked account from another address: %d", w.Code)
	}
	f.clk.advance(time.Second)
	if w := f.do("POST", "/api/v1/login", bad, nil); w.Code != http.StatusUnauthorized {
		t.Fatalf("after the lock: %d", w.Code)
	}
	// The next lock doubles.
	if w := f.do("POST", "/api/v1/login", good, nil); w.Header().Get("Retry-After") != "2" {
		t.Fatalf("second lock: %d Retry-After %q, want 2", w.Code, w.Header().Get("Retry-After"))
	}
	f.clk.advance(2 * time.Second)
	if w := f.do("POST", "/api/v1/login", good, nil); w.Code != http.StatusOK {
		t.Fatalf("right password after the lock: %d %s", w.Code, w.Body)
	}
	// Success forgets the account's failures.
	for range DefaultAccountBackoff.Free {
		f.do("POST", "/api/v1/login", bad, nil)
	}
	if w := f.do("POST", "/api/v1/login", good, nil); w.Code != http.StatusOK {
		t.Fatalf("after a success and %d failures: %d", DefaultAccountBackoff.Free, w.Code)
	}
}

func TestLockoutPerAddress(t *testing.T) {
	f := newFixture(t, Options{IPBackoff: Backoff{Free: 3, Base: time.Minute, Max: time.Hour}})
	// A spray: one try per name, from one address.
	for i, name := range []string{"a1", "a2", "a3", "a4"} {
		w := f.do("POST", "/api/v1/login", `{"name":"`+name+`","password":"wrong password!"}`, nil)
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("try %d: %d", i+1, w.Code)
		}
	}
	good := `{"name":"root","password":"` + pw + `"}`
	if w := f.do("POST", "/api/v1/login", good, nil); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "60" {
		t.Fatalf("sprayed address: %d %q, want 429 after 60s", w.Code, w.Header().Get("Retry-After"))
	}
	if w := f.do("POST", "/api/v1/login", good, func(r *http.Request) { r.RemoteAddr = "198.51.100.9:1" }); w.Code != http.StatusOK {
		t.Fatalf("another address: %d", w.Code)
	}
	// IPv6 clients are counted per /64.
	six := func(addr string) func(*http.Request) { return func(r *http.Request) { r.RemoteAddr = addr } }
	for i := range 4 {
		f.do("POST", "/api/v1/login", `{"name":"x","password":"wrong password!"}`, six("[2001:db8:1:2::"+string(rune('a'+i))+"]:1"))
	}
	if w := f.do("POST", "/api/v1/login", good, six("[2001:db8:1:2:ffff::1]:1")); w.Code != http.StatusTooManyRequests {
		t.Fatalf("same /64: %d, want 429", w.Code)
	}
	if w := f.do("POST", "/api/v1/login", good, six("[2001:db8:1:3::1]:1")); w.Code != http.StatusOK {
		t.Fatalf("another /64: %d", w.Code)
	}
}

func TestLimiterBounded(t *testing.T) {
	l := newLimiter(Backoff{Free: 0, Base: time.Second, Max: time.Minute, Forget: time.Hour}, 100)
	now := time.Now()
	for i := range 10_000 {
		l.fail(string(rune(i+0x100)), now)
	}
	if n := l.len(); n != 100 {
		t.Fatalf("%d keys tracked, want the capacity 100", n)
	}
	if l.wait(string(rune(10_000-1+0x100)), now) == 0 {
		t.Error("the latest key was evicted")
	}
	if l.wait(string(rune(0x100)), now) != 0 {
		t.Error("the oldest key is still tracked")
	}
	// Forgotten after Forget.
	l.fail("k", now)
	if l.wait("k", now.Add(time.Hour)) != 0 || l.len() != 99 {
		t.Error("a key idle for Forget is not forgotten")
	}
	if d := l.fail("k", now.Add(time.Hour)); d != time.Second {
		t.Errorf("first failure after forgetting locks for %v, want 1s", d)
	}
	for range 100 {
		l.fail("k", now)
	}
	if d := l.wait("k", now); d != time.Minute {
		t.Errorf("after 100 failures locked for %v, want Max 1m", d)
	}
}

// TestOverTLS logs in over real HTTPS with a cookie jar, as a browser
// would, and uses the session.
func TestOverTLS(t *testing.T) {
	f := newFixture(t, Options{})
	srv := httptest.NewUnstartedServer(f.api)
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS13}
	srv.StartTLS()
	defer srv.Close()
	c := srv.Client()
	jar, _ := cookiejar.New(nil)
	c.Jar = jar
	defer c.CloseIdleConnections()

	resp, err := c.Post(srv.URL+"/api/v1/login", "application/json", strings.NewReader(`{"name":"root","password":"`+pw+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %s", resp.Status)
	}
	resp, err = c.Get(srv.URL + "/admin")
	if err != nil {
		t.Fatal(err)
	}
	var p Principal
	json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || p.Account != "root" {
		t.Fatalf("with the cookie: %s %+v", resp.Status, p)
	}
}
