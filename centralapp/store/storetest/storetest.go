// Package storetest is the conformance suite for implementations of
// store.Store. A backend's test calls Run with a way to make a fresh store
// and to reopen one; the suite must pass unchanged on every backend.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Backend{
//			NewDSN: func(t *testing.T) string { return filepath.Join(t.TempDir(), "central.db") },
//			Open: func(t *testing.T, dsn string) (store.Store, error) {
//				return sqlite.Open(t.Context(), sqlite.Options{Path: dsn})
//			},
//		})
//	}
//
// Test data uses times with microsecond precision, the least a backend must
// keep.
package storetest

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/detect"
)

// Backend makes stores for the suite.
type Backend struct {
	// NewDSN returns the address of a new, empty store.
	NewDSN func(t *testing.T) string
	// Open opens the store at dsn, creating it if need be. The suite
	// closes what it opens, and opens one dsn again after closing it to
	// test persistence.
	Open func(t *testing.T, dsn string) (store.Store, error)
}

// Run runs the conformance suite against b.
func Run(t *testing.T, b Backend) {
	h := &harness{b: b}
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *harness)
	}{
		{"Members", testMembers},
		{"EnrolTokens", testEnrolTokens},
		{"EnrolTokenRace", testEnrolTokenRace},
		{"Collectors", testCollectors},
		{"Accounts", testAccounts},
		{"APITokens", testAPITokens},
		{"IngestRoundTrip", testIngestRoundTrip},
		{"IngestDuplicate", testIngestDuplicate},
		{"IngestAtomic", testIngestAtomic},
		{"IngestRefused", testIngestRefused},
		{"IngestHealth", testIngestHealth},
		{"IngestConcurrent", testIngestConcurrent},
		{"IngestConcurrentInvalid", testIngestConcurrentInvalid},
		{"IngestIDs", testIngestIDs},
		{"IngestIDsConcurrent", testIngestIDsConcurrent},
		{"DetectionFilters", testDetectionFilters},
		{"DetectionPaging", testDetectionPaging},
		{"Replay", testReplay},
		{"Summaries", testSummaries},
		{"SummaryCounts", testSummaryCounts},
		{"Rollups", testRollups},
		{"RollupsConcurrent", testRollupsConcurrent},
		{"SourceActivity", testSourceActivity},
		{"SourceMembers", testSourceMembers},
		{"Campaigns", testCampaigns},
		{"Releases", testReleases},
		{"Reports", testReports},
		{"Deliveries", testDeliveries},
		{"Retain", testRetain},
		{"Reopen", testReopen},
		{"CloseTwice", testCloseTwice},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

type harness struct{ b Backend }

// open returns a new, empty store, closed when the test ends.
func (h *harness) open(t *testing.T) store.Store {
	t.Helper()
	return h.openDSN(t, h.b.NewDSN(t))
}

func (h *harness) openDSN(t *testing.T, dsn string) store.Store {
	t.Helper()
	s, err := h.b.Open(t, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// base is the suite's clock: a fixed time, so results do not depend on
// when the suite runs.
var base = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

// addMember adds a member with id and fixed attributes.
func addMember(t *testing.T, s store.Store, id string) store.Member {
	t.Helper()
	m := store.Member{ID: id, Name: "Member " + id, Sector: "health", Region: "north", TimeZone: "Europe/London", Created: base}
	must(t, s.AddMember(t.Context(), m))
	return m
}

// enrol adds a collector of member through an enrolment token, as central
// does; the member must exist.
func enrol(t *testing.T, s store.Store, member, id string) store.Collector {
	t.Helper()
	tok := store.HashToken("token-" + id)
	must(t, s.AddEnrolToken(t.Context(), store.EnrolToken{Hash: tok, MemberID: member, Created: base, Expires: at(time.Hour)}))
	c := store.Collector{ID: id, MemberID: member, CertSerial: "1a" + id, CertNotAfter: at(90 * 24 * time.Hour), Created: at(time.Minute)}
	must(t, s.UseEnrolToken(t.Context(), tok, at(time.Minute), c))
	return c
}

// setup makes a store with members acme and globex and one collector each:
// c-acme and c-globex.
func (h *harness) setup(t *testing.T) store.Store {
	t.Helper()
	s := h.open(t)
	for _, m := range []string{"acme", "globex"} {
		addMember(t, s, m)
		enrol(t, s, m, "c-"+m)
	}
	return s
}

// det is a detection as a collector sends it: built by detect.Detection,
// serialised by AppendJSON and decoded by store.DecodeDetection.
type det struct {
	rule       string
	source     string
	port       uint16
	techniques []string
	count      int64
	lastSeen   time.Time
	member     string // member.id in the JSON; "" leaves it out
	related    []string
}

func (d det) build(t *testing.T) store.Detection {
	t.Helper()
	if d.rule == "" {
		d.rule = "scan.tcp.vertical"
	}
	if d.count == 0 {
		d.count = 3
	}
	if d.techniques == nil {
		d.techniques = []string{"T1046"}
	}
	if d.lastSeen.IsZero() {
		d.lastSeen = at(0)
	}
	x := detect.Detection{
		RuleID:     d.rule,
		RuleName:   "Rule " + d.rule,
		Severity:   50,
		Techniques: d.techniques,
		Tags:       []string{"attack.discovery"},
		Count:      d.count,
		FirstSeen:  d.lastSeen.Add(-time.Minute),
		LastSeen:   d.lastSeen,
		MemberID:   d.member,
		Sample: detect.Event{Timestamp: d.lastSeen, Category: detect.CategoryNetwork, Type: detect.TypeDenied,
			Dataset: "cisco_asa", Network: detect.Network{Transport: detect.TransportTCP}},
	}
	if d.source != "" {
		x.Source = addr(d.source)
		x.Sample.Source.IP = x.Source
	}
	if d.port != 0 {
		x.Destination, x.DestinationPort = addr("192.0.2.10"), d.port
	}
	for _, r := range d.related {
		x.Related = append(x.Related, addr(r))
	}
	if len(x.Related) > 0 {
		x.DistinctSources = len(x.Related)
	}
	got, err := store.DecodeDetection(x.AppendJSON(nil))
	if err != nil {
		t.Fatalf("decode detection: %v", err)
	}
	return got
}

func summary(source string, port uint16, minute time.Time, count int64) detect.FlowSummary {
	return detect.FlowSummary{Minute: minute, SourceIP: addr(source), DestinationPort: port, Transport: "tcp",
		EventType: "denied", Device: "fw1", Dataset: "cisco_asa", Count: count}
}

// batch makes a batch of collector c-member with the given records.
func batch(member, id string, received time.Time, dets []store.Detection, sums ...detect.FlowSummary) *store.Batch {
	return &store.Batch{ID: id, CollectorID: "c-" + member, MemberID: member, Seq: 1, Created: received.Add(-time.Second),
		Received: received, Detections: dets, Summaries: sums}
}

func ingest(t *testing.T, s store.Store, b *store.Batch) {
	t.Helper()
	dup, err := s.IngestBatch(t.Context(), b)
	if err != nil {
		t.Fatalf("ingest %s: %v", b.ID, err)
	}
	if dup {
		t.Fatalf("ingest %s: duplicate", b.ID)
	}
}

func counts(t *testing.T, s store.Store, member string) store.Counts {
	t.Helper()
	c, err := s.Counts(t.Context(), member)
	must(t, err)
	return c
}

// allDetections pages through every detection matching f.
func allDetections(t *testing.T, s store.Store, f store.DetectionFilter) []store.Detection {
	t.Helper()
	var out []store.Detection
	for {
		page, err := s.Detections(t.Context(), f)
		must(t, err)
		out = append(out, page...)
		if len(page) == 0 || (f.Limit > 0 && len(page) < f.Limit) || (f.Limit == 0 && len(page) < store.DefaultLimit) {
			return out
		}
		f.After = page[len(page)-1].ID
	}
}

func batchID(i int) string { return fmt.Sprintf("01JBATCH%018d", i) }
