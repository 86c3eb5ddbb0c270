package web_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cyberalarm/cyberalarm/centralapp/scan"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// seedScans records scans as the scanner does: acme twice (a finding
// fixed, two new, one still open), globex once, initech never; and acme's
// Vulnerability Assessment Report in the archive.
func (c *central) seedScans() {
	t, ctx, ss := c.t, context.Background(), c.svc.Scans
	at := func(host string, port uint16, service string, f scan.Finding) scan.Finding {
		f.Host, f.Addr, f.Port, f.Service = host, target, port, service
		return f
	}
	ssh := at("www.acme.test", 22, "ssh", scan.Finding{Check: "port.open", Kind: scan.KindPort, Title: "TCP port 22 open (ssh)",
		Evidence: "TCP connect to 198.51.100.200:22 succeeded", Advice: "Allow SSH from known addresses only."})
	telnet := at("www.acme.test", 23, "telnet", scan.Finding{Check: "port.open", Kind: scan.KindPort, Title: "telnet exposed to the internet on TCP port 23",
		Severity: scan.High, Evidence: "TCP connect to 198.51.100.200:23 succeeded", Advice: "Close port 23."})
	apache := at("www.acme.test", 80, "http", scan.Finding{Check: "cve.CVE-2021-41773", Kind: scan.KindCVE, Title: "Potential CVE-2021-41773 in Apache 2.4.49",
		Severity: scan.High, CVE: "CVE-2021-41773", CVSS: 7.5, CVSSVersion: "3.1", KEV: true, Software: "Apache", Version: "2.4.49",
		Evidence: "Server: Apache/2.4.49 (Unix)", Advice: "Upgrade Apache HTTP Server to 2.4.51 or later."})
	git := at("www.acme.test", 80, "http", scan.Finding{Check: "path./.git/HEAD", Kind: scan.KindPath, Title: "Git repository exposed",
		Severity: scan.Medium, Evidence: "GET /.git/HEAD answered 200 with: ref: refs/heads/main", Advice: "Block /.git/ at the web server."})
	env := at("www.globex.test", 443, "https", scan.Finding{Check: "path./.env", Kind: scan.KindPath, Title: "Environment file exposed",
		Severity: scan.Critical, Evidence: "GET /.env answered 200 with: DB_PASSWORD=…", Advice: "Remove /.env from the web root."})
	run := func(member, id string, ago time.Duration, fs ...scan.Finding) {
		r := scan.Run{ID: id, MemberID: member, By: "schedule", Started: c.now.Add(-ago), Status: scan.StatusRunning}
		if err := ss.StartRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		r.Finished, r.Status, r.Probes = r.Started.Add(time.Minute), scan.StatusDone, 120
		scan.SortFindings(fs)
		if err := ss.FinishRun(ctx, r, fs); err != nil {
			t.Fatal(err)
		}
	}
	run("acme", "01JRUNACME0000000000000001", 8*24*time.Hour, ssh, telnet)
	run("acme", "01JRUNACME0000000000000002", 2*time.Hour, ssh, apache, git)
	run("globex", "01JRUNGLOBEX00000000000001", 3*time.Hour, env)

	r := store.Report{ID: "report-acme-vuln", MemberID: "acme", Kind: scan.ReportKind, PeriodStart: c.now.Add(-2 * time.Hour),
		PeriodEnd: c.now.Add(-2*time.Hour + time.Minute), Created: c.now.Add(-time.Hour),
		HTML: []byte("<!doctype html><title>vulnerability</title><h1>Vulnerability Assessment Report</h1>"), PDF: []byte("%PDF-1.4\n%%EOF\n")}
	if err := c.svc.Store.PutReport(ctx, r); err != nil {
		t.Fatal(err)
	}
	c.reports[r.ID] = r
}

// findingRow is a row of the findings page: its member's section, status
// and title.
type findingRow struct{ Member, Status, Title string }

var (
	scanSection = regexp.MustCompile(`<section class="panel scan" id="scan-([a-z0-9-]+)"`)
	findingTR   = regexp.MustCompile(`(?s)<tr class="finding-(\w+)">.*?<span class="finding-title">([^<]*)</span>`)
)

// findingRows reads the findings tables of a page.
func findingRows(body string) []findingRow {
	var rows []findingRow
	secs := scanSection.FindAllStringSubmatchIndex(body, -1)
	for i, s := range secs {
		end := len(body)
		if i+1 < len(secs) {
			end = secs[i+1][0]
		}
		for _, m := range findingTR.FindAllStringSubmatch(body[s[1]:end], -1) {
			rows = append(rows, findingRow{body[s[2]:s[3]], m[1], m[2]})
		}
	}
	return rows
}

func TestFindings(t *testing.T) {
	c := startCentral(t)
	member, _ := c.login("acme-ops")
	analyst, _ := c.login("ana")
	acme := []findingRow{
		{"acme", "new", "Potential CVE-2021-41773 in Apache 2.4.49"},
		{"acme", "new", "Git repository exposed"},
		{"acme", "open", "TCP port 22 open (ssh)"},
		{"acme", "fixed", "telnet exposed to the internet on TCP port 23"},
	}
	globex := []findingRow{{"globex", "new", "Environment file exposed"}}
	for _, tc := range []struct {
		who, path string
		rows      []findingRow
		has       []string
	}{
		{"member", "/findings", acme, []string{
			"CVE-2021-41773", "CVSS 7.5 (v3.1)", "Exploited in the wild (CISA KEV)", "www.acme.test:80", "Server: Apache/2.4.49 (Unix)",
			"Upgrade Apache HTTP Server to 2.4.51 or later.", "3 findings, 2 new, 1 fixed", `href="/reports/report-acme-vuln/view"`,
		}},
		{"member", "/findings?member=acme&severity=High", []findingRow{acme[0], acme[3]}, []string{"of severity High and worse"}},
		{"member", "/findings?severity=info", acme, nil},
		{"analyst", "/findings", append(append([]findingRow{}, acme...), globex...), []string{
			"Not scanned yet", `<a href="/members/initech">Initech</a>`, "www.globex.test:443",
		}},
		{"analyst", "/findings?member=globex", globex, nil},
		{"analyst", "/findings?severity=Critical", globex, []string{"No finding of this severity or worse."}},
	} {
		hc := member
		if tc.who == "analyst" {
			hc = analyst
		}
		res, body := c.get(hc, tc.path)
		if res.StatusCode != 200 {
			t.Errorf("%s GET %s: %s", tc.who, tc.path, res.Status)
			continue
		}
		if d := cmp.Diff(tc.rows, findingRows(body)); d != "" {
			t.Errorf("%s GET %s: rows (-want +got):\n%s", tc.who, tc.path, d)
		}
		for _, s := range tc.has {
			if !strings.Contains(body, s) {
				t.Errorf("%s GET %s: no %q on the page", tc.who, tc.path, s)
			}
		}
	}
	res, body := c.get(member, "/findings?severity=dreadful")
	if res.StatusCode != 400 || !strings.Contains(body, "“Severity” must be one of Critical, High, Medium, Low and Info.") {
		t.Errorf("a bad severity: %s", res.Status)
	}
}

// TestFindingsNotConfigured: without a scan store the page says so.
func TestFindingsNotConfigured(t *testing.T) {
	c := startCentralScans(t, false)
	if c.svc.Scans != nil {
		t.Fatal("central opened a scan store with scanning not in use")
	}
	hc, _ := c.login("acme-ops")
	res, body := c.get(hc, "/findings")
	if res.StatusCode != 200 || !strings.Contains(body, "Vulnerability scanning is not configured on this central.") {
		t.Errorf("GET /findings: %s\n%s", res.Status, body)
	}
	if res, _ := c.get(hc, "/findings?member=globex"); res.StatusCode != 404 {
		t.Errorf("another member's findings: %s, want 404", res.Status)
	}
}
