package report

import (
	"errors"
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/cyberalarm/cyberalarm/centralapp/config"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(closingBench{m}) }

// week is the fixture's report period: the seven days to the end of
// Friday 27 November 2026, in London.
func week(t *testing.T) Period {
	loc := Location("Europe/London")
	p := Ending(now, Week, loc)
	if !p.Start.Equal(day(21, 0, 0)) || !p.End.Equal(day(28, 0, 0)) {
		t.Fatalf("Ending(%s) = %s", now, p)
	}
	return p
}

func newTestBuilder(t *testing.T, f *fixture, geo *Geo) *Builder {
	t.Helper()
	b, err := NewBuilder(Options{Store: f.st, Agg: f.agg, Geo: geo, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMemberReport(t *testing.T) {
	f := newFixture(t)
	b := newTestBuilder(t, f, testGeo(t))
	r, err := b.Member(t.Context(), "northfield-college", week(t))
	if err != nil {
		t.Fatal(err)
	}
	// The headline, worked out by hand from fixtureFeeds.
	if d := cmp.Diff(Numbers{Events: 128, Detections: 7, Blocked: 117, Allowed: 9, Sources: 7}, r.Now); d != "" {
		t.Errorf("this period (-want +got):\n%s", d)
	}
	if d := cmp.Diff(Numbers{Events: 18, Detections: 2, Blocked: 18, Sources: 3}, r.Before); d != "" {
		t.Errorf("previous period (-want +got):\n%s", d)
	}
	if r.Now.Other() != 2 {
		t.Errorf("only seen: %d, want 2", r.Now.Other())
	}
	var daily int64
	for _, d := range r.Daily {
		daily += d.Events()
	}
	if len(r.Daily) != 7 || daily != r.Now.Events {
		t.Errorf("daily: %d days, %d events; want 7 days, %d", len(r.Daily), daily, r.Now.Events)
	}

	o := r.Origins
	if !o.Known || o.UKSources != 1 || o.UKEvents != 55 || o.NonUKSources != 4 || o.NonUKEvents != 37 || o.Unknown != 2 || o.UnknownEvents != 30 {
		t.Errorf("origins: %+v", o)
	}

	top := r.TopSources[0]
	if top.Addr != netip.MustParseAddr("81.2.69.142") || top.Events != 55 || top.Place.Country != "GB" || top.Members != 2 || top.New {
		t.Errorf("top source: %+v", top)
	}
	// Seen here and at one other member, on one port: 1/2.
	if math.Abs(top.Targetedness-0.5) > 1e-9 {
		t.Errorf("targetedness of %s: %g, want 0.5", top.Addr, top.Targetedness)
	}
	// Seen in the previous period, and not.
	if s := r.TopSources[1]; s.Addr != netip.MustParseAddr("203.0.113.77") || s.New || s.Members != 2 {
		t.Errorf("second source: %+v", s)
	}
	if s := r.TopSources[2]; s.Addr != netip.MustParseAddr("2001:db8:bad::1") || !s.New || !s.Campaign || s.Place.Country != "CN" {
		t.Errorf("third source: %+v", s)
	}

	var silent []string
	for _, d := range r.Devices {
		if d.Silent {
			silent = append(silent, d.Device)
		}
	}
	if !slices.Equal(silent, []string{"ids01"}) || len(r.Devices) != 2 {
		t.Errorf("devices %+v: silent %v, want [ids01]", r.Devices, silent)
	}

	if len(r.Campaigns) != 1 || r.Campaigns[0].Source != netip.MustParseAddr("2001:db8:bad::1") || r.Campaigns[0].OtherMembers != 2 {
		t.Errorf("campaigns: %+v", r.Campaigns)
	}

	// The block list: attackers, the known-bad address a computer called,
	// never the member's own address nor reflectors.
	var blocked []string
	for _, e := range r.BlockList {
		blocked = append(blocked, e.Addr.String())
		if !e.Expires.After(e.LastSeen) || e.Confidence < 1 || e.Confidence > 100 {
			t.Errorf("block entry %+v", e)
		}
	}
	// Confidence: the campaign's 90, then severity (+10 for a source seen
	// at another member, as 81.2.69.142 was).
	want := []string{"2001:db8:bad::1", "185.220.101.7", "198.51.100.99", "81.2.69.142", "45.155.205.10", "203.0.113.50"}
	if !slices.Equal(blocked, want) {
		t.Errorf("block list %v, want %v", blocked, want)
	}
	if r.BlockList[0].Confidence != 90 {
		t.Errorf("campaign source confidence %d, want 90", r.BlockList[0].Confidence)
	}

	// Most severe first; the rule's description says what it is.
	if f := r.Findings[1]; f.RuleID != "web.exploit.log4shell" || f.Outcome() != "Got through" || f.Level() != "High" ||
		!strings.Contains(f.What, "Log4Shell") || !strings.Contains(f.Advice, "patch") {
		t.Errorf("second finding: %+v", f)
	}
	for _, c := range []string{"New: Log4Shell (Log4j) exploit attempt (3 events).", "No longer seen: Spam run from a blocklisted server (5 events in the previous period)."} {
		if !slices.Contains(r.Changes, c) {
			t.Errorf("changes %q lack %q", r.Changes, c)
		}
	}

	html, err := RenderMember(r)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "member.html", html)
	golden(t, "blocklist.txt", r.BlockListText())
	golden(t, "blocklist.csv", r.BlockListCSV())
}

// TestMemberReportWithoutGeoIP: without a country database the origin
// section says unknown, and nothing else changes.
func TestMemberReportWithoutGeoIP(t *testing.T) {
	f := newFixture(t)
	r, err := newTestBuilder(t, f, nil).Member(t.Context(), "northfield-college", week(t))
	if err != nil {
		t.Fatal(err)
	}
	if r.Origins.Known || r.Origins.Unknown != 7 || r.TopSources[0].Place != (Place{}) {
		t.Errorf("origins without a database: %+v", r.Origins)
	}
	html, err := RenderMember(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "Unknown: central has no country database configured") {
		t.Error("the report does not say the origin is unknown")
	}
}

func TestMemberReportQuietMember(t *testing.T) {
	f := newFixture(t)
	b := newTestBuilder(t, f, nil)
	p, err := NewPeriod(day(1, 0, 0), day(8, 0, 0), time.UTC)
	must(t, err)
	r, err := b.Member(t.Context(), "oakwood-council", p)
	if err != nil {
		t.Fatal(err)
	}
	if r.Now != (Numbers{}) || len(r.BlockList) != 0 || len(r.Findings) != 0 {
		t.Errorf("a period without data: %+v", r)
	}
	html, err := RenderMember(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "Nothing suspicious reached your network in this period.") {
		t.Error("the empty report does not say so")
	}
	if _, err := b.Member(t.Context(), "nobody", p); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown member: %v", err)
	}
}

func TestAnalystReport(t *testing.T) {
	f := newFixture(t)
	r, err := newTestBuilder(t, f, testGeo(t)).Analyst(t.Context(), week(t))
	if err != nil {
		t.Fatal(err)
	}
	if r.Now.Reporting != 4 || r.Now.Campaigns != 1 || r.Now.Detections != 10 {
		t.Errorf("headline: %+v", r.Now)
	}
	if len(r.Campaigns) != 1 || !slices.Equal(r.Campaigns[0].Members, []string{"Harbour Logistics", "Northfield College", "Riverside Surgery"}) {
		t.Errorf("campaigns: %+v", r.Campaigns)
	}
	if len(r.CVEs) != 1 || r.CVEs[0].ID != "CVE-2021-41773" || r.CVEs[0].Members != 2 || r.CVEs[0].Detections != 2 {
		t.Errorf("CVEs: %+v", r.CVEs)
	}
	nw := r.Regions[0]
	if nw.Name != "north-west" || nw.Shared != 3 || !slices.Equal(nw.Members, []string{"Northfield College", "Riverside Surgery"}) {
		t.Errorf("regions: %+v", r.Regions)
	}
	if len(r.Sectors) != 4 || len(r.Trends) != 3 || len(r.Trends[0].Rows) == 0 {
		t.Errorf("sectors %d, trend groups %d", len(r.Sectors), len(r.Trends))
	}
	if len(r.IDS) != 1 || !strings.Contains(r.IDS[0].Name, "CVE-2021-41773") {
		t.Errorf("IDS signatures: %+v", r.IDS)
	}
	html, err := RenderAnalyst(r)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "analyst.html", html)
}

// TestGenerator stores the reports, HTML only when there is no browser.
func TestGenerator(t *testing.T) {
	f := newFixture(t)
	c := config.Reports{Period: Week, Top: 10, BlockFor: Week, SilentAfter: 24 * time.Hour, Chromium: "/nonexistent/chromium"}
	g, err := Open(c, f.st, f.agg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if !errors.Is(g.NoPDF, ErrNoChromium) || !strings.Contains(g.NoPDF.Error(), "/nonexistent/chromium") {
		t.Fatalf("NoPDF = %v", g.NoPDF)
	}
	g.Builder.o.Now = func() time.Time { return now }
	o, err := g.Member(t.Context(), "northfield-college", week(t))
	if err != nil {
		t.Fatal(err)
	}
	if o.Stored.PDF != nil || !errors.Is(o.PDFErr, ErrNoChromium) {
		t.Errorf("PDF %d bytes, err %v", len(o.Stored.PDF), o.PDFErr)
	}
	a, err := g.Analyst(t.Context(), week(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.st.Report(t.Context(), o.Stored.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != KindMember || got.MemberID != "northfield-college" || !got.PeriodStart.Equal(day(21, 0, 0)) || string(got.HTML) != string(o.Stored.HTML) {
		t.Errorf("stored report: %s %s %s", got.Kind, got.MemberID, got.PeriodStart)
	}
	list, err := f.st.Reports(t.Context(), "")
	if err != nil || len(list) != 1 || list[0].ID != a.Stored.ID || list[0].Kind != KindAnalyst {
		t.Errorf("analyst reports: %+v, %v", list, err)
	}
	dir := t.TempDir()
	paths, err := o.WriteFiles(dir, "northfield-college")
	if err != nil || len(paths) != 3 {
		t.Errorf("files %v, %v; want html and two block lists", paths, err)
	}
}

func TestCVEs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"web.exploit.apache_cve_2021_41773", []string{"CVE-2021-41773"}},
		{"Apache path traversal exploit (CVE-2021-41773 and cve-2021-42013)", []string{"CVE-2021-41773", "CVE-2021-42013"}},
		{"cve.2021.44228", []string{"CVE-2021-44228"}},
		{"ET EXPLOIT CVE-2014-6271 CVE-2014-6271", []string{"CVE-2014-6271"}},
		{"T1190", nil},
		{"notacve-2021-1234 CVE-21-1234", nil},
	} {
		if got := cves(nil, tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("cves(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPeriod(t *testing.T) {
	loc := Location("Europe/London")
	// Midnight in London: the week ends with the day of the given time.
	p := Ending(time.Date(2026, 3, 30, 9, 0, 0, 0, time.UTC), Week, loc)
	if got := p.String(); got != "Tue 24 Mar 2026 to Mon 30 Mar 2026" {
		t.Errorf("String = %q", got)
	}
	// The clocks went forward on 29 March: a day of 23 hours.
	days := p.Days()
	if len(days) != 7 || days[6].Day() != 30 || dayIndex(days, time.Date(2026, 3, 29, 23, 30, 0, 0, time.UTC)) != 6 {
		t.Errorf("days %v", days)
	}
	if prev := p.Previous(); !prev.End.Equal(p.Start) || prev.End.Sub(prev.Start) != Week {
		t.Errorf("previous %v", prev)
	}
	if _, err := NewPeriod(day(2, 0, 0), day(1, 0, 0), nil); err == nil {
		t.Error("a period that ends before it starts")
	}
	if Location("Mars/Olympus") != time.UTC {
		t.Error("an unknown zone is not UTC")
	}
}

func TestWords(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{delta(150, 100), "up 50% from 100"},
		{delta(50, 100), "down 50% from 100"},
		{delta(5, 0), "none the period before"},
		{delta(7, 7), "the same as the period before"},
		{pct(1, 3), "33%"},
		{groupDigits(1234567), "1,234,567"},
		{groupDigits(-1000), "-1,000"},
		{plural(1, "address"), "1 address"},
		{plural(2000, "address"), "2,000 addresses"},
		{portLabel(3389), "3389 · Remote Desktop (RDP)"},
		{portLabel(31337), "31337"},
		{score(math.NaN()), "not known"},
		{membersText(3), "you and 2 others"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
