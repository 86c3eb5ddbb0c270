package detect

import (
	"net/netip"

	"github.com/gaissmai/bart"
)

// Verdict is what classification decided for an event.
type Verdict uint8

// Verdicts.
const (
	Keep         Verdict = iota // an external party is involved: go on
	DropInternal                // both ends are the member's own
	DropTrusted                 // the remote party is on the trusted list
)

func (v Verdict) String() string {
	switch v {
	case DropInternal:
		return "internal"
	case DropTrusted:
		return "trusted"
	}
	return "keep"
}

// defaultInternal are the ranges every member treats as internal.
var defaultInternal = [...]string{
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", // RFC 1918
	"127.0.0.0/8", "::1/128", // loopback
	"169.254.0.0/16", "fe80::/10", // link-local
	"fc00::/7", // unique local
}

// DefaultInternalPrefixes returns the ranges every member treats as
// internal: RFC 1918, loopback, link-local and unique local addresses.
func DefaultInternalPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, len(defaultInternal))
	for i, s := range defaultInternal {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// Lists holds what classification and rules consult: the member's internal
// ranges, its trusted sources, indicator lists of known-bad sources, and
// named lists for rules' in_list(). A Lists is read-only once built and is
// safe for concurrent use; updates build a new one.
type Lists struct {
	internal   *bart.Lite // shared, read-only: a Lists may be copied
	Trusted    *List
	Indicators []*List
	Named      map[string]*List
}

// NewLists returns Lists whose internal ranges are the defaults plus extra.
func NewLists(extra []netip.Prefix) *Lists {
	l := &Lists{Named: make(map[string]*List), internal: new(bart.Lite)}
	for _, p := range DefaultInternalPrefixes() {
		l.internal.Insert(p)
	}
	for _, p := range extra {
		l.internal.Insert(p.Masked())
	}
	return l
}

// Internal reports whether a is one of the member's own addresses.
func (l *Lists) Internal(a netip.Addr) bool {
	return a.IsValid() && l.internal.Lookup(a.Unmap())
}

// ClassifyStats counts what Classify decided. It belongs to one goroutine.
type ClassifyStats struct {
	Kept, Internal, Trusted, IndicatorHits int64
}

// Classify sets network.direction from the internal ranges, marks an
// indicator hit on the remote address, and says whether the event goes on.
// Traffic between internal addresses, and traffic whose remote party is
// trusted, is dropped: a trusted source never produces a detection.
func (l *Lists) Classify(ev *Event, st *ClassifyStats) Verdict {
	ev.Network.Direction = Direction(ev.Source.IP, ev.Destination.IP, l.Internal)
	remote := ev.Source.IP
	switch ev.Network.Direction {
	case DirectionInternal:
		st.Internal++
		return DropInternal
	case DirectionOutbound:
		remote = ev.Destination.IP
	}
	if l.Trusted.ContainsAddr(remote) {
		st.Trusted++
		return DropTrusted
	}
	for _, in := range l.Indicators {
		if in.ContainsAddr(remote) {
			ev.Indicator = in.Name
			st.IndicatorHits++
			break
		}
	}
	st.Kept++
	return Keep
}
