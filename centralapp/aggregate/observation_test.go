package aggregate

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cyberalarm/cyberalarm/detect"
)

func TestAppendDetection(t *testing.T) {
	a, b := netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("203.0.113.2")
	one := detect.Detection{RuleID: "scan.horizontal", Techniques: []string{"T1046"}, Source: a, DestinationPort: 445,
		Count: 10, FirstSeen: at(0), LastSeen: at(2), MemberID: "m1"}
	one.Sample.Network.Transport = "tcp"
	many := detect.Detection{RuleID: "campaign.telnet", Techniques: []string{"T1110"}, DestinationPort: 23,
		Related: []netip.Addr{a, b}, DistinctSources: 2, Count: 40, FirstSeen: at(0), LastSeen: at(5), MemberID: "m2"}
	got := AppendDetection(nil, &one)
	got = AppendDetection(got, &many)
	want := []Observation{
		{Member: "m1", Source: a, Techniques: []string{"T1046"}, RuleID: "scan.horizontal", Port: 445, Transport: "tcp", Count: 10, First: at(0), Last: at(2), Kind: KindDetection},
		{Member: "m2", Source: a, Techniques: []string{"T1110"}, RuleID: "campaign.telnet", Port: 23, Count: 1, First: at(0), Last: at(5), Kind: KindDetection},
		{Member: "m2", Source: b, Techniques: []string{"T1110"}, RuleID: "campaign.telnet", Port: 23, Count: 1, First: at(0), Last: at(5), Kind: KindDetection},
	}
	if diff := cmp.Diff(want, got, cmpAddr); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	s := detect.FlowSummary{Minute: at(3), SourceIP: b, DestinationPort: 22, Transport: "tcp", EventType: "denied", Count: 7}
	o := SummaryObservation("m3", &s)
	if o.Kind != KindSummary || o.Member != "m3" || o.Source != b || o.Count != 7 || !o.First.Equal(at(3)) || o.Last.Sub(o.First) != time.Minute-time.Nanosecond {
		t.Errorf("summary observation %+v", o)
	}
	if err := o.validate(); err != nil {
		t.Error(err)
	}
	if KindDetection.String() != "detection" || Kind(9).String() != "Kind(9)" || DimSource.String() != "source" {
		t.Error("names")
	}
}

func TestGroup(t *testing.T) {
	c := Config{Relations: map[string]string{"T1110": "creds", "T1190": "initial"}}
	for in, want := range map[string]string{
		"T1110": "creds", "T1110.001": "creds", "T1046": "T1046", "T1595.002": "T1595", "spam": "spam", "T.1": "T.1", "T1190": "initial",
	} {
		if got := c.group(in); got != want {
			t.Errorf("group(%q) = %q, want %q", in, got, want)
		}
	}
}
