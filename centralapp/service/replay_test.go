package service

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cyberalarm/cyberalarm/centralapp/aggregate"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/sqlite"
	"github.com/cyberalarm/cyberalarm/detect"
)

// TestRebuildMatchesLiveFeed stores five days of three members' batches,
// each arriving 30 s after its hour, while a live aggregator takes them as
// they arrive; an aggregator rebuilt from the store must then answer every
// query as the live one does: campaigns (one with related sources, one of
// a detection without techniques), indicators, emerging threats, trends,
// targetedness. A day holds flow summaries alone.
func TestRebuildMatchesLiveFeed(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "central.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	members := []string{"m1", "m2", "m3"}
	for _, m := range members {
		must(t, st.AddMember(ctx, store.Member{ID: m, Name: m, TimeZone: "UTC", Created: time.Unix(0, 0)}))
		tok := store.HashToken("token-" + m)
		must(t, st.AddEnrolToken(ctx, store.EnrolToken{Hash: tok, MemberID: m, Created: time.Unix(0, 0), Expires: time.Unix(3600, 0)}))
		must(t, st.UseEnrolToken(ctx, tok, time.Unix(60, 0), store.Collector{ID: "c-" + m, MemberID: m, CertSerial: "1a" + m,
			CertNotAfter: time.Now().Add(24 * time.Hour), Created: time.Unix(60, 0)}))
	}
	now := time.Now().UTC().Truncate(time.Hour)
	base := now.Add(-5*24*time.Hour - 2*time.Hour)
	cfg := aggregate.Config{Now: func() time.Time { return now }}
	live, err := aggregate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddr
	for h := range 5 * 24 {
		hour := base.Add(time.Duration(h) * time.Hour)
		received := hour.Add(time.Hour + 30*time.Second)
		for i, m := range members {
			det := func(rule string, techniques []string, src string, port uint16, minute int, related ...string) store.Detection {
				last := hour.Add(time.Duration(minute) * time.Minute)
				d := detect.Detection{RuleID: rule, RuleName: "Rule " + rule, Severity: 50, Techniques: techniques,
					Count: int64(3 + minute%5), FirstSeen: last.Add(-time.Minute), LastSeen: last, MemberID: m,
					Sample: detect.Event{Timestamp: last, Category: detect.CategoryNetwork, Type: detect.TypeDenied,
						Dataset: "cisco_asa", Network: detect.Network{Transport: detect.TransportTCP}}}
				if src != "" {
					d.Source = addr(src)
				}
				if port != 0 {
					d.Destination, d.DestinationPort = addr("192.0.2.10"), port
				}
				for _, r := range related {
					d.Related = append(d.Related, addr(r))
				}
				d.DistinctSources = len(d.Related)
				sd, err := store.DecodeDetection(d.AppendJSON(nil))
				if err != nil {
					t.Fatal(err)
				}
				return sd
			}
			var ds []store.Detection
			var ss []detect.FlowSummary
			day := h / 24
			if day != 3 { // day 3: flow summaries alone
				ds = append(ds, det("scan.tcp.vertical", []string{"T1046"}, fmt.Sprintf("45.33.%d.%d", i, h), 0, 7))
			}
			switch {
			case h == 26: // a campaign at every member
				ds = append(ds, det("scan.tcp.vertical", []string{"T1046"}, "203.0.113.5", 22, 10*i+1))
			case h == 50 && i < 2: // two members: no campaign
				ds = append(ds, det("web.probe", []string{"T1595"}, "198.51.100.77", 443, 5))
			case h == 98: // a campaign detection (many sources at one target), and one without techniques
				ds = append(ds, det("ssh.spray", []string{"T1110.003"}, "", 22, 15*i, "198.51.100.20", "198.51.100.21"))
				ds = append(ds, det("dns.amplification", []string{}, "198.51.100.53", 53, 15*i+2))
			}
			if h%6 == 0 {
				ss = append(ss, detect.FlowSummary{Minute: hour.Add(20 * time.Minute), SourceIP: addr("203.0.113.5"), DestinationPort: 3389,
					Transport: "tcp", EventType: "denied", Device: "fw1", Dataset: "cisco_asa", Count: 4},
					detect.FlowSummary{Minute: hour.Add(40 * time.Minute), SourceIP: addr(fmt.Sprintf("100.%d.0.%d", 70+i, h%200)),
						DestinationPort: 23, Transport: "tcp", EventType: "denied", Device: "fw1", Dataset: "cisco_asa", Count: 1})
			}
			if len(ds)+len(ss) == 0 {
				continue
			}
			b := &store.Batch{ID: fmt.Sprintf("01JBATCH%06d%s", h, m), CollectorID: "c-" + m, MemberID: m, Seq: uint64(h + 1),
				Created: received.Add(-time.Second), Received: received, Detections: ds, Summaries: ss}
			if dup, err := st.IngestBatch(ctx, b); err != nil || dup {
				t.Fatalf("ingest: duplicate %v, %v", dup, err)
			}
			obs := appendDetections(nil, "", ds)
			for k := range ss {
				obs = append(obs, aggregate.SummaryObservation(m, &ss[k]))
			}
			must(t, live.AddAt(received, obs))
		}
	}
	live.Advance(now)

	s := &Service{Store: st, log: quiet}
	if s.Agg, err = aggregate.New(cfg); err != nil {
		t.Fatal(err)
	}
	ds, ss, pos, err := s.rebuild(ctx, base.Add(-time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.Counts(ctx, "")
	must(t, err)
	if int64(ds) != c.Detections || int64(ss) != c.Summaries || pos.detection != c.Detections || pos.summary != c.Summaries {
		t.Errorf("rebuild fed %d detections and %d summaries up to ids %+v; the store holds %+v", ds, ss, pos, c)
	}
	rebuilt := s.Agg
	opts := cmp.Options{cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()}
	check := func(what string, want, got any) {
		t.Helper()
		if diff := cmp.Diff(want, got, opts); diff != "" {
			t.Errorf("%s: rebuilt differs from live (-live +rebuilt):\n%s", what, diff)
		}
	}
	campaigns := live.Campaigns(time.Time{})
	if len(campaigns) != 4 {
		t.Fatalf("live: %d campaigns, want 4 (the scanner, the spray's two sources, the amplifier): %+v", len(campaigns), campaigns)
	}
	check("campaigns", campaigns, rebuilt.Campaigns(time.Time{}))
	check("indicators", string(live.Indicators(now)), string(rebuilt.Indicators(now)))
	check("emerging", live.Emerging(now), rebuilt.Emerging(now))
	for _, dim := range []aggregate.Dimension{aggregate.DimPort, aggregate.DimTechnique, aggregate.DimSignature} {
		check("trends by "+dim.String(), live.Trends(now, dim, 20), rebuilt.Trends(now, dim, 20))
	}
	for _, m := range members {
		check("top sources of "+m, live.TopSources(m, 20), rebuilt.TopSources(m, 20))
	}
	check("sources", live.Sources(), rebuilt.Sources())
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
