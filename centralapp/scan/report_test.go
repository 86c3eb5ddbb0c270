package scan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/sqlite"
)

// threatStore is a real central store holding two members and the
// detections the report joins with: an exploit of CVE-2021-41773 at this
// member, SSH attacks at another.
func threatStore(t *testing.T, now time.Time) store.Store {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "central.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	seen := now.Add(-48 * time.Hour)
	for i, m := range []store.Member{
		{ID: member, Name: "Northfield College", TimeZone: "Europe/London", Created: seen},
		{ID: "riverside-surgery", Name: "Riverside Surgery", TimeZone: "Europe/London", Created: seen},
	} {
		if err := st.AddMember(ctx, m); err != nil {
			t.Fatal(err)
		}
		tok := store.EnrolToken{Hash: store.HashToken(m.ID), MemberID: m.ID, Created: seen, Expires: now}
		if err := st.AddEnrolToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		c := store.Collector{ID: "c" + m.ID, MemberID: m.ID, CertSerial: "0" + string(rune('1'+i)), CertNotAfter: now.Add(time.Hour), Created: seen}
		if err := st.UseEnrolToken(ctx, tok.Hash, seen, c); err != nil {
			t.Fatal(err)
		}
	}
	det := func(m, rule, name string, port uint16, count int64) store.Detection {
		return store.Detection{MemberID: m, RuleID: rule, RuleName: name, Severity: 70, Techniques: []string{"T1190"},
			DestinationPort: port, Count: count, FirstSeen: seen, LastSeen: seen, Raw: []byte(`{"rule":{"id":"` + rule + `"}}`)}
	}
	for i, b := range []store.Batch{
		{ID: "01JBATCH0000000000000000A1", CollectorID: "c" + member, MemberID: member, Seq: 1, Created: seen, Received: seen,
			Detections: []store.Detection{det(member, "web.exploit.apache_cve_2021_41773", "Apache path traversal exploit (CVE-2021-41773)", 80, 12)}},
		{ID: "01JBATCH0000000000000000B1", CollectorID: "criverside-surgery", MemberID: "riverside-surgery", Seq: 1, Created: seen, Received: seen,
			Detections: []store.Detection{det("riverside-surgery", "auth.ssh.bruteforce", "SSH password guessing", 22, 40)}},
	} {
		if _, err := st.IngestBatch(ctx, &b); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	return st
}

// storedRun records a finished run with findings, as the scanner does.
func storedRun(t *testing.T, ss Store, id string, at time.Time, fs []Finding) {
	t.Helper()
	r := Run{ID: id, MemberID: member, By: "schedule", Started: at, Status: StatusRunning}
	if err := ss.StartRun(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	r.Finished, r.Status, r.Probes = at.Add(90*time.Second), StatusDone, 212
	SortFindings(fs)
	if err := ss.FinishRun(t.Context(), r, fs); err != nil {
		t.Fatal(err)
	}
}

func TestReport(t *testing.T) {
	now := time.Date(2026, 11, 9, 8, 0, 0, 0, time.UTC)
	threat := threatStore(t, now)
	e := newEnv(t, nil, nil)
	tg := Target{ID: "01JTARGET00000000000000001", MemberID: member, Kind: TargetDomain, Value: "www.northfield.test", Token: "tok", Created: now.AddDate(0, -1, 0)}
	if err := e.store.AddTarget(t.Context(), tg); err != nil {
		t.Fatal(err)
	}
	if err := e.store.AddProof(t.Context(), Proof{TargetID: tg.ID, Method: "dns-txt", By: "schedule", Checked: now.Add(-time.Hour), OK: true, Expires: now.AddDate(0, 1, 0)}); err != nil {
		t.Fatal(err)
	}
	base := Finding{Host: "www.northfield.test", Addr: mustAddr("203.0.113.10")}
	at := func(f Finding, port uint16, svc string) Finding {
		f.Host, f.Addr, f.Port, f.Service = base.Host, base.Addr, port, svc
		return f
	}
	web := at(Finding{Check: "port.open", Kind: KindPort, Title: "TCP port 80 open (http)", Evidence: "TCP connect to 203.0.113.10:80 succeeded", Advice: "Keep it patched."}, 80, "http")
	ssh := at(Finding{Check: "port.open", Kind: KindPort, Title: "TCP port 22 open (ssh)", Evidence: "TCP connect to 203.0.113.10:22 succeeded", Advice: "Keep it patched."}, 22, "ssh")
	apache := at(Finding{Check: "cve.CVE-2021-41773", Kind: KindCVE, Title: "Potential CVE-2021-41773 in Apache 2.4.49", Severity: High,
		CVE: "CVE-2021-41773", CVSS: 7.5, CVSSVersion: "3.1", KEV: true, Software: "Apache", Version: "2.4.49",
		Description: "Path traversal in Apache HTTP Server 2.4.49.", Evidence: "Server: Apache/2.4.49 (Unix)", Advice: "Upgrade Apache HTTP Server to 2.4.51 or later."}, 80, "http")
	git := at(Finding{Check: "path./.git/HEAD", Kind: KindPath, Title: "Git repository exposed", Severity: High, Evidence: "GET /.git/HEAD answered 200 with: ref: refs/heads/main", Advice: "Block /.git/."}, 80, "http")
	tls10 := at(Finding{Check: "tls.version.tls1.0", Kind: KindTLS, Title: "TLS 1.0 accepted", Severity: Medium, Evidence: "accepted: TLS 1.0, TLS 1.2", Advice: "Turn off TLS 1.0."}, 443, "https")
	telnet := at(Finding{Check: "port.open", Kind: KindPort, Title: "telnet exposed to the internet on TCP port 23", Severity: High, Evidence: "TCP connect to 203.0.113.10:23 succeeded", Advice: "Close port 23."}, 23, "telnet")

	storedRun(t, e.store, "01JRUN0000000000000000000A", now.AddDate(0, 0, -7), []Finding{web, ssh, git, tls10, telnet})
	storedRun(t, e.store, "01JRUN0000000000000000000B", now.Add(-2*time.Hour), []Finding{web, ssh, apache, git, tls10})

	r, err := BuildReport(t.Context(), e.store, threat, fixtureCVE, member, now)
	if err != nil {
		t.Fatal(err)
	}
	if r.New != 1 || len(r.Fixed) != 1 || r.Fixed[0].Port != 23 || r.KEV != 1 {
		t.Errorf("new %d, fixed %+v, kev %d", r.New, r.Fixed, r.KEV)
	}
	want := map[string]string{
		apache.Key(): "Attacks on CVE-2021-41773 were seen against you in the last 30 days: 12 events (Apache path traversal exploit (CVE-2021-41773)).",
		web.Key():    "Attacks on port 80 were seen against you in the last 30 days: 12 events (Apache path traversal exploit (CVE-2021-41773)).",
		ssh.Key():    "Port 22 is being probed or exploited at 1 other member of the network.",
	}
	for _, f := range r.Findings {
		got := strings.Join(f.Threats, " ")
		if got != want[f.Key()] {
			t.Errorf("%s threats %q, want %q", f.Key(), got, want[f.Key()])
		}
	}
	html, err := r.HTML()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.html")
	if *update {
		os.WriteFile(golden, html, 0o644)
	}
	wantHTML, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(wantHTML), string(html)); d != "" {
		t.Errorf("report HTML (-want +got):\n%s", d)
	}
	for _, s := range []string{"CISA KEV", "CVE data imported 1 Nov 2026 00:00 UTC", "Fixed since the last scan", "telnet exposed"} {
		if !strings.Contains(string(html), s) {
			t.Errorf("report lacks %q", s)
		}
	}
}

func TestReportNoScan(t *testing.T) {
	now := time.Now()
	threat := threatStore(t, now)
	e := newEnv(t, nil, nil)
	if _, err := BuildReport(context.Background(), e.store, threat, nil, member, now); err == nil || !strings.Contains(err.Error(), "no finished scan") {
		t.Errorf("err %v", err)
	}
}

// TestLatestScan: the latest scan and the one before are the last two that
// finished, stepping over refused, failed and running ones.
func TestLatestScan(t *testing.T) {
	now := time.Date(2026, 11, 9, 8, 0, 0, 0, time.UTC)
	e := newEnv(t, nil, nil)
	ctx := t.Context()
	port := func(p uint16) Finding {
		return Finding{Check: "port.open", Kind: KindPort, Host: "www.northfield.test", Addr: mustAddr("203.0.113.10"), Port: p, Title: "open"}
	}
	storedRun(t, e.store, "01JRUN0000000000000000000A", now.AddDate(0, 0, -14), []Finding{port(22), port(23)})
	storedRun(t, e.store, "01JRUN0000000000000000000B", now.AddDate(0, 0, -7), []Finding{port(22), port(80)})
	for i, status := range []string{StatusRefused, StatusFailed, StatusRunning} {
		r := Run{ID: "01JRUN0000000000000000000" + string(rune('C'+i)), MemberID: member, By: "schedule", Started: now.Add(time.Duration(i-3) * time.Hour), Status: StatusRunning}
		if err := e.store.StartRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		if status != StatusRunning {
			r.Finished, r.Status = r.Started.Add(time.Minute), status
			if err := e.store.FinishRun(ctx, r, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	l, err := LatestScan(ctx, e.store, member)
	if err != nil {
		t.Fatal(err)
	}
	if l.Run.ID != "01JRUN0000000000000000000B" || l.Previous == nil || l.Previous.ID != "01JRUN0000000000000000000A" {
		t.Fatalf("latest %s, previous %+v", l.Run.ID, l.Previous)
	}
	type row struct {
		Port   uint16
		Status string
	}
	var got []row
	for _, f := range l.Findings {
		got = append(got, row{f.Port, f.Status})
	}
	for _, f := range l.Fixed {
		got = append(got, row{f.Port, FindingFixed})
	}
	want := []row{{22, FindingStillOpen}, {80, FindingNew}, {23, FindingFixed}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("findings (-want +got):\n%s", d)
	}
	if _, err := LatestScan(ctx, e.store, "nobody"); !errors.Is(err, ErrNoScan) {
		t.Errorf("a member never scanned: %v, want ErrNoScan", err)
	}
}
