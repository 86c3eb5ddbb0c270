package aggregate

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
)

// Kind says what an observation was made from.
type Kind uint8

// Kinds of observation.
const (
	// KindDetection is a rule match at a member (detect.Detection).
	KindDetection Kind = iota + 1
	// KindSummary is a flow summary: suspicious traffic no rule matched
	// (detect.FlowSummary).
	KindSummary
)

func (k Kind) String() string {
	switch k {
	case KindDetection:
		return "detection"
	case KindSummary:
		return "summary"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Observation is one source seen at one member: the unit the aggregator
// counts. Detections and flow summaries both become observations; a
// campaign detection (many sources at one target) becomes one observation
// per related source.
type Observation struct {
	Member     string
	Source     netip.Addr
	Techniques []string // MITRE ATT&CK ids; none for summaries
	RuleID     string   // none for summaries
	Port       uint16   // destination port; 0 when unknown
	Transport  string
	Count      int64
	First      time.Time
	Last       time.Time
	Kind       Kind
}

func (o *Observation) validate() error {
	switch {
	case o.Member == "":
		return fmt.Errorf("no member")
	case !o.Source.IsValid():
		return fmt.Errorf("no source address")
	case o.Kind != KindDetection && o.Kind != KindSummary:
		return fmt.Errorf("unknown kind %d", o.Kind)
	case o.Count < 1:
		return fmt.Errorf("count %d: must be at least 1", o.Count)
	case o.First.IsZero() || o.Last.IsZero():
		return fmt.Errorf("no first or last seen time")
	case o.Last.Before(o.First):
		return fmt.Errorf("last seen %s is before first seen %s", o.Last.UTC().Format(time.RFC3339Nano), o.First.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// AppendDetection appends the observations a stored detection makes: one
// for its source, and one for each related source of a campaign detection.
// A related source's own count is not known, so it counts once.
func AppendDetection(dst []Observation, d *detect.Detection) []Observation {
	o := Observation{
		Member:     d.MemberID,
		Techniques: d.Techniques,
		RuleID:     d.RuleID,
		Port:       d.DestinationPort,
		Transport:  d.Sample.Network.Transport,
		Count:      d.Count,
		First:      d.FirstSeen,
		Last:       d.LastSeen,
		Kind:       KindDetection,
	}
	return AppendSources(dst, o, d.Source, d.Related)
}

// AppendSources appends the observations of a detection whose other
// fields o holds: o from source, if valid, and o with a count of 1 from
// each related source but source.
func AppendSources(dst []Observation, o Observation, source netip.Addr, related []netip.Addr) []Observation {
	if source.IsValid() {
		o.Source = source
		dst = append(dst, o)
	}
	o.Count = 1
	for _, a := range related {
		if a == source {
			continue
		}
		o.Source = a
		dst = append(dst, o)
	}
	return dst
}

// SummaryObservation is the observation a member's flow summary makes. It
// covers the summary's whole minute.
func SummaryObservation(member string, s *detect.FlowSummary) Observation {
	return Observation{
		Member:    member,
		Source:    s.SourceIP,
		Port:      s.DestinationPort,
		Transport: s.Transport,
		Count:     s.Count,
		First:     s.Minute,
		Last:      s.Minute.Add(time.Minute - time.Nanosecond),
		Kind:      KindSummary,
	}
}
