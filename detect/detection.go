package detect

import (
	"net/netip"
	"strconv"
	"time"
)

// Detection is what a rule reports: a match, or a threshold crossed by a
// group of events, with counts and one sample event (DESIGN.md §3.2).
type Detection struct {
	RuleID     string
	RuleName   string
	Severity   int      // event.severity, 1-100
	Techniques []string // threat.technique.id: MITRE ATT&CK ids, or "spam"
	Tags       []string // rule tags

	// Source is set when the detection is about one source.
	Source netip.Addr
	// Destination and DestinationPort are set when the detection is about
	// one target (a campaign).
	Destination     netip.Addr
	DestinationPort uint16
	// Related lists the sources of a campaign, at most MaxRelated of them.
	Related []netip.Addr
	// DistinctSources is the number of distinct sources of a campaign; it
	// may exceed len(Related).
	DistinctSources int

	Count     int64
	FirstSeen time.Time
	LastSeen  time.Time

	MemberID string
	Sample   Event
}

// MaxRelated caps Detection.Related.
const MaxRelated = 256

// AppendJSON appends d as one nested JSON object with the field names of
// DESIGN.md §3.2.
func (d *Detection) AppendJSON(b []byte) []byte { return d.AppendJSONWith(b, nil) }

// AppendJSONWith is AppendJSON with enc writing the addresses and the
// sample event (see Event.AppendJSONWith); a nil enc writes them as they are.
func (d *Detection) AppendJSONWith(b []byte, enc EventEncoder) []byte {
	w := jsonWriter{enc: enc}
	b = append(b, `{"rule":{"id":`...)
	b = AppendJSONString(b, d.RuleID)
	b = append(b, `,"name":`...)
	b = AppendJSONString(b, d.RuleName)
	b = append(b, `},"event":{"severity":`...)
	b = strconv.AppendInt(b, int64(d.Severity), 10)
	b = append(b, `,"kind":"alert"}`...)
	if len(d.Techniques) > 0 {
		b = append(b, `,"threat":{"technique":{"id":`...)
		b = appendStrings(b, d.Techniques)
		b = append(b, `}}`...)
	}
	if len(d.Tags) > 0 {
		b = append(b, `,"tags":`...)
		b = appendStrings(b, d.Tags)
	}
	if d.Source.IsValid() {
		b = append(b, `,"source":{"ip":`...)
		b = w.appendAddress(b, d.Source)
		b = append(b, '}')
	}
	if d.Destination.IsValid() || d.DestinationPort != 0 {
		b = append(b, `,"destination":{`...)
		if d.Destination.IsValid() {
			b = append(b, `"ip":`...)
			b = w.appendAddress(b, d.Destination)
			if d.DestinationPort != 0 {
				b = append(b, ',')
			}
		}
		if d.DestinationPort != 0 {
			b = append(b, `"port":`...)
			b = strconv.AppendUint(b, uint64(d.DestinationPort), 10)
		}
		b = append(b, '}')
	}
	if len(d.Related) > 0 {
		b = append(b, `,"related":{"ip":[`...)
		for i, a := range d.Related {
			if i > 0 {
				b = append(b, ',')
			}
			b = w.appendAddress(b, a)
		}
		b = append(b, `]}`...)
	}
	b = append(b, `,"detection":{"count":`...)
	b = strconv.AppendInt(b, d.Count, 10)
	b = append(b, `,"first_seen":"`...)
	b = AppendTimestamp(b, d.FirstSeen)
	b = append(b, `","last_seen":"`...)
	b = AppendTimestamp(b, d.LastSeen)
	b = append(b, '"')
	if d.DistinctSources > 0 {
		b = append(b, `,"distinct_sources":`...)
		b = strconv.AppendInt(b, int64(d.DistinctSources), 10)
	}
	b = append(b, `,"sample":`...)
	b = d.Sample.AppendJSONWith(b, enc)
	b = append(b, '}')
	if d.MemberID != "" {
		b = append(b, `,"member":{"id":`...)
		b = AppendJSONString(b, d.MemberID)
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONString(b, s)
	}
	return append(b, ']')
}
