package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults.
const (
	DefaultSessionTTL     = 12 * time.Hour
	DefaultTrackedClients = 10_000
	maxLoginBody          = 4 << 10
)

// Options configure an Authenticator.
type Options struct {
	// SessionKey signs session cookies: at least MinSessionKey random
	// bytes, kept across restarts so that sessions survive them.
	SessionKey []byte
	// SessionTTL is the lifetime of a login: of its cookie and of the
	// bearer token it returns. Zero: DefaultSessionTTL.
	SessionTTL time.Duration
	// AccountBackoff and IPBackoff slow down failed logins per account
	// name and per client address (IPv6 per /64). Zero: the defaults.
	AccountBackoff, IPBackoff Backoff
	// TrackedClients bounds the names and the addresses whose failures
	// are remembered, each. Zero: DefaultTrackedClients.
	TrackedClients int
	// ClientIP returns the address a request comes from; nil: the host
	// of RemoteAddr. Set it behind a reverse proxy that you trust.
	ClientIP func(*http.Request) string
	// Logger receives failed logins; nil: slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Authenticator authenticates API requests and serves login and logout.
type Authenticator struct {
	accounts   Accounts
	sessionKey []byte
	ttl        time.Duration
	byAccount  *limiter
	byIP       *limiter
	clientIP   func(*http.Request) string
	log        *slog.Logger
	now        func() time.Time
	csrf       *http.CrossOriginProtection
	// hashSlots bounds concurrent password hashes, so that a flood of
	// logins queues instead of taking every core.
	hashSlots chan struct{}
	// iterations is the work burnt for a login to an unknown account:
	// that of HashPassword. Tests lower it.
	iterations int
}

// New returns an Authenticator backed by accounts.
func New(accounts Accounts, opts Options) (*Authenticator, error) {
	if accounts == nil {
		return nil, errors.New("auth: nil Accounts")
	}
	if len(opts.SessionKey) < MinSessionKey {
		return nil, fmt.Errorf("auth: session key has %d bytes, want at least %d", len(opts.SessionKey), MinSessionKey)
	}
	if opts.SessionTTL < 0 {
		return nil, fmt.Errorf("auth: negative session lifetime %v", opts.SessionTTL)
	}
	a := &Authenticator{
		accounts:   accounts,
		sessionKey: slices.Clone(opts.SessionKey),
		ttl:        opts.SessionTTL,
		clientIP:   opts.ClientIP,
		log:        opts.Logger,
		now:        opts.Now,
		csrf:       http.NewCrossOriginProtection(),
		hashSlots:  make(chan struct{}, runtime.GOMAXPROCS(0)),
		iterations: Iterations,
	}
	if a.ttl == 0 {
		a.ttl = DefaultSessionTTL
	}
	tracked := opts.TrackedClients
	if tracked <= 0 {
		tracked = DefaultTrackedClients
	}
	a.byAccount = newLimiter(opts.AccountBackoff.withDefaults(DefaultAccountBackoff), tracked)
	a.byIP = newLimiter(opts.IPBackoff.withDefaults(DefaultIPBackoff), tracked)
	if a.clientIP == nil {
		a.clientIP = remoteHost
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	return a, nil
}

// Middleware authenticates each request by its bearer token or, failing
// that, its session cookie, and puts the Principal in the request context.
// A request with neither, or with one that is bad or expired, gets 401. A
// cookie-authenticated request that changes state must come from central's
// own origin (cross-site request forgery); a bearer token is never sent by a
// browser on its own, so it needs no such check.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, viaCookie, err := a.authenticate(r)
		if err != nil {
			if !errors.Is(err, errUnauthenticated) && !errors.Is(err, errBadCookie) {
				a.log.Error("authentication failed", "err", err)
				writeError(w, http.StatusInternalServerError, "internal error")
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="cyberalarm"`)
			writeError(w, http.StatusUnauthorized, "authentication required")
			return
		}
		if viaCookie {
			if err := a.csrf.Check(r); err != nil {
				writeError(w, http.StatusForbidden, "cross-origin request refused")
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// authenticate returns the request's principal. Errors matching
// errUnauthenticated or errBadCookie mean 401; others are the store's.
func (a *Authenticator) authenticate(r *http.Request) (p Principal, viaCookie bool, err error) {
	if h := r.Header.Get("Authorization"); h != "" {
		token, ok := bearer(h)
		if !ok || !wellFormedToken(token) {
			return Principal{}, false, fmt.Errorf("%w: malformed Authorization header", errUnauthenticated)
		}
		p, err := a.principalForToken(r.Context(), hashToken(token), "")
		return p, false, err
	}
	c, err := r.Cookie(CookieName)
	if err != nil {
		return Principal{}, false, fmt.Errorf("%w: no credentials", errUnauthenticated)
	}
	s, err := a.parseSession(c.Value)
	if err != nil {
		return Principal{}, true, fmt.Errorf("%w: %w", errUnauthenticated, err)
	}
	p, err = a.principalForToken(r.Context(), s.Token, s.Account)
	return p, true, err
}

func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// Require lets through requests whose principal has one of roles, answers
// 403 to the others, and 401 to requests that Middleware did not
// authenticate.
func Require(roles ...Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := PrincipalFrom(r.Context())
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="cyberalarm"`)
				writeError(w, http.StatusUnauthorized, "authentication required")
				return
			}
			if !slices.Contains(roles, p.Role) {
				writeError(w, http.StatusForbidden, "forbidden for role "+string(p.Role))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// LoginRequest is the body of POST /api/v1/login.
type LoginRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

// LoginResponse is the answer to a successful login. Token is a bearer
// token for the same session as the cookie set alongside.
type LoginResponse struct {
	Token    string    `json:"token"`
	Expires  time.Time `json:"expires"`
	Account  string    `json:"account"`
	Role     Role      `json:"role"`
	MemberID string    `json:"member_id,omitempty"`
}

// Login serves POST /api/v1/login: {"name","password"} in, a session cookie
// and a LoginResponse out. Failures are 401 with one message for a wrong
// name and a wrong password alike, and take as long; past a few failures
// for a name or an address, 429 with Retry-After.
func (a *Authenticator) Login() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, "use POST")
			return
		}
		// A forged cross-site login would sign the victim's browser
		// into the attacker's account.
		if err := a.csrf.Check(r); err != nil {
			writeError(w, http.StatusForbidden, "cross-origin request refused")
			return
		}
		var in LoginRequest
		if err := decodeStrict(http.MaxBytesReader(w, r.Body, maxLoginBody), &in); err != nil {
			writeError(w, http.StatusBadRequest, "body: "+err.Error())
			return
		}
		if in.Name == "" || in.Password == "" || len(in.Name) > 64 || len(in.Password) > MaxPasswordLength {
			writeError(w, http.StatusBadRequest, "name and password are required, of at most 64 and 1024 bytes")
			return
		}
		ip := a.clientIP(r)
		now := a.now()
		if wait := max(a.byAccount.wait(in.Name, now), a.byIP.wait(ip, now)); wait > 0 {
			tooMany(w, wait)
			return
		}
		acct, ok, err := a.checkPassword(r.Context(), in.Name, in.Password)
		if err != nil {
			if r.Context().Err() == nil {
				a.log.Error("login failed", "account", in.Name, "err", err)
				writeError(w, http.StatusInternalServerError, "internal error")
			}
			return
		}
		if !ok {
			now = a.now()
			wait := max(a.byAccount.fail(in.Name, now), a.byIP.fail(ip, now))
			a.log.Warn("failed login", "account", in.Name, "ip", ip, "locked_for", wait)
			writeError(w, http.StatusUnauthorized, "invalid name or password")
			return
		}
		a.byAccount.reset(in.Name) // the address keeps its count: one good login must not clear a spray
		token, expires, err := a.issue(r.Context(), acct.Name, a.ttl)
		if err != nil {
			a.log.Error("login failed", "account", in.Name, "err", err)
			writeError(w, http.StatusInternalServerError, "internal error")
			return
		}
		http.SetCookie(w, a.sessionCookie(session{Account: acct.Name, Token: hashToken(token), Expires: expires.Unix()}))
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, LoginResponse{
			Token: token, Expires: expires.UTC(), Account: acct.Name, Role: acct.Role, MemberID: acct.MemberID,
		})
	})
}

// checkPassword verifies password for the account called name. For a name
// without an account, or an account without a password, it burns the time
// of a verification and reports false.
func (a *Authenticator) checkPassword(ctx context.Context, name, password string) (Account, bool, error) {
	select {
	case a.hashSlots <- struct{}{}:
		defer func() { <-a.hashSlots }()
	case <-ctx.Done():
		return Account{}, false, ctx.Err()
	}
	acct, err := a.accounts.Account(ctx, name)
	if errors.Is(err, ErrNotFound) || (err == nil && acct.PasswordHash == "") {
		burnPassword(password, a.iterations)
		return Account{}, false, nil
	}
	if err != nil {
		return Account{}, false, err
	}
	ok, err := VerifyPassword(acct.PasswordHash, password)
	if err != nil {
		return Account{}, false, fmt.Errorf("account %s: %w", name, err)
	}
	if ok {
		if err := acct.Validate(); err != nil {
			return Account{}, false, err
		}
	}
	return acct, ok, nil
}

// Logout serves POST /api/v1/logout: it deletes the session's token, named
// by the bearer token or the cookie, and clears the cookie. It answers 204
// whether or not there was a session.
func (a *Authenticator) Logout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, "use POST")
			return
		}
		if err := a.csrf.Check(r); err != nil {
			writeError(w, http.StatusForbidden, "cross-origin request refused")
			return
		}
		var hash []byte
		if token, ok := bearer(r.Header.Get("Authorization")); ok && wellFormedToken(token) {
			hash = hashToken(token)
		} else if c, err := r.Cookie(CookieName); err == nil {
			if s, err := a.parseSession(c.Value); err == nil {
				hash = s.Token
			}
		}
		if hash != nil {
			if err := a.accounts.DeleteAPIToken(r.Context(), hash); err != nil {
				a.log.Error("logout failed", "err", err)
				writeError(w, http.StatusInternalServerError, "internal error")
				return
			}
		}
		http.SetCookie(w, clearedCookie())
		w.WriteHeader(http.StatusNoContent)
	})
}

func tooMany(w http.ResponseWriter, wait time.Duration) {
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests, fmt.Sprintf("too many failed logins; retry in %ds", secs))
}

// remoteHost returns the client address of r, IPv6 addresses reduced to
// their /64, which one subscriber usually holds whole.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers {"error": msg}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
