package web_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/auth"
	"github.com/cyberalarm/cyberalarm/centralapp/config"
	"github.com/cyberalarm/cyberalarm/centralapp/service"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/detect"
)

// password is every test account's.
const password = "correct horse battery staple"

// central is a running central, on 127.0.0.1 with TLS and SQLite, seeded
// with three members, their accounts, detections, health, campaigns and
// reports.
type central struct {
	t    testing.TB
	svc  *service.Service
	url  string
	host string
	// spki is the SHA-256 of the server certificate's public key, base64:
	// what Chromium's --ignore-certificate-errors-spki-list takes.
	spki string
	pool *x509.CertPool
	now  time.Time

	campaignAll    string // hit acme, globex and initech
	campaignOthers string // hit globex and initech, not acme
	reports        map[string]store.Report
}

var (
	hashOnce sync.Once
	hashed   string
)

// passwordHash hashes password once for every test: a hash takes a good
// fraction of a second, by design.
func passwordHash(t testing.TB) string {
	hashOnce.Do(func() {
		var err error
		if hashed, err = auth.HashPassword(password); err != nil {
			t.Fatal(err)
		}
	})
	return hashed
}

func startCentral(t testing.TB) *central { return startCentralScans(t, true) }

// startCentralScans starts central with scanning in use or not: with it,
// the seed has scans of acme and globex.
func startCentralScans(t testing.TB, scans bool) *central {
	t.Helper()
	dir := t.TempDir()
	conf := "listen: 127.0.0.1:0\ndata_dir: central\nlog:\n  level: warn\n"
	if scans {
		conf += "scan:\n  enabled: true\n"
	}
	cfg, err := config.Parse(filepath.Join(dir, "central.yaml"), []byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx := context.Background()
	svc, err := service.Open(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		svc.Close()
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- svc.Serve(sctx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		svc.Close()
	})
	c := &central{t: t, svc: svc, host: ln.Addr().String(), url: "https://" + ln.Addr().String(), now: time.Now().UTC(),
		reports: map[string]store.Report{}}
	c.pool = x509.NewCertPool()
	c.pool.AddCert(svc.CA.Certificate())
	conn, err := tls.Dial("tcp", c.host, &tls.Config{RootCAs: c.pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(conn.ConnectionState().PeerCertificates[0].RawSubjectPublicKeyInfo)
	conn.Close()
	c.spki = base64.StdEncoding.EncodeToString(sum[:])
	c.seed()
	return c
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// Seeded addresses.
var (
	scanner = netip.MustParseAddr("203.0.113.7")    // scans acme and initech
	guesser = netip.MustParseAddr("198.51.100.23")  // guesses passwords at every member: a campaign
	exploit = netip.MustParseAddr("192.0.2.99")     // exploits globex and initech: a campaign acme must not see
	target  = netip.MustParseAddr("198.51.100.200") // a member's public address
)

func (c *central) seed() {
	t, ctx, s := c.t, context.Background(), c.svc.Store
	members := []store.Member{
		{ID: "acme", Name: "Acme Ltd", Sector: "manufacturing", Region: "north-west", TimeZone: "Europe/London"},
		{ID: "globex", Name: "Globex Corporation", Sector: "transport", Region: "south-east", TimeZone: "Europe/London"},
		{ID: "initech", Name: "Initech", Sector: "finance", Region: "south-east", TimeZone: "UTC"},
	}
	for i, m := range members {
		m.Created = c.now.AddDate(0, -1, 0)
		token, err := c.svc.AddMember(ctx, m, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		col := store.Collector{ID: "01JCOLLECTOR" + strings.ToUpper(m.ID), MemberID: m.ID, CertSerial: fmt.Sprintf("%x", 0x1000+i),
			CertNotAfter: c.now.AddDate(0, 3, 0), Created: c.now.AddDate(0, -1, 0)}
		if err := s.UseEnrolToken(ctx, store.HashToken(token), c.now, col); err != nil {
			t.Fatal(err)
		}
	}
	hash := passwordHash(t)
	for _, a := range []store.Account{
		{Name: "acme-ops", Role: store.RoleMember, MemberID: "acme"},
		{Name: "globex-ops", Role: store.RoleMember, MemberID: "globex"},
		{Name: "ana", Role: store.RoleAnalyst},
		{Name: "root", Role: store.RoleAdmin},
	} {
		a.PasswordHash, a.Created = hash, c.now
		if err := s.AddAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}

	det := func(member, rule, name string, sev int, tech string, src netip.Addr, port uint16, count int64, ago time.Duration) store.Detection {
		last := c.now.Add(-ago)
		d := store.Detection{MemberID: member, RuleID: rule, RuleName: name, Severity: sev, Techniques: []string{tech},
			Source: src, Destination: target, DestinationPort: port, Count: count, FirstSeen: last.Add(-10 * time.Minute), LastSeen: last}
		d.Raw, _ = json.Marshal(map[string]any{"rule": map[string]string{"id": rule, "name": name}, "member": map[string]string{"id": member}})
		return d
	}
	batches := map[string][]store.Detection{
		"acme": {
			det("acme", "scan.tcp.vertical", "TCP port scan of one host", 50, "T1046", scanner, 0, 240, 2*time.Hour),
			det("acme", "bruteforce.ssh", "SSH password guessing", 60, "T1110.001", guesser, 22, 80, 5*time.Hour),
			det("acme", "bruteforce.ssh", "SSH password guessing", 60, "T1110.001", guesser, 22, 45, 50*time.Hour),
		},
		"globex": {
			det("globex", "bruteforce.ssh", "SSH password guessing", 60, "T1110.001", guesser, 22, 120, 3*time.Hour),
			det("globex", "web.exploit.path", "Exploit attempt on a web application", 75, "T1190", exploit, 443, 12, 4*time.Hour),
		},
		"initech": {
			det("initech", "bruteforce.ssh", "SSH password guessing", 60, "T1110.001", guesser, 22, 33, 6*time.Hour),
			det("initech", "web.exploit.path", "Exploit attempt on a web application", 75, "T1190", exploit, 443, 7, 30*time.Hour),
			det("initech", "scan.tcp.vertical", "TCP port scan of one host", 50, "T1046", scanner, 0, 500, 70*time.Hour),
		},
	}
	seq := uint64(0)
	for member, ds := range batches {
		seq++
		b := &store.Batch{ID: fmt.Sprintf("01JBATCH%018d", seq), CollectorID: "01JCOLLECTOR" + strings.ToUpper(member), MemberID: member,
			Seq: 1, Created: c.now.Add(-time.Minute), Received: c.now, Detections: ds,
			Summaries: []detect.FlowSummary{{Minute: c.now.Add(-time.Hour).Truncate(time.Minute), SourceIP: netip.MustParseAddr("203.0.113.50"),
				DestinationPort: 3389, Transport: "tcp", EventType: "denied", Device: "gw01", Dataset: "netfilter", Count: 17}},
			Health: &detect.Health{Time: c.now.Add(-time.Minute), Started: c.now.Add(-48 * time.Hour), Version: "test",
				Devices: []detect.DeviceHealth{
					{Device: "gw01", Dataset: "netfilter", LastSeen: c.now.Add(-time.Hour), Lines: 1000},
					{Device: "mail01", Dataset: "postfix", LastSeen: c.now.Add(-72 * time.Hour), Lines: 10},
				},
				Counts: detect.HealthCounts{LinesIn: 1010, Parsed: 1000, Failed: 10, Detections: int64(len(ds))}},
		}
		if _, err := s.IngestBatch(ctx, b); err != nil {
			t.Fatalf("ingest %s: %v", member, err)
		}
	}

	c.campaignAll, c.campaignOthers = "campaign-guesser", "campaign-exploit"
	if err := s.PutCampaigns(ctx, []store.Campaign{
		{ID: c.campaignAll, Source: guesser, Members: []string{"acme", "globex", "initech"}, Techniques: []string{"T1110.001"},
			Ports: []uint16{22}, Count: 278, FirstSeen: c.now.Add(-50 * time.Hour), LastSeen: c.now.Add(-3 * time.Hour), Updated: c.now},
		{ID: c.campaignOthers, Source: exploit, Members: []string{"globex", "initech"}, Techniques: []string{"T1190"},
			Ports: []uint16{443}, Count: 19, FirstSeen: c.now.Add(-30 * time.Hour), LastSeen: c.now.Add(-4 * time.Hour), Updated: c.now},
	}); err != nil {
		t.Fatal(err)
	}

	for _, r := range []store.Report{
		{ID: "report-acme", MemberID: "acme", Kind: "member-summary"},
		{ID: "report-globex", MemberID: "globex", Kind: "member-summary"},
		{ID: "report-analyst", Kind: "analyst-trend"},
	} {
		r.PeriodStart, r.PeriodEnd, r.Created = c.now.AddDate(0, 0, -7), c.now, c.now
		r.HTML = []byte("<!doctype html><title>" + r.ID + "</title><h1>Report " + r.ID + "</h1>")
		r.PDF = []byte("%PDF-1.4\n% " + r.ID + "\n%%EOF\n")
		if err := s.PutReport(ctx, r); err != nil {
			t.Fatal(err)
		}
		c.reports[r.ID] = r
	}
	if c.svc.Scans != nil {
		c.seedScans()
	}
}

// client returns an HTTP client of central, with a cookie jar, that does
// not follow redirects.
func (c *central) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:       jar,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.pool, ServerName: "127.0.0.1"}},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Timeout: 30 * time.Second,
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// login logs in as account through the form, and returns the client and
// the CSRF token of its session.
func (c *central) login(account string) (*http.Client, string) {
	c.t.Helper()
	hc := c.client()
	_, body := c.get(hc, "/login")
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("no CSRF token in the login form:\n%s", body)
	}
	res := c.post(hc, "/login", url.Values{"csrf": {m[1]}, "name": {account}, "password": {password}, "next": {"/"}})
	if res.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("login %s: %s", account, res.Status)
	}
	_, body = c.get(hc, "/")
	if m = csrfField.FindStringSubmatch(body); m == nil {
		c.t.Fatalf("no CSRF token on the overview:\n%s", body)
	}
	return hc, m[1]
}

func (c *central) get(hc *http.Client, path string) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.url+path, nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return res, string(b)
}

// post sends a form as a browser on central's own page would.
func (c *central) post(hc *http.Client, path string, form url.Values) *http.Response {
	c.t.Helper()
	res, _ := c.postBody(hc, path, form, nil)
	return res
}

// postBody is post with more headers, returning the body too.
func (c *central) postBody(hc *http.Client, path string, form url.Values, header http.Header) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.url)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// member reports whether the store has member id.
func (c *central) member(id string) bool {
	_, err := c.svc.Store.Member(context.Background(), id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		c.t.Fatal(err)
	}
	return err == nil
}
