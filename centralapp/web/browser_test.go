package web_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/web"
)

// chromium drives one headless Chromium tab against central, and records
// what the page reports: script exceptions, policy violations, assets that
// fail to load.
type chromium struct {
	t     *testing.T
	c     *central
	ctx   context.Context
	shots []string // folders screenshots go to
	a11y  string   // testdata/a11y.js

	mu       sync.Mutex
	problems []string
}

// chromiumPath finds the browser; CI installs Debian's chromium.
func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed, and the dashboard tests drive it: install it (Debian: apt-get install chromium; .ci/run does)")
	return ""
}

func newChromium(t *testing.T, c *central) *chromium {
	t.Helper()
	a11y, err := os.ReadFile(filepath.Join("testdata", "a11y.js"))
	if err != nil {
		t.Fatal(err)
	}
	path := chromiumPath(t)
	var ctx context.Context
	// A loaded machine now and then loses a browser as it starts: one
	// more try, with a fresh profile.
	for try := 1; ; try++ {
		var cancel context.CancelFunc
		ctx, cancel = startChromium(path, t.TempDir(), c.spki)
		t.Cleanup(cancel)
		err := chromedp.Do(ctx)
		if err == nil {
			break
		}
		if try == 2 {
			t.Fatalf("start chromium: %v", err)
		}
		t.Logf("start chromium: %v; trying again", err)
		cancel()
	}
	b := &chromium{t: t, c: c, ctx: ctx, shots: []string{t.TempDir()}, a11y: string(a11y)}
	// CYBERALARM_SCREENSHOTS keeps the screenshots, to look at them.
	if dir := os.Getenv("CYBERALARM_SCREENSHOTS"); dir != "" {
		b.shots = append(b.shots, dir)
	}
	if _, err := chromedp.Call(ctx, log.Enable, struct{}{}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Listen(ctx, b.event); err != nil {
		t.Fatal(err)
	}
	return b
}

// startChromium returns a context of a new headless Chromium, with the
// flags CI can run it with, a fresh profile, and trust in central's
// certificate alone, by its key (central runs its own CA, which the
// profile does not know).
func startChromium(path, profile, spki string) (context.Context, context.CancelFunc) {
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(profile),
		chromedp.Flag("ignore-certificate-errors-spki-list", spki),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := chromedp.NewContext(actx)
	return ctx, func() {
		cancel()
		cancelAlloc()
	}
}

// event records what the page reports. A navigation to a page that is
// refused on purpose logs its 404 as a network error: only the dashboard's
// own files count.
func (b *chromium) event(ev any) {
	var p string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		p = "exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			p += " " + ev.ExceptionDetails.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			p = "console.error"
		}
	case *log.EventEntryAdded:
		e := ev.Entry
		if e.Level == log.EntryLevelError && (e.Source != log.EntrySourceNetwork || strings.Contains(e.URL, "/assets/")) {
			p = fmt.Sprintf("%s %s: %s %s", e.Level, e.Source, e.Text, e.URL)
		}
	}
	if p != "" {
		b.mu.Lock()
		b.problems = append(b.problems, p)
		b.mu.Unlock()
	}
}

// checkProblems fails the test for anything the page reported.
func (b *chromium) checkProblems() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Errorf("the browser reported: %s", p)
	}
	b.problems = nil
}

// open navigates to path and returns the response.
func (b *chromium) open(path string) *network.Response {
	b.t.Helper()
	res, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(b.c.url+path))
	if err != nil {
		b.t.Fatalf("open %s: %v", path, err)
	}
	return res
}

// follow runs steps that end in a navigation, such as a click on a submit
// button, and returns the response of the page it leads to.
func (b *chromium) follow(what string, steps ...chromedp.Action[chromedp.Void]) *network.Response {
	b.t.Helper()
	res, err := chromedp.RunResponse(b.ctx, steps...)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return res
}

func (b *chromium) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *chromium) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func eval[T any](b *chromium, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func (b *chromium) location() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return strings.TrimPrefix(loc, b.c.url)
}

// screenshot saves the whole page as name.png.
func (b *chromium) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	for _, dir := range b.shots {
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}

// checkPage checks the page's accessibility and that it broke no rule of
// the policy.
func (b *chromium) checkPage(what string) {
	b.t.Helper()
	for _, p := range eval[[]string](b, b.a11y) {
		b.t.Errorf("%s: %s", what, p)
	}
	b.checkProblems()
}

func (b *chromium) login(account string) *network.Response {
	b.t.Helper()
	if b.location() != web.LoginPath && !strings.HasPrefix(b.location(), web.LoginPath+"?") {
		b.open(web.LoginPath)
	}
	return b.follow("log in as "+account,
		chromedp.SendKeys(chromedp.ID("name"), account),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
	)
}

func (b *chromium) logout() {
	b.t.Helper()
	b.follow("log out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)))
	if loc := b.location(); loc != web.LoginPath {
		b.t.Fatalf("after logging out: at %s", loc)
	}
}

// TestBrowser follows the dashboard's main flows in headless Chromium: a
// member logs in, is refused other members' pages, filters detections,
// opens a campaign and downloads a report; an admin adds a member, sees its
// token, and revokes a collector; a form without its CSRF token is
// refused. Every page is checked for accessibility and policy violations,
// and screenshotted.
func TestBrowser(t *testing.T) {
	c := startCentral(t)
	b := newChromium(t, c)

	t.Run("member", func(t *testing.T) {
		b.t = t
		if res := b.open("/"); res.Status != 200 || b.location() != "/login?next=%2F" {
			t.Fatalf("without a session: %d at %s", res.Status, b.location())
		}
		b.checkPage("login")
		b.screenshot("login")

		res := b.login("acme-ops")
		if res.Status != 200 || b.location() != "/" {
			t.Fatalf("login: %d at %s", res.Status, b.location())
		}
		if csp := header(res, "Content-Security-Policy"); csp != web.ContentSecurityPolicy {
			t.Errorf("Content-Security-Policy %q", csp)
		}
		if h1 := b.text("h1"); h1 != "Acme Ltd: the last 7 days" {
			t.Errorf("overview h1 %q", h1)
		}
		if n := eval[int](b, `document.querySelectorAll(".chart rect.bar").length`); n != 7 {
			t.Errorf("chart has %d bars, want 7", n)
		}
		b.checkPage("member overview")
		b.screenshot("overview-member")
		// The skip link is the first thing the keyboard reaches.
		b.do("tab", chromedp.KeyEvent("\t"))
		if got := eval[string](b, `document.activeElement.className`); got != "skip-link" {
			t.Errorf("first Tab focuses %q, want the skip link", got)
		}

		for _, path := range []string{"/members/globex", "/campaigns/" + c.campaignOthers, "/reports/report-globex/pdf",
			"/reports/report-analyst/html", "/detections?member=globex", "/findings?member=globex", "/admin/members"} {
			res := b.open(path)
			want := 404
			if path == "/admin/members" {
				want = 403
			}
			if res.Status != int64(want) || !strings.HasPrefix(b.text("h1"), fmt.Sprint(want)) {
				t.Errorf("%s: %d %q, want %d", path, res.Status, b.text("h1"), want)
			}
		}
		b.checkPage("refused page")
		b.screenshot("refused")

		b.open("/members/acme")
		b.checkPage("member page")
		b.screenshot("member-page")

		// Filter the detections by rule.
		b.open("/detections")
		res = b.follow("filter",
			chromedp.SendKeys(chromedp.ID("f-rule"), "bruteforce.ssh"),
			chromedp.Click(chromedp.CSS(".filters button[type=submit]")),
		)
		rules := eval[[]string](b, `Array.from(document.querySelectorAll("tbody .rule-id"), e => e.textContent)`)
		if res.Status != 200 || !strings.Contains(b.location(), "rule=bruteforce.ssh") || !slices.Equal(rules, []string{"bruteforce.ssh", "bruteforce.ssh"}) {
			t.Errorf("filtered detections: %d at %s, rules %q", res.Status, b.location(), rules)
		}
		b.checkPage("detections")
		b.screenshot("detections-filtered")

		// Open the campaign from the list.
		b.open("/campaigns")
		b.checkPage("campaigns")
		b.follow("open campaign", chromedp.Click(chromedp.CSS(`a[href="/campaigns/`+c.campaignAll+`"]`)))
		if h1 := b.text("h1"); h1 != "Campaign from "+guesser.String() {
			t.Errorf("campaign page h1 %q", h1)
		}
		if body := b.text("main"); strings.Contains(body, "globex") || !strings.Contains(body, "3, yours among them") {
			t.Errorf("a member's campaign page:\n%s", body)
		}
		b.checkPage("campaign")
		b.screenshot("campaign")

		// The member's vulnerability findings: its latest scan against
		// the one before, the CVE flagged as exploited in the wild.
		b.open("/findings")
		rows := eval[[]string](b, findingRowsJS)
		if want := []string{
			"new: High: Potential CVE-2021-41773 in Apache 2.4.49",
			"new: Medium: Git repository exposed",
			"open: Info: TCP port 22 open (ssh)",
			"fixed: High: telnet exposed to the internet on TCP port 23",
		}; !slices.Equal(rows, want) {
			t.Errorf("findings rows %q, want %q", rows, want)
		}
		if kev := b.text("table.findings .kev"); kev != "Exploited in the wild (CISA KEV)" {
			t.Errorf("KEV flag %q", kev)
		}
		if body := b.text("main"); strings.Contains(body, "globex") || !strings.Contains(body, "www.acme.test:80") {
			t.Errorf("a member's findings page:\n%s", body)
		}
		b.checkPage("findings")
		b.screenshot("findings-member")

		// Download the report's PDF from the archive.
		b.open("/reports")
		b.checkPage("reports")
		b.screenshot("reports")
		got := b.download(`a[href="/reports/report-acme/pdf"]`)
		if want := c.reports["report-acme"].PDF; !bytes.Equal(got, want) {
			t.Errorf("downloaded %q, want %q", got, want)
		}

		b.logout()
		if res := b.open("/members/acme"); b.location() != "/login?next=%2Fmembers%2Facme" {
			t.Errorf("after logout: %d at %s", res.Status, b.location())
		}
	})

	t.Run("admin", func(t *testing.T) {
		b.t = t
		b.open(web.LoginPath)
		b.login("root")

		// A form posted without the session's CSRF token changes nothing.
		status := eval[int](b, `fetch("/admin/members", {method: "POST",
			headers: {"Content-Type": "application/x-www-form-urlencoded"},
			body: "id=sneaky&name=Sneaky&timezone=UTC"}).then(r => r.status)`)
		if status != 403 || c.member("sneaky") {
			t.Errorf("POST without the CSRF token: %d, member added %v", status, c.member("sneaky"))
		}

		b.open("/admin/members")
		b.checkPage("manage")
		b.screenshot("manage")
		res := b.follow("add member",
			chromedp.SendKeys(chromedp.ID("f-id"), "newco"),
			chromedp.SendKeys(chromedp.ID("f-name"), "New Co Ltd"),
			chromedp.SendKeys(chromedp.ID("f-sector"), "retail"),
			chromedp.Click(chromedp.CSS(`form[action="/admin/members"] button[type=submit]`)),
		)
		if h1 := b.text("h1"); res.Status != 200 || h1 != "New Co Ltd added" {
			t.Fatalf("add member: %d, h1 %q", res.Status, h1)
		}
		token := b.text("#enrol-token")
		et, err := c.svc.Store.EnrolToken(context.Background(), store.HashToken(token))
		if err != nil || et.MemberID != "newco" {
			t.Errorf("token %q on the page: %+v %v", token, et, err)
		}
		if !strings.Contains(b.text("#enrol-command"), "--token "+token) {
			t.Errorf("enrol command %q", b.text("#enrol-command"))
		}
		if hidden := eval[bool](b, `document.querySelector("button[data-copy]").hidden`); hidden {
			t.Error("the copy button stays hidden: app.js did not run")
		}
		b.checkPage("token")
		b.screenshot("token")

		// Revoke a collector, confirming the dialog.
		b.open("/admin/members")
		dialogs := chromedp.Events(b.ctx, page.JavascriptDialogOpening)
		dctx, stop := context.WithCancel(b.ctx)
		defer stop()
		go func() {
			for ev, err := range dialogs {
				if err != nil || dctx.Err() != nil {
					return
				}
				if strings.HasPrefix(ev.Message, "Revoke collector") {
					chromedp.Call(dctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
				}
			}
		}()
		b.follow("revoke", chromedp.Click(chromedp.CSS(`form[action="/admin/collectors/01JCOLLECTORACME/revoke"] button`)))
		stop()
		col, err := c.svc.Store.Collector(context.Background(), "01JCOLLECTORACME")
		if err != nil || col.Revoked.IsZero() {
			t.Errorf("after revoke: %+v %v", col, err)
		}
		if !strings.HasPrefix(b.location(), "/admin/members") {
			t.Errorf("after revoke: at %s", b.location())
		}
		b.checkPage("manage after revoke")
		b.logout()
	})

	t.Run("analyst", func(t *testing.T) {
		b.t = t
		b.login("ana")
		if h1 := b.text("h1"); h1 != "All members: the last 7 days" {
			t.Errorf("analyst overview h1 %q", h1)
		}
		b.checkPage("analyst overview")
		b.screenshot("overview-analyst")
		b.open("/members")
		b.checkPage("members")
		b.open("/detections?member=globex")
		b.checkPage("detections of a member")
		b.screenshot("detections-analyst")

		// Every member's findings, then only the critical ones, through
		// the filter form.
		b.open("/findings")
		if n := len(eval[[]string](b, findingRowsJS)); n != 5 {
			t.Errorf("analyst sees %d findings, want acme's 4 and globex's 1", n)
		}
		b.checkPage("findings of all members")
		b.screenshot("findings-analyst")
		res := b.follow("filter findings",
			chromedp.SetValue(chromedp.ID("f-severity"), "Critical"),
			chromedp.Click(chromedp.CSS(".filters button[type=submit]")),
		)
		rows := eval[[]string](b, findingRowsJS)
		if res.Status != 200 || !strings.Contains(b.location(), "severity=Critical") || !slices.Equal(rows, []string{"new: Critical: Environment file exposed"}) {
			t.Errorf("filtered findings: %d at %s, rows %q", res.Status, b.location(), rows)
		}
		b.checkPage("findings filtered")
		b.logout()
	})

	// The checks above would catch a bad page.
	t.Run("checker", func(t *testing.T) {
		b.t = t
		b.do("open a bad page", chromedp.Navigate(`data:text/html,<p style="color:%23999">faint</p><img src="data:,"><input name="q"><table><tr><td>1</td></tr></table>`))
		got := strings.Join(eval[[]string](b, b.a11y), "\n")
		for _, want := range []string{"html has no lang", "0 h1 elements", "no skip link", "inline style", "field q has no label",
			"has no alt", "table without a caption", "contrast 2.85 < 4.5 for \"faint\""} {
			if !strings.Contains(got, want) {
				t.Errorf("the checker missed %q; it found:\n%s", want, got)
			}
		}
		b.mu.Lock()
		b.problems = nil
		b.mu.Unlock()
	})
}

// findingRowsJS lists the findings tables' rows as "status: severity:
// title".
const findingRowsJS = `Array.from(document.querySelectorAll("table.findings tbody tr"), r =>
	r.className.replace("finding-", "") + ": " + r.querySelector(".sev").textContent + ": " + r.querySelector(".finding-title").textContent)`

// header returns a response header by name, in any case (HTTP/2 sends
// them in lower case).
func header(res *network.Response, name string) string {
	for k, v := range res.Headers {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// download clicks the link sel and returns the file the browser saved.
func (b *chromium) download(sel string) []byte {
	b.t.Helper()
	dir := b.t.TempDir()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	progress := chromedp.Events(ctx, browser.DownloadProgress)
	b.do("download "+sel,
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: new(true),
			})
			return err
		}),
		chromedp.Click(chromedp.CSS(sel)),
	)
	for ev, err := range progress {
		if err != nil {
			b.t.Fatalf("download %s: %v", sel, err)
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			data, err := os.ReadFile(filepath.Join(dir, ev.GUID))
			if err != nil {
				b.t.Fatal(err)
			}
			return data
		case browser.DownloadProgressStateCanceled:
			b.t.Fatalf("download %s canceled", sel)
		}
	}
	b.t.Fatalf("download %s: no end", sel)
	return nil
}
