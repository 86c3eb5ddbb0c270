package store

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
)

var (
	// techniqueRE admits ATT&CK ids (T1046, T1110.001) and the pack's
	// own words such as "spam".
	techniqueRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)
	memberRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
)

// ValidMemberID reports whether id is a member slug.
func ValidMemberID(id string) bool { return memberRE.MatchString(id) }

// DecodeDetection decodes one §3.2 detection object strictly: unknown
// fields are refused except inside detection.sample (the sample event),
// required fields (rule.id, rule.name, event.severity 1-100,
// detection.count ≥ 1, detection.first_seen and last_seen with last ≥ first,
// detection.sample as an object) must be there, and addresses must parse.
// Keys match as encoding/json matches them, but a key repeated within
// one object outside the sample is refused (see scanner). Raw is raw
// itself, not a copy. The returned error names the field.
func DecodeDetection(raw []byte) (Detection, error) {
	var w wireFields
	if err := decodeWire(raw, &w); err != nil {
		return Detection{}, err
	}
	d := Detection{Raw: raw, RuleID: w.ruleID, RuleName: w.ruleName}
	if d.RuleID == "" {
		return Detection{}, errors.New("detection: rule.id: missing")
	}
	if d.RuleName == "" {
		return Detection{}, errors.New("detection: rule.name: missing")
	}
	if !w.hasSeverity {
		return Detection{}, errors.New("detection: event.severity: missing")
	}
	if s := w.severity; s < 1 || s > 100 {
		return Detection{}, fmt.Errorf("detection: event.severity: %d is not in 1-100", s)
	}
	d.Severity = w.severity
	if w.kind != "" && w.kind != "alert" {
		return Detection{}, fmt.Errorf("detection: event.kind: %q, want \"alert\"", w.kind)
	}
	if w.threat {
		for _, t := range w.techniques {
			if !techniqueRE.MatchString(t) {
				return Detection{}, fmt.Errorf("detection: threat.technique.id: %q is not a technique id", t)
			}
		}
		d.Techniques = w.techniques
	}
	var err error
	if w.source {
		if d.Source, err = parseAddr("source.ip", w.sourceIP); err != nil {
			return Detection{}, err
		}
	}
	if w.destination {
		if w.destinationIP != "" {
			if d.Destination, err = parseAddr("destination.ip", w.destinationIP); err != nil {
				return Detection{}, err
			}
		}
		if w.hasPort {
			if w.port == 0 {
				return Detection{}, errors.New("detection: destination.port: zero")
			}
			d.DestinationPort = w.port
		}
	}
	if w.related {
		if len(w.relatedIP) > detect.MaxRelated {
			return Detection{}, fmt.Errorf("detection: related.ip: %d addresses, at most %d", len(w.relatedIP), detect.MaxRelated)
		}
		d.Related = make([]netip.Addr, len(w.relatedIP))
		for i, s := range w.relatedIP {
			if d.Related[i], err = parseAddr("related.ip", s); err != nil {
				return Detection{}, err
			}
		}
	}
	switch {
	case !w.hasCount:
		return Detection{}, errors.New("detection: detection.count: missing")
	case w.count < 1:
		return Detection{}, fmt.Errorf("detection: detection.count: %d is below 1", w.count)
	case !w.hasFirstSeen:
		return Detection{}, errors.New("detection: detection.first_seen: missing")
	case !w.hasLastSeen:
		return Detection{}, errors.New("detection: detection.last_seen: missing")
	case !w.sampleIsObject:
		return Detection{}, errors.New("detection: detection.sample: missing or not an object")
	}
	d.Count = w.count
	if d.FirstSeen, err = parseTime("detection.first_seen", w.firstSeen); err != nil {
		return Detection{}, err
	}
	if d.LastSeen, err = parseTime("detection.last_seen", w.lastSeen); err != nil {
		return Detection{}, err
	}
	if d.LastSeen.Before(d.FirstSeen) {
		return Detection{}, errors.New("detection: detection.last_seen: before first_seen")
	}
	if w.hasDistinct {
		if w.distinct < 0 {
			return Detection{}, errors.New("detection: detection.distinct_sources: negative")
		}
		d.DistinctSources = w.distinct
	}
	if w.member {
		if !memberRE.MatchString(w.memberID) {
			return Detection{}, fmt.Errorf("detection: member.id: %q is not a member id", w.memberID)
		}
		d.MemberID = w.memberID
	}
	return d, nil
}

func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("detection: %s: %q is not an RFC 3339 time", field, s)
	}
	return t.UTC(), nil
}

func parseAddr(field, s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("detection: %s: %w", field, err)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("detection: %s: %q has a zone", field, s)
	}
	return a.Unmap(), nil
}
