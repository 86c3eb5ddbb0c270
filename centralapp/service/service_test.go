package service

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/config"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/detect/update"
)

func open(t *testing.T, dir string) *Service {
	t.Helper()
	cfg, err := config.Parse(filepath.Join(dir, "central.yaml"), []byte("data_dir: state\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCampaignsAndIndicatorsSurviveRestart: a source seen at three members
// becomes a stored campaign and a published indicator; after a restart the
// aggregation state is back and the campaign still stored.
func TestCampaignsAndIndicatorsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := open(t, dir)
	src := netip.MustParseAddr("203.0.113.50")
	seen := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	for i, m := range []string{"m1", "m2", "m3"} {
		if _, err := s.AddMember(ctx, store.Member{ID: m, Name: m, TimeZone: "UTC"}, time.Hour); err != nil {
			t.Fatal(err)
		}
		s.observe(store.Batch{MemberID: m, Detections: []store.Detection{{
			MemberID: m, RuleID: "scan.tcp.vertical", RuleName: "scan", Severity: 50, Techniques: []string{"T1046"},
			Source: src, Count: 20, FirstSeen: seen.Add(time.Duration(i) * time.Minute), LastSeen: seen.Add(time.Duration(i+1) * time.Minute),
		}}})
	}
	if err := s.Flush(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	cs, err := s.Store.Campaigns(ctx, store.CampaignFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Source != src || len(cs[0].Members) != 3 {
		t.Fatalf("campaigns: %+v", cs)
	}
	rel, err := s.Store.LatestRelease(ctx, update.KindIndicators)
	if err != nil {
		t.Fatal(err)
	}
	// A flush with nothing new publishes nothing new.
	if err := s.Flush(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Store.LatestRelease(ctx, update.KindIndicators); again.Version != rel.Version {
		t.Errorf("an unchanged list was published again: version %d after %d", again.Version, rel.Version)
	}
	var signed update.Signed
	if err := json.Unmarshal(rel.Payload, &signed); err != nil {
		t.Fatal(err)
	}
	env, err := update.Verify(s.CA.UpdatePublicKey(), signed)
	if err != nil {
		t.Fatal(err)
	}
	list, err := detect.ParseList("central", "indicators", bytes.NewReader(env.Payload))
	if err != nil || !list.ContainsAddr(src) {
		t.Fatalf("published list does not hold %s: %v\n%s", src, err, env.Payload)
	}
	s.Close()

	s = open(t, dir)
	defer s.Close()
	if got := s.Agg.Campaigns(time.Time{}); len(got) != 1 || got[0].Source != src {
		t.Fatalf("aggregation state after restart: %+v", got)
	}
	if cs, _ := s.Store.Campaigns(ctx, store.CampaignFilter{Limit: 10}); len(cs) != 1 {
		t.Fatalf("stored campaigns after restart: %+v", cs)
	}
}
