package report

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cyberalarm/cyberalarm/centralapp/aggregate"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/sqlite"
	"github.com/cyberalarm/cyberalarm/detect"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// now is the fixture's clock: the evening of Friday 27 November 2026.
var now = time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC)

// day is a time on the given day of November 2026.
func day(d, hour, minute int) time.Time { return time.Date(2026, 11, d, hour, minute, 0, 0, time.UTC) }

var fixtureMembers = []store.Member{
	{ID: "harbour-logistics", Name: "Harbour Logistics", Sector: "transport", Region: "south-east", TimeZone: "Europe/London"},
	{ID: "northfield-college", Name: "Northfield College", Sector: "education", Region: "north-west", TimeZone: "Europe/London"},
	{ID: "oakwood-council", Name: "Oakwood Parish Council", Sector: "government", Region: "south-east", TimeZone: "Europe/London"},
	{ID: "riverside-surgery", Name: "Riverside Surgery", Sector: "health", Region: "north-west", TimeZone: "Europe/London"},
}

// det is a detection as a collector sends it (DESIGN.md §3.2).
type det struct {
	rule, name string
	severity   int
	techniques []string
	src, dst   string
	port       uint16
	count      int64
	first      time.Time
	last       time.Duration // after first
	verdict    string        // the sample's event.type
	category   string
	direction  string
	signature  string // the sample's rule.name
	related    []string
}

func (d det) raw(member string) []byte {
	sample := map[string]any{"@timestamp": d.first.Format(time.RFC3339), "event": map[string]any{"category": d.category, "type": d.verdict}}
	if d.direction != "" {
		sample["network"] = map[string]any{"direction": d.direction}
	}
	if d.signature != "" {
		sample["rule"] = map[string]any{"name": d.signature}
	}
	if d.dst != "" {
		sample["destination"] = map[string]any{"ip": d.dst}
	}
	w := map[string]any{
		"rule":   map[string]any{"id": d.rule, "name": d.name},
		"event":  map[string]any{"severity": d.severity, "kind": "alert"},
		"threat": map[string]any{"technique": map[string]any{"id": d.techniques}},
		"detection": map[string]any{"count": d.count, "first_seen": d.first.Format(time.RFC3339),
			"last_seen": d.first.Add(d.last).Format(time.RFC3339), "sample": sample},
		"member": map[string]any{"id": member},
	}
	if d.src != "" {
		w["source"] = map[string]any{"ip": d.src}
	}
	if d.port != 0 {
		w["destination"] = map[string]any{"port": d.port}
	}
	if d.related != nil {
		w["related"] = map[string]any{"ip": d.related}
		w["detection"].(map[string]any)["distinct_sources"] = len(d.related)
	}
	b, err := json.Marshal(w)
	if err != nil {
		panic(err)
	}
	return b
}

// sum is a flow summary.
type sum struct {
	src     string
	port    uint16
	verdict string
	minute  time.Time
	count   int64
}

// feed is what one member's collector sends.
type feed struct {
	dets    []det
	sums    []sum
	devices []detect.DeviceHealth
}

func fixtureFeeds() map[string]feed {
	scan := func(first time.Time) det {
		return det{rule: "scan.horizontal", name: "Scan of one service across your addresses", severity: 40, techniques: []string{"T1046"},
			src: "2001:db8:bad::1", port: 23, count: 12, first: first, last: 2 * time.Minute, verdict: "denied", category: "network"}
	}
	return map[string]feed{
		"northfield-college": {
			dets: []det{
				// The previous period.
				{rule: "bruteforce.ssh.auth", name: "SSH password guessing", severity: 55, techniques: []string{"T1110.001"},
					src: "81.2.69.142", port: 22, count: 10, first: day(18, 3, 0), last: 5 * time.Minute, verdict: "denied", category: "authentication"},
				{rule: "spam.dnsbl", name: "Spam run from a blocklisted server", severity: 30, techniques: []string{"spam"},
					src: "45.155.205.20", port: 25, count: 5, first: day(19, 9, 0), last: time.Hour, verdict: "denied", category: "email"},
				// This period.
				{rule: "bruteforce.ssh.auth", name: "SSH password guessing", severity: 55, techniques: []string{"T1110.001"},
					src: "81.2.69.142", port: 22, count: 40, first: day(26, 2, 10), last: 20 * time.Minute, verdict: "denied", category: "authentication"},
				{rule: "web.exploit.log4shell", name: "Log4Shell (Log4j) exploit attempt", severity: 75, techniques: []string{"T1190"},
					src: "185.220.101.7", port: 443, count: 3, first: day(27, 3, 14), last: time.Minute, verdict: "allowed", category: "web"},
				{rule: "ids.exploit", name: "Attack on a server or application (IDS)", severity: 60, techniques: []string{"T1190"},
					src: "45.155.205.10", port: 80, count: 2, first: day(24, 11, 0), last: time.Minute, verdict: "info", category: "intrusion_detection",
					signature: "ET EXPLOIT Apache HTTP Server Path Traversal (CVE-2021-41773)"},
				{rule: "exposure.rdp", name: "Remote Desktop reachable from the internet", severity: 55, techniques: []string{"T1133"},
					src: "203.0.113.50", port: 3389, count: 1, first: day(25, 20, 5), verdict: "allowed", category: "network"},
				{rule: "indicator.destination.outbound", name: "Computer contacting a known attacker address", severity: 70, techniques: []string{"T1071"},
					src: "192.168.1.44", dst: "198.51.100.99", count: 3, first: day(27, 21, 30), last: 12 * time.Minute, verdict: "allowed",
					category: "network", direction: "outbound"},
				{rule: "amplification.victim.campaign", name: "Reflection attack against one of your addresses", severity: 75, techniques: []string{"T1498.002"},
					count: 3, first: day(23, 13, 15), verdict: "denied", category: "network", related: []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"}},
				scan(day(27, 6, 10)),
			},
			sums: []sum{
				{"81.2.69.142", 22, "denied", day(21, 4, 0), 6}, {"81.2.69.142", 22, "denied", day(22, 4, 0), 9},
				{"203.0.113.77", 445, "denied", day(23, 8, 1), 25}, {"203.0.113.77", 139, "denied", day(23, 8, 2), 4},
				{"185.220.101.7", 443, "allowed", day(27, 3, 10), 2}, {"45.155.205.10", 8080, "denied", day(24, 11, 5), 7},
				{"2001:db8:bad:1::9", 3389, "denied", day(26, 17, 40), 11}, {"203.0.113.77", 445, "denied", day(16, 8, 0), 3},
			},
			devices: []detect.DeviceHealth{
				{Device: "fw01", Dataset: "fortigate", LastSeen: day(27, 22, 40), Lines: 91000},
				{Device: "ids01", Dataset: "suricata", LastSeen: day(25, 8, 0), Lines: 1200},
			},
		},
		"riverside-surgery": {
			dets: []det{
				scan(day(27, 6, 20)),
				{rule: "web.exploit.apache_cve_2021_41773", name: "Apache path traversal exploit (CVE-2021-41773)", severity: 70, techniques: []string{"T1190"},
					src: "185.220.101.7", port: 80, count: 2, first: day(27, 3, 40), verdict: "denied", category: "web"},
			},
			sums:    []sum{{"81.2.69.142", 22, "denied", day(26, 2, 30), 3}},
			devices: []detect.DeviceHealth{{Device: "gw01", Dataset: "sophos", LastSeen: day(27, 22, 50), Lines: 5000}},
		},
		"harbour-logistics": {
			dets:    []det{scan(day(27, 6, 40))},
			devices: []detect.DeviceHealth{{Device: "asa1", Dataset: "cisco_asa", LastSeen: day(27, 22, 55), Lines: 8000}},
		},
		"oakwood-council": {
			sums:    []sum{{"203.0.113.77", 445, "denied", day(23, 9, 0), 2}},
			devices: []detect.DeviceHealth{{Device: "pfsense", Dataset: "filterlog", LastSeen: day(27, 21, 0), Lines: 300}},
		},
	}
}

// fixture is a real SQLite store and an aggregator holding fixtureFeeds,
// with the campaigns the aggregator found stored, as central does.
type fixture struct {
	st  store.Store
	agg *aggregate.Aggregator
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "central.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	agg, err := aggregate.New(aggregate.Config{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	feeds := fixtureFeeds()
	for i, m := range fixtureMembers {
		m.Created = day(1, 0, 0)
		must(t, st.AddMember(ctx, m))
		tok := store.HashToken("token-" + m.ID)
		must(t, st.AddEnrolToken(ctx, store.EnrolToken{Hash: tok, MemberID: m.ID, Created: m.Created, Expires: day(2, 0, 0)}))
		col := store.Collector{ID: fmt.Sprintf("01COLLECTOR%02d", i), MemberID: m.ID, CertSerial: fmt.Sprint(i + 1),
			CertNotAfter: day(30, 0, 0), Created: m.Created}
		must(t, st.UseEnrolToken(ctx, tok, day(1, 1, 0), col))
		f := feeds[m.ID]
		b := &store.Batch{ID: fmt.Sprintf("01BATCH%02d", i), CollectorID: col.ID, MemberID: m.ID, Seq: 1, Created: now, Received: now,
			Health: &detect.Health{Time: now.Add(-5 * time.Minute), Started: day(1, 1, 0), Version: "test", Devices: f.devices}}
		var obs []aggregate.Observation
		for _, d := range f.dets {
			sd, err := store.DecodeDetection(d.raw(m.ID))
			if err != nil {
				t.Fatal(err)
			}
			b.Detections = append(b.Detections, sd)
			obs = aggregate.AppendDetection(obs, &detect.Detection{MemberID: m.ID, RuleID: sd.RuleID, Techniques: sd.Techniques,
				Source: sd.Source, DestinationPort: sd.DestinationPort, Related: sd.Related, Count: sd.Count, FirstSeen: sd.FirstSeen, LastSeen: sd.LastSeen})
		}
		for _, s := range f.sums {
			fs := detect.FlowSummary{Minute: s.minute, SourceIP: netip.MustParseAddr(s.src), DestinationPort: s.port, Transport: "tcp",
				EventType: s.verdict, Device: f.devices[0].Device, Dataset: f.devices[0].Dataset, Count: s.count}
			b.Summaries = append(b.Summaries, fs)
			obs = append(obs, aggregate.SummaryObservation(m.ID, &fs))
		}
		if _, err := st.IngestBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
		must(t, agg.Add(obs))
	}
	var cs []store.Campaign
	for _, c := range agg.Changes() {
		cs = append(cs, store.Campaign{ID: c.ID, Source: c.Source, Members: c.MemberIDs(), Techniques: c.Techniques, Ports: c.Ports,
			Count: c.Count, FirstSeen: c.FirstSeen, LastSeen: c.LastSeen, Updated: now, Replaces: c.Replaces})
	}
	if len(cs) == 0 {
		t.Fatal("the fixture made no campaign")
	}
	must(t, st.PutCampaigns(ctx, cs))
	return &fixture{st: st, agg: agg}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		must(t, os.MkdirAll("testdata", 0o755))
		must(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to make it)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs (-want +got; go test -update rewrites it):\n%s", path, d)
	}
}
