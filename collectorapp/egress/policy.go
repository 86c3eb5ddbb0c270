package egress

import (
	"net/netip"

	"github.com/cyberalarm/cyberalarm/detect"
)

// Policy decides what of a detection leaves the site. Its zero value is the
// strictest: addresses in clear, and no user names, URL paths or user
// agents. A Policy is read-only once in use and is safe for concurrent use.
type Policy struct {
	// Pseudonyms, when set, replaces every internal address that leaves
	// (source, destination, NAT and related addresses, in detections and
	// flow summaries) with its keyed pseudonym.
	Pseudonyms *Pseudonymiser
	// Internal reports whether an address is the member's own; nil means
	// detect.DefaultInternal. Pass the member's detect.Lists.Internal.
	Internal func(netip.Addr) bool

	SendUserNames  bool // user.name of the sample event
	SendURLPaths   bool // url.path of the sample event
	SendUserAgents bool // user_agent.original of the sample event
}

// pseudonymise reports whether a leaves as a pseudonym.
func (p *Policy) pseudonymise(a netip.Addr) bool {
	if p.Pseudonyms == nil || !a.IsValid() {
		return false
	}
	if p.Internal == nil {
		return detect.DefaultInternal(a)
	}
	return p.Internal(a)
}

// AppendAddress appends a as it leaves the site, without quotes: its
// pseudonym when the policy pseudonymises it, or its canonical text. An
// IPv6 zone, a local interface name, never leaves.
func (p *Policy) AppendAddress(b []byte, a netip.Addr) []byte {
	if p.pseudonymise(a) {
		return p.Pseudonyms.AppendPseudonym(b, a)
	}
	return a.WithZone("").AppendTo(b)
}

// Address returns a as it leaves the site, or "" for the zero Addr. It is
// what flow summaries carry in FlowSummary.Destination.
func (p *Policy) Address(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	var buf [PseudonymLen + 8]byte // longer than any pseudonym; IPv6 text may grow it
	return string(p.AppendAddress(buf[:0], a))
}

// AppendDetection appends d as it leaves the site: the object that
// detect.Detection.AppendJSON writes (the fields of DESIGN.md §3.2, in the
// same order), with the policy applied to its addresses and its sample
// event reduced to the metadata allowlist (see AppendSample). With every
// Send option on and no pseudonyms, the two are byte for byte the same. It
// does not allocate when b has room.
func (p *Policy) AppendDetection(b []byte, d *detect.Detection) []byte {
	return d.AppendJSONWith(b, p)
}

var _ detect.EventEncoder = (*Policy)(nil)

// AppendSample appends the allowlisted metadata of e as nested ECS JSON,
// with the names and order of detect.Event.AppendJSON (DESIGN.md §3.1).
// Only these fields leave:
//
//   - @timestamp;
//   - event.category, type, action, outcome, dataset, code, severity;
//   - observer.vendor, product, hostname;
//   - source and destination: ip, port, bytes, nat.ip (addresses under the
//     policy);
//   - network.transport, protocol, direction, bytes, packets;
//   - rule.name, id, category;
//   - user.name, only with SendUserNames;
//   - url.path, only with SendURLPaths;
//   - http.request.method and http.response.status_code;
//   - user_agent.original, only with SendUserAgents;
//   - threat.feed.name.
//
// It is detect.Event's own writer, with Keep holding back the personal
// fields and AppendAddress writing pseudonyms. TestPrivacyCorpus checks
// every path that leaves against this list, so a field detect.Event gains
// later fails it until it is judged and listed.
func (p *Policy) AppendSample(b []byte, e *detect.Event) []byte {
	return e.AppendJSONWith(b, p)
}

// Keep implements detect.EventEncoder: the personal fields leave only when
// the policy sends them.
func (p *Policy) Keep(f detect.PersonalField) bool {
	switch f {
	case detect.FieldUserName:
		return p.SendUserNames
	case detect.FieldURLPath:
		return p.SendURLPaths
	case detect.FieldUserAgent:
		return p.SendUserAgents
	}
	return false
}
