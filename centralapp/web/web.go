// Package web is central's dashboard: server-rendered pages for members,
// analysts and admins, served on the same listener as the API.
//
// It keeps no accounts or sessions of its own. Logging in and out goes
// through package auth's handlers, and every page is authenticated by
// auth's middleware; web adds what a browser needs on top: a login form,
// redirects instead of 401s, a CSRF token bound to the session on every
// form that changes state, and strict security headers. Scoping is checked
// on the server for every page: a member account sees its own member's
// data and gets 404 for anyone else's, as for a page that does not exist.
package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/auth"
	"github.com/cyberalarm/cyberalarm/centralapp/scan"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// Authenticator logs people in and out and authenticates requests.
// *auth.Authenticator implements it.
type Authenticator interface {
	Middleware(next http.Handler) http.Handler
	Login() http.Handler
	Logout() http.Handler
}

var _ Authenticator = (*auth.Authenticator)(nil)

// Admin is what the member management pages change. *service.Service
// implements it.
type Admin interface {
	// AddMember adds m and returns a one-time enrolment token, valid for
	// ttl, for its first collector.
	AddMember(ctx context.Context, m store.Member, ttl time.Duration) (string, error)
	// NewEnrolToken returns a further one-time enrolment token for member.
	NewEnrolToken(ctx context.Context, member string, ttl time.Duration) (string, error)
	// RevokeCollector revokes a collector's certificate now.
	RevokeCollector(ctx context.Context, id string) error
}

// DefaultEnrolTokenTTL is how long an enrolment token issued from the
// dashboard stays valid, as `members add` gives.
const DefaultEnrolTokenTTL = 7 * 24 * time.Hour

// Config configures the dashboard. Store, Auth, Admin and Key are required.
type Config struct {
	Store store.Store
	Auth  Authenticator
	Admin Admin
	// Key signs CSRF tokens: at least 32 secret bytes, kept across
	// restarts (central passes its session key; web derives its own key
	// from it).
	Key []byte
	// CAFingerprint is shown with enrolment tokens, for the collector's
	// --ca-sha256.
	CAFingerprint string
	// EnrolTokenTTL: zero means DefaultEnrolTokenTTL.
	EnrolTokenTTL time.Duration
	// Scans reads members' vulnerability scans for the findings page;
	// nil when scanning is not in use, which the page then says.
	// *scan.SQLite implements it.
	Scans scan.Reader
	// Logger: nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Web is the dashboard's handler.
type Web struct {
	store    store.Store
	auth     Authenticator
	admin    Admin
	scans    scan.Reader
	csrfKey  []byte
	caFP     string
	tokenTTL time.Duration
	log      *slog.Logger
	now      func() time.Time

	pages  map[string]*template.Template
	assets map[string]asset
	mux    *http.ServeMux
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// New returns the dashboard.
func New(cfg Config) (*Web, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("web: no store")
	case cfg.Auth == nil:
		return nil, errors.New("web: no authenticator")
	case cfg.Admin == nil:
		return nil, errors.New("web: no admin")
	case len(cfg.Key) < 32:
		return nil, fmt.Errorf("web: key has %d bytes, want at least 32", len(cfg.Key))
	case cfg.EnrolTokenTTL < 0:
		return nil, fmt.Errorf("web: negative enrolment token lifetime %v", cfg.EnrolTokenTTL)
	}
	w := &Web{
		store:    cfg.Store,
		auth:     cfg.Auth,
		admin:    cfg.Admin,
		scans:    cfg.Scans,
		caFP:     cfg.CAFingerprint,
		tokenTTL: cfg.EnrolTokenTTL,
		log:      cfg.Logger,
		now:      cfg.Now,
	}
	// A key of web's own, so that a CSRF token can never be mistaken for
	// anything else signed with central's session key.
	m := hmac.New(sha256.New, cfg.Key)
	m.Write([]byte("cyberalarm web csrf v1"))
	w.csrfKey = m.Sum(nil)
	if w.tokenTTL == 0 {
		w.tokenTTL = DefaultEnrolTokenTTL
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	if w.now == nil {
		w.now = time.Now
	}
	var err error
	if w.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	if w.pages, err = w.loadTemplates(); err != nil {
		return nil, err
	}
	w.mux = w.routes()
	return w, nil
}

// ServeHTTP serves the dashboard, every response with its security
// headers.
func (w *Web) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	secureHeaders(rw.Header())
	w.mux.ServeHTTP(rw, r)
}

// Paths of the pages that other pages and tests link to.
const (
	LoginPath  = "/login"
	LogoutPath = "/logout"
)

func (w *Web) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /assets/{name}", w.serveAsset)
	mux.HandleFunc("GET "+LoginPath, w.loginForm)
	mux.HandleFunc("POST "+LoginPath, w.login)
	mux.HandleFunc("POST "+LogoutPath, w.logout)

	mux.Handle("GET /{$}", w.page(w.overview))
	mux.Handle("GET /detections", w.page(w.detections))
	mux.Handle("GET /campaigns", w.page(w.campaigns))
	mux.Handle("GET /campaigns/{id}", w.page(w.campaign))
	mux.Handle("GET /members", w.page(w.members))
	mux.Handle("GET /members/{id}", w.page(w.member))
	mux.Handle("GET /reports", w.page(w.reports))
	mux.Handle("GET /findings", w.page(w.findings))
	mux.Handle("GET /reports/{id}/{format}", w.page(w.reportFile))

	mux.Handle("GET /admin/members", w.page(adminOnly(w.manage)))
	mux.Handle("POST /admin/members", w.form(adminOnly(w.addMember)))
	mux.Handle("POST /admin/members/{id}/token", w.form(adminOnly(w.reissueToken)))
	mux.Handle("POST /admin/collectors/{id}/revoke", w.form(adminOnly(w.revokeCollector)))

	mux.Handle("/", w.page(func(_ http.ResponseWriter, _ *http.Request, _ *request) error { return errNotFound }))
	return mux
}

// secureHeaders sets the headers every response carries. The policy
// allows the dashboard's own files and nothing else: no inline script or
// style, no framing, no plug-ins, forms only to central itself.
func secureHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	h.Set("Strict-Transport-Security", "max-age=31536000")
}

// ContentSecurityPolicy is the policy of every dashboard response.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
