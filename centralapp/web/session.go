package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/cyberalarm/cyberalarm/centralapp/auth"
)

// request is who asks for a page, and the CSRF token its forms carry.
type request struct {
	who  auth.Principal
	csrf string
}

// handler is a page: it writes the page or returns an error, which
// becomes an error page (see fail).
type handler func(http.ResponseWriter, *http.Request, *request) error

// page serves h to an authenticated request, and sends anyone else to the
// login form.
func (w *Web) page(h handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		p, status := w.authenticate(r)
		switch status {
		case http.StatusOK:
		case http.StatusUnauthorized:
			http.Redirect(rw, r, LoginPath+"?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		case http.StatusForbidden:
			w.fail(rw, r, nil, errForbidden)
			return
		default:
			w.fail(rw, r, nil, errors.New("authentication failed"))
			return
		}
		req := &request{who: p, csrf: w.sessionCSRF(r)}
		if err := h(rw, r, req); err != nil {
			w.fail(rw, r, req, err)
		}
	})
}

// maxForm bounds a form's body.
const maxForm = 64 << 10

// form is page for a POST that changes state: it also needs the session's
// CSRF token in the form's csrf field.
func (w *Web) form(h handler) http.Handler {
	return w.page(func(rw http.ResponseWriter, r *http.Request, req *request) error {
		r.Body = http.MaxBytesReader(rw, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			return badRequest("the form could not be read: " + err.Error())
		}
		if req.csrf == "" || !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(req.csrf)) {
			w.log.Warn("dashboard form without a valid CSRF token", "path", r.URL.Path, "account", req.who.Account)
			return errCSRF
		}
		return h(rw, r, req)
	})
}

// authenticate runs auth's middleware on r and returns the principal it
// found, or the status it answered: 401 without a valid session, 403 for
// a cross-origin request that changes state.
func (w *Web) authenticate(r *http.Request) (auth.Principal, int) {
	var p auth.Principal
	var ok bool
	c := newCapture()
	w.auth.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		p, ok = auth.PrincipalFrom(r.Context())
	})).ServeHTTP(c, r)
	if ok {
		return p, http.StatusOK
	}
	return auth.Principal{}, c.status
}

// sessionCSRF is the CSRF token of r's session: a MAC of the session
// cookie, so that it changes with every login and is worthless without
// the cookie, which scripts cannot read (HttpOnly).
func (w *Web) sessionCSRF(r *http.Request) string {
	c, err := r.Cookie(auth.CookieName)
	if err != nil || c.Value == "" {
		return ""
	}
	return w.mac("session", c.Value)
}

func (w *Web) mac(purpose, value string) string {
	m := hmac.New(sha256.New, w.csrfKey)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// loginCookie holds a random value before there is a session; the login
// form carries its MAC (double submit), so that another site cannot log a
// browser into an account of its choosing.
const loginCookie = "__Host-cyberalarm-login"

func (w *Web) loginCSRF(rw http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(loginCookie); err == nil && len(c.Value) == 26 { // rand.Text's length
		return w.mac("login", c.Value)
	}
	v := rand.Text()
	http.SetCookie(rw, &http.Cookie{
		Name: loginCookie, Value: v, Path: "/", MaxAge: 3600,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
	return w.mac("login", v)
}

type loginView struct {
	Next    string
	Name    string
	Message string
}

func (w *Web) loginForm(rw http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	if _, status := w.authenticate(r); status == http.StatusOK {
		http.Redirect(rw, r, next, http.StatusSeeOther)
		return
	}
	w.renderLogin(rw, r, http.StatusOK, loginView{Next: next})
}

func (w *Web) renderLogin(rw http.ResponseWriter, r *http.Request, status int, v loginView) {
	csrf := w.loginCSRF(rw, r)
	w.render(rw, r, status, "login", &view{Title: "Log in", CSRF: csrf, Data: v})
}

// login serves the login form's POST through auth's login handler, which
// checks the password, slows down guessing and sets the session cookie.
func (w *Web) login(rw http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(rw, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		w.renderLogin(rw, r, http.StatusBadRequest, loginView{Message: "The form could not be read."})
		return
	}
	v := loginView{Next: localPath(r.PostForm.Get("next")), Name: r.PostForm.Get("name")}
	c, err := r.Cookie(loginCookie)
	if err != nil || !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(w.mac("login", c.Value))) {
		v.Message = "Your login form had expired. Please try again."
		w.renderLogin(rw, r, http.StatusForbidden, v)
		return
	}
	body, _ := json.Marshal(auth.LoginRequest{Name: v.Name, Password: r.PostForm.Get("password")})
	req := r.Clone(r.Context())
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	res := newCapture()
	w.auth.Login().ServeHTTP(res, req)
	switch res.status {
	case http.StatusOK:
		for _, c := range res.header.Values("Set-Cookie") {
			rw.Header().Add("Set-Cookie", c)
		}
		http.SetCookie(rw, &http.Cookie{Name: loginCookie, Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
		http.Redirect(rw, r, v.Next, http.StatusSeeOther)
		return
	case http.StatusBadRequest:
		v.Message = "Enter your account name and password."
	case http.StatusUnauthorized:
		v.Message = "The account name or password is wrong."
	case http.StatusTooManyRequests:
		v.Message = "Too many failed logins. Try again in " + res.header.Get("Retry-After") + " seconds."
	case http.StatusForbidden:
		v.Message = "Log in from central's own page."
	default:
		w.log.Error("dashboard login failed", "status", res.status, "body", strings.TrimSpace(res.body.String()))
		v.Message = "Central could not log you in. Please try again later."
	}
	w.renderLogin(rw, r, res.status, v)
}

// logout ends the session through auth's logout handler.
func (w *Web) logout(rw http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(rw, r.Body, maxForm)
	csrf := w.sessionCSRF(r)
	if err := r.ParseForm(); err != nil || csrf == "" || !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(csrf)) {
		w.fail(rw, r, nil, errCSRF)
		return
	}
	res := newCapture()
	w.auth.Logout().ServeHTTP(res, r)
	if res.status != http.StatusNoContent {
		w.fail(rw, r, nil, errors.New("logout failed"))
		return
	}
	for _, c := range res.header.Values("Set-Cookie") {
		rw.Header().Add("Set-Cookie", c)
	}
	http.Redirect(rw, r, LoginPath, http.StatusSeeOther)
}

// localPath returns p if it is a path on this site, and "/" otherwise, so
// that ?next= cannot send anyone elsewhere.
func localPath(p string) string {
	u, err := url.Parse(p)
	if err != nil || p == "" || u.Scheme != "" || u.Host != "" || u.User != nil ||
		!strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n") {
		return "/"
	}
	return p
}

// capture is a ResponseWriter that keeps the status and headers, and the
// start of the body for the log.
type capture struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newCapture() *capture { return &capture{header: http.Header{}, status: http.StatusOK} }

func (c *capture) Header() http.Header { return c.header }
func (c *capture) WriteHeader(status int) {
	c.status = status
}

func (c *capture) Write(p []byte) (int, error) {
	if n := 1024 - c.body.Len(); n > 0 {
		c.body.Write(p[:min(n, len(p))])
	}
	return len(p), nil
}

// canceled reports whether err is the client going away.
func canceled(r *http.Request, err error) bool {
	return r.Context().Err() != nil && errors.Is(err, context.Canceled)
}
