package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
)

// wireDetection is the §3.2 detection object. Sample stays raw: it is the
// collector's sample event, whose fields central does not interpret.
type wireDetection struct {
	Rule struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"rule"`
	Event struct {
		Severity *int   `json:"severity"`
		Kind     string `json:"kind"`
	} `json:"event"`
	Threat *struct {
		Technique struct {
			ID []string `json:"id"`
		} `json:"technique"`
	} `json:"threat"`
	Tags   []string `json:"tags"`
	Source *struct {
		IP string `json:"ip"`
	} `json:"source"`
	Destination *struct {
		IP   string  `json:"ip"`
		Port *uint16 `json:"port"`
	} `json:"destination"`
	Related *struct {
		IP []string `json:"ip"`
	} `json:"related"`
	Detection struct {
		Count           *int64          `json:"count"`
		FirstSeen       *string         `json:"first_seen"`
		LastSeen        *string         `json:"last_seen"`
		DistinctSources *int            `json:"distinct_sources"`
		Sample          json.RawMessage `json:"sample"`
	} `json:"detection"`
	Member *struct {
		ID string `json:"id"`
	} `json:"member"`
}

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
// Raw is raw itself, not a copy. The returned error names the field.
func DecodeDetection(raw []byte) (Detection, error) {
	var w wireDetection
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Detection{}, fmt.Errorf("detection: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Detection{}, errors.New("detection: data after the JSON object")
	}
	d := Detection{Raw: raw, RuleID: w.Rule.ID, RuleName: w.Rule.Name}
	if d.RuleID == "" {
		return Detection{}, errors.New("detection: rule.id: missing")
	}
	if d.RuleName == "" {
		return Detection{}, errors.New("detection: rule.name: missing")
	}
	if w.Event.Severity == nil {
		return Detection{}, errors.New("detection: event.severity: missing")
	}
	if s := *w.Event.Severity; s < 1 || s > 100 {
		return Detection{}, fmt.Errorf("detection: event.severity: %d is not in 1-100", s)
	}
	d.Severity = *w.Event.Severity
	if w.Event.Kind != "" && w.Event.Kind != "alert" {
		return Detection{}, fmt.Errorf("detection: event.kind: %q, want \"alert\"", w.Event.Kind)
	}
	if w.Threat != nil {
		for _, t := range w.Threat.Technique.ID {
			if !techniqueRE.MatchString(t) {
				return Detection{}, fmt.Errorf("detection: threat.technique.id: %q is not a technique id", t)
			}
		}
		d.Techniques = w.Threat.Technique.ID
	}
	var err error
	if w.Source != nil {
		if d.Source, err = parseAddr("source.ip", w.Source.IP); err != nil {
			return Detection{}, err
		}
	}
	if w.Destination != nil {
		if w.Destination.IP != "" {
			if d.Destination, err = parseAddr("destination.ip", w.Destination.IP); err != nil {
				return Detection{}, err
			}
		}
		if w.Destination.Port != nil {
			if *w.Destination.Port == 0 {
				return Detection{}, errors.New("detection: destination.port: zero")
			}
			d.DestinationPort = *w.Destination.Port
		}
	}
	if w.Related != nil {
		if len(w.Related.IP) > detect.MaxRelated {
			return Detection{}, fmt.Errorf("detection: related.ip: %d addresses, at most %d", len(w.Related.IP), detect.MaxRelated)
		}
		d.Related = make([]netip.Addr, len(w.Related.IP))
		for i, s := range w.Related.IP {
			if d.Related[i], err = parseAddr("related.ip", s); err != nil {
				return Detection{}, err
			}
		}
	}
	dw := &w.Detection
	switch {
	case dw.Count == nil:
		return Detection{}, errors.New("detection: detection.count: missing")
	case *dw.Count < 1:
		return Detection{}, fmt.Errorf("detection: detection.count: %d is below 1", *dw.Count)
	case dw.FirstSeen == nil:
		return Detection{}, errors.New("detection: detection.first_seen: missing")
	case dw.LastSeen == nil:
		return Detection{}, errors.New("detection: detection.last_seen: missing")
	case len(dw.Sample) == 0 || dw.Sample[0] != '{':
		return Detection{}, errors.New("detection: detection.sample: missing or not an object")
	}
	d.Count = *dw.Count
	if d.FirstSeen, err = parseTime("detection.first_seen", *dw.FirstSeen); err != nil {
		return Detection{}, err
	}
	if d.LastSeen, err = parseTime("detection.last_seen", *dw.LastSeen); err != nil {
		return Detection{}, err
	}
	if d.LastSeen.Before(d.FirstSeen) {
		return Detection{}, errors.New("detection: detection.last_seen: before first_seen")
	}
	if dw.DistinctSources != nil {
		if *dw.DistinctSources < 0 {
			return Detection{}, errors.New("detection: detection.distinct_sources: negative")
		}
		d.DistinctSources = *dw.DistinctSources
	}
	if w.Member != nil {
		if !memberRE.MatchString(w.Member.ID) {
			return Detection{}, fmt.Errorf("detection: member.id: %q is not a member id", w.Member.ID)
		}
		d.MemberID = w.Member.ID
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
