package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/cyberalarm/cyberalarm/centralapp/auth"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/web"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestAccess checks every page for every role: members get their own
// member's pages and 404 for anyone else's, exactly as for a page that
// does not exist; analysts see everything but cannot manage; admins can.
func TestAccess(t *testing.T) {
	c := startCentral(t)
	type want map[string]int // account -> status
	all := func(s int) want { return want{"acme-ops": s, "ana": s, "root": s} }
	clients := map[string]*http.Client{}
	for _, a := range []string{"acme-ops", "ana", "root"} {
		clients[a], _ = c.login(a)
	}
	for _, tc := range []struct {
		path string
		want want
	}{
		{"/", all(200)},
		{"/detections", all(200)},
		{"/detections?member=acme", all(200)},
		{"/detections?member=globex", want{"acme-ops": 404, "ana": 200, "root": 200}},
		{"/detections?member=Not+A+Member", all(404)},
		{"/detections?source=not-an-ip", all(400)},
		{"/campaigns", all(200)},
		{"/campaigns/" + c.campaignAll, all(200)},
		{"/campaigns/" + c.campaignOthers, want{"acme-ops": 404, "ana": 200, "root": 200}},
		{"/campaigns/no-such-campaign", all(404)},
		{"/members", want{"acme-ops": 303, "ana": 200, "root": 200}},
		{"/members/acme", all(200)},
		{"/members/globex", want{"acme-ops": 404, "ana": 200, "root": 200}},
		{"/members/nobody", all(404)},
		{"/reports", all(200)},
		{"/reports/report-acme/pdf", all(200)},
		{"/reports/report-acme/html", all(200)},
		{"/reports/report-acme/view", all(200)},
		{"/reports/report-acme/exe", all(404)},
		{"/reports/report-globex/pdf", want{"acme-ops": 404, "ana": 200, "root": 200}},
		{"/reports/report-analyst/pdf", want{"acme-ops": 404, "ana": 200, "root": 200}},
		{"/reports/no-such-report/pdf", all(404)},
		{"/reports/report-acme-vuln/view", all(200)},
		{"/findings", all(200)},
		{"/findings?member=acme", all(200)},
		{"/findings?member=globex", want{"acme-ops": 404, "ana": 200, "root": 200}},
		{"/findings?member=Not+A+Member", all(404)},
		{"/findings?severity=High", all(200)},
		{"/findings?severity=bogus", all(400)},
		{"/admin/members", want{"acme-ops": 403, "ana": 403, "root": 200}},
		{"/no/such/page", all(404)},
	} {
		for account, status := range tc.want {
			res, body := c.get(clients[account], tc.path)
			if res.StatusCode != status {
				t.Errorf("%s GET %s: %s, want %d", account, tc.path, res.Status, status)
			}
			// A member's pages never name another member or show a source
			// that only other members saw.
			if account == "acme-ops" {
				for _, other := range []string{"globex", "Globex", "initech", "Initech", exploit.String()} {
					if strings.Contains(body, other) {
						t.Errorf("acme-ops GET %s: the page shows %q", tc.path, other)
					}
				}
			}
		}
	}

	// Without a session, pages send the browser to the login form, and
	// come back after it.
	res, _ := c.get(c.client(), "/members/acme?x=1")
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != "/login?next=%2Fmembers%2Facme%3Fx%3D1" {
		t.Errorf("GET without a session: %s to %q", res.Status, loc)
	}
}

func TestSecurityHeaders(t *testing.T) {
	c := startCentral(t)
	hc, _ := c.login("acme-ops")
	for _, path := range []string{"/", "/login", "/detections", "/no/such/page", "/assets/style.css"} {
		res, _ := c.get(hc, path)
		h := res.Header
		for name, want := range map[string]string{
			"Content-Security-Policy": web.ContentSecurityPolicy,
			"X-Frame-Options":         "DENY",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "same-origin",
		} {
			if got := h.Get(name); got != want {
				t.Errorf("GET %s: %s %q, want %q", path, name, got, want)
			}
		}
		if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
			strings.Contains(h.Get("Content-Security-Policy"), "unsafe-inline") {
			t.Errorf("GET %s: weak policy %q", path, h.Get("Content-Security-Policy"))
		}
	}
	// Reports viewed in the browser are sandboxed.
	res, _ := c.get(hc, "/reports/report-acme/view")
	if csp := res.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "sandbox;") || strings.Contains(csp, "script") {
		t.Errorf("report view policy %q", csp)
	}

	// The session cookie, set through the login form, is locked down.
	hc = c.client()
	_, body := c.get(hc, "/login")
	res = c.post(hc, "/login", url.Values{"csrf": {csrfField.FindStringSubmatch(body)[1]}, "name": {"ana"}, "password": {password}})
	found := false
	for _, ck := range res.Cookies() {
		if ck.Name != auth.CookieName {
			continue
		}
		found = true
		if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" {
			t.Errorf("session cookie %+v: want Secure, HttpOnly, SameSite=Strict, Path=/", ck)
		}
	}
	if !found {
		t.Errorf("login set no session cookie: %v", res.Header["Set-Cookie"])
	}
}

// TestCSRF checks that a form without its session's token changes
// nothing, nor one from another site with it.
func TestCSRF(t *testing.T) {
	c := startCentral(t)
	hc, token := c.login("root")
	_, otherToken := c.login("ana")
	form := func(csrf string) url.Values {
		return url.Values{"csrf": {csrf}, "id": {"newco"}, "name": {"New Co"}, "timezone": {"UTC"}}
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		header http.Header
	}{
		{"no token", form(""), nil},
		{"another session's token", form(otherToken), nil},
		{"a forged token", form(strings.Repeat("A", len(token))), nil},
		{"from another site", form(token), http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}},
	} {
		res, body := c.postBody(hc, "/admin/members", tc.form, tc.header)
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %s, want 403\n%s", tc.name, res.Status, body)
		}
		if c.member("newco") {
			t.Fatalf("%s: the member was added", tc.name)
		}
	}
	res, body := c.postBody(hc, "/admin/members", form(token), nil)
	if res.StatusCode != http.StatusOK || !c.member("newco") {
		t.Fatalf("with the token: %s, member added %v\n%s", res.Status, c.member("newco"), body)
	}

	// Log out needs the token too.
	if res := c.post(hc, web.LogoutPath, url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Errorf("logout without the token: %s", res.Status)
	}
	if res, _ := c.get(hc, "/"); res.StatusCode != http.StatusOK {
		t.Errorf("after a refused logout: %s, want the session to live", res.Status)
	}
}

func TestLogin(t *testing.T) {
	c := startCentral(t)
	hc := c.client()
	_, body := c.get(hc, "/login")
	token := csrfField.FindStringSubmatch(body)[1]

	res, body := c.postBody(hc, "/login", url.Values{"csrf": {token}, "name": {"acme-ops"}, "password": {"wrong password!"}}, nil)
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "The account name or password is wrong.") {
		t.Errorf("wrong password: %s", res.Status)
	}
	res, _ = c.postBody(hc, "/login", url.Values{"name": {"acme-ops"}, "password": {password}}, nil)
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("login without the form's token: %s, want 403", res.Status)
	}
	// ?next= goes to pages of central only.
	for next, want := range map[string]string{
		"/campaigns?x=1":       "/campaigns?x=1",
		"//evil.example/":      "/",
		"https://evil.example": "/",
		"/\\evil.example":      "/",
	} {
		hc := c.client()
		_, body := c.get(hc, "/login")
		res := c.post(hc, "/login", url.Values{"csrf": {csrfField.FindStringSubmatch(body)[1]}, "name": {"acme-ops"}, "password": {password}, "next": {next}})
		if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != want {
			t.Errorf("next=%q: %s to %q, want %q", next, res.Status, loc, want)
		}
	}

	// Logging out ends the session: the old cookie opens nothing.
	hc, csrf := c.login("acme-ops")
	if res := c.post(hc, web.LogoutPath, url.Values{"csrf": {csrf}}); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != web.LoginPath {
		t.Fatalf("logout: %s to %q", res.Status, res.Header.Get("Location"))
	}
	if res, _ := c.get(hc, "/"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout: %s, want a redirect to the login form", res.Status)
	}
}

func TestReportDownload(t *testing.T) {
	c := startCentral(t)
	hc, _ := c.login("acme-ops")
	for format, want := range map[string]string{"pdf": "application/pdf", "html": "text/html; charset=utf-8"} {
		res, body := c.get(hc, "/reports/report-acme/"+format)
		r := c.reports["report-acme"]
		wantBody := string(r.PDF)
		if format == "html" {
			wantBody = string(r.HTML)
		}
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != want || body != wantBody {
			t.Errorf("%s: %s %q, %d bytes", format, res.Status, res.Header.Get("Content-Type"), len(body))
		}
		cd := res.Header.Get("Content-Disposition")
		if !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, "cyberalarm-acme-member-summary-") || !strings.HasSuffix(cd, "."+format) {
			t.Errorf("%s: Content-Disposition %q", format, cd)
		}
	}
}

func TestManageMembers(t *testing.T) {
	c := startCentral(t)
	hc, csrf := c.login("root")

	// Bad fields are shown, each with its message, and nothing is added.
	res, body := c.postBody(hc, "/admin/members", url.Values{"csrf": {csrf}, "id": {"Bad Id"}, "name": {""}, "timezone": {"Mars/Olympus"}}, nil)
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("bad form: %s", res.Status)
	}
	for _, msg := range []string{"Use 1 to 64 lower-case letters", "Enter the organisation", "This is not an IANA time zone", `aria-invalid="true"`} {
		if !strings.Contains(body, msg) {
			t.Errorf("bad form: no %q on the page", msg)
		}
	}
	res, body = c.postBody(hc, "/admin/members", url.Values{"csrf": {csrf}, "id": {"acme"}, "name": {"Acme again"}, "timezone": {"UTC"}}, nil)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "exists already") {
		t.Errorf("existing member: %s", res.Status)
	}

	// A new token for a member is valid for it, once.
	res, body = c.postBody(hc, "/admin/members/globex/token", url.Values{"csrf": {csrf}}, nil)
	token := tokenOnPage(t, body)
	et, err := c.svc.Store.EnrolToken(context.Background(), store.HashToken(token))
	if res.StatusCode != http.StatusOK || err != nil || et.MemberID != "globex" || !et.Used.IsZero() {
		t.Fatalf("reissue: %s, token %+v, %v", res.Status, et, err)
	}
	if !strings.Contains(body, "--ca-sha256 "+c.svc.CA.CAFingerprint()) || !strings.Contains(body, "--central https://"+c.host) {
		t.Errorf("the token page has no complete enrol command:\n%s", body)
	}
	if res, _ := c.postBody(hc, "/admin/members/nobody/token", url.Values{"csrf": {csrf}}, nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("token for an unknown member: %s", res.Status)
	}

	// Revoking a collector revokes it in the store and at the TLS layer.
	id := "01JCOLLECTORGLOBEX"
	res = c.post(hc, "/admin/collectors/"+id+"/revoke", url.Values{"csrf": {csrf}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %s", res.Status)
	}
	col, err := c.svc.Store.Collector(context.Background(), id)
	if err != nil || col.Revoked.IsZero() {
		t.Fatalf("collector after revoke: %+v %v", col, err)
	}
	if !c.svc.CA.Revocations().Revoked(col.CertSerial) {
		t.Errorf("serial %s is not in the CA's revocations", col.CertSerial)
	}
	if res := c.post(hc, "/admin/collectors/no-such/revoke", url.Values{"csrf": {csrf}}); res.StatusCode != http.StatusNotFound {
		t.Errorf("revoke an unknown collector: %s", res.Status)
	}

	// Analysts cannot, even with their session's token.
	ac, acsrf := c.login("ana")
	if res := c.post(ac, "/admin/members/globex/token", url.Values{"csrf": {acsrf}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("analyst issues a token: %s", res.Status)
	}
}

// tokenOnPage returns the enrolment token shown on a token page.
func tokenOnPage(t *testing.T, body string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, `<code id="enrol-token">`)
	token, _, ok2 := strings.Cut(rest, "</code>")
	if !ok || !ok2 || token == "" {
		t.Fatalf("no token on the page:\n%s", body)
	}
	return token
}

func TestNew(t *testing.T) {
	if _, err := web.New(web.Config{}); err == nil {
		t.Error("New without a store: no error")
	}
}
