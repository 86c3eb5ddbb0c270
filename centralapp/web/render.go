package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/auth"
	"github.com/cyberalarm/cyberalarm/centralapp/scan"
	"github.com/cyberalarm/cyberalarm/centralapp/technique"
)

// view is what every page template gets.
type view struct {
	Title string
	Nav   string // the navigation entry of the page
	Who   auth.Principal
	CSRF  string
	Data  any
}

// IsAnalyst reports whether the viewer sees every member.
func (v *view) IsAnalyst() bool {
	return v.Who.Role == auth.RoleAnalyst || v.Who.Role == auth.RoleAdmin
}

// IsAdmin reports whether the viewer manages members.
func (v *view) IsAdmin() bool { return v.Who.Role == auth.RoleAdmin }

// newView starts the view of a page for req.
func newView(req *request, title, nav string, data any) *view {
	return &view{Title: title, Nav: nav, Who: req.who, CSRF: req.csrf, Data: data}
}

// pageNames are the templates under templates/, each with layout.html.
var pageNames = []string{"login", "error", "overview", "detections", "campaigns", "campaign",
	"members", "member", "reports", "findings", "manage", "token"}

func (w *Web) loadTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"asset":       w.assetURL,
		"time":        formatTime,
		"day":         func(t time.Time) string { return t.UTC().Format("Mon 2 Jan") },
		"date":        func(t time.Time) string { return t.UTC().Format("2006-01-02") },
		"ago":         w.ago,
		"num":         formatNumber,
		"severity":    severityLevel,
		"kind":        reportKind,
		"dict":        dict,
		"statusText":  http.StatusText,
		"plural":      plural,
		"technique":   technique.Name,
		"join":        strings.Join,
		"role":        func(r auth.Role) string { return string(r) },
		"level":       func(s scan.Severity) string { return strings.ToLower(s.String()) },
		"statusClass": findingStatusClass,
		"cvss":        func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
		"hostPort":    hostPort,
	}
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes the page name with status. It renders into a buffer
// first, so that a failing template gives a clean error page and never
// half a page.
func (w *Web) render(rw http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	var buf bytes.Buffer
	if err := w.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		if canceled(r, err) {
			return
		}
		w.log.Error("dashboard template", "page", name, "err", err)
		if name != "error" {
			w.render(rw, r, http.StatusInternalServerError, "error", &view{Title: "Something went wrong", Who: v.Who, CSRF: v.CSRF,
				Data: errorView{Status: http.StatusInternalServerError, Message: "Central could not show this page. The error has been logged."}})
		}
		return
	}
	h := rw.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	rw.WriteHeader(status)
	rw.Write(buf.Bytes())
}

// Errors of page handlers.
var (
	errNotFound  = errors.New("not found")
	errForbidden = errors.New("forbidden")
	errCSRF      = errors.New("missing or wrong CSRF token")
)

// badRequest is a request the viewer can correct; its text is shown.
type badRequest string

func (e badRequest) Error() string { return string(e) }

type errorView struct {
	Status  int
	Message string
}

// fail answers err as an error page. Not found and forbidden pages look
// the same whether or not the thing exists, so that a member cannot probe
// for other members' ids.
func (w *Web) fail(rw http.ResponseWriter, r *http.Request, req *request, err error) {
	if canceled(r, err) {
		return
	}
	v := &view{}
	if req != nil {
		v.Who, v.CSRF = req.who, req.csrf
	}
	var bad badRequest
	e := errorView{}
	switch {
	case errors.Is(err, errNotFound):
		e = errorView{http.StatusNotFound, "There is no such page, or it is not yours to see."}
	case errors.Is(err, errForbidden):
		e = errorView{http.StatusForbidden, "Your account may not do this."}
	case errors.Is(err, errCSRF):
		e = errorView{http.StatusForbidden, "This form had expired or did not come from this site. Go back, reload the page and try again."}
	case errors.As(err, &bad):
		e = errorView{http.StatusBadRequest, string(bad)}
	default:
		w.log.Error("dashboard page failed", "path", r.URL.Path, "account", v.Who.Account, "err", err)
		e = errorView{http.StatusInternalServerError, "Central could not show this page. The error has been logged."}
	}
	v.Title = http.StatusText(e.Status)
	v.Data = e
	w.render(rw, r, e.Status, "error", v)
}

// asset is one embedded file, with the hash that versions its URL.
type asset struct {
	data []byte
	ctype,
	version string
}

func loadAssets() (map[string]asset, error) {
	out := map[string]asset{}
	err := fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := assetFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" {
			return fmt.Errorf("web: asset %s: unknown type", p)
		}
		out[path.Base(p)] = asset{data: data, ctype: ctype, version: hex.EncodeToString(sum[:6])}
		return nil
	})
	return out, err
}

// assetURL is the URL of an embedded file, versioned by its content so
// that browsers may keep it for good.
func (w *Web) assetURL(name string) (string, error) {
	a, ok := w.assets[name]
	if !ok {
		return "", fmt.Errorf("no asset %q", name)
	}
	return "/assets/" + name + "?v=" + a.version, nil
}

func (w *Web) serveAsset(rw http.ResponseWriter, r *http.Request) {
	a, ok := w.assets[r.PathValue("name")]
	if !ok {
		http.NotFound(rw, r)
		return
	}
	h := rw.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", `"`+a.version+`"`)
	if r.URL.Query().Get("v") == a.version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if r.Header.Get("If-None-Match") == `"`+a.version+`"` {
		rw.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(a.data)))
	rw.Write(a.data)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// ago says how long before now t was, roughly.
func (w *Web) ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := w.now().Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < 2*time.Minute:
		return "a minute ago"
	case d < 2*time.Hour:
		return fmt.Sprintf("%d minutes ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

// formatNumber writes an integer with thousands separators.
func formatNumber(v any) (string, error) {
	var n int64
	switch v := v.(type) {
	case int:
		n = int64(v)
	case int64:
		n = v
	default:
		return "", fmt.Errorf("num: %T is not an int", v)
	}
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String(), nil
}

// plural writes n with the noun's singular or plural.
func plural(n any, one, many string) (string, error) {
	s, err := formatNumber(n)
	if err != nil {
		return "", err
	}
	if s == "1" {
		return s + " " + one, nil
	}
	return s + " " + many, nil
}

// severityLevel puts a 1-100 severity in words.
func severityLevel(s int) string {
	switch {
	case s >= 70:
		return "high"
	case s >= 40:
		return "medium"
	}
	return "low"
}

// reportKind turns a report kind ("member-summary") into words.
func reportKind(kind string) string {
	s := strings.NewReplacer("-", " ", "_", " ").Replace(kind)
	if s == "" {
		return "Report"
	}
	return strings.ToUpper(s[:1]) + s[1:] + " report"
}

// dict makes a map of its arguments, name and value in turn, so that a
// template can hand several values to another.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, errors.New("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}
