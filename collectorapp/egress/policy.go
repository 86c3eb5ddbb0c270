package egress

import (
	"net/netip"
	"strconv"

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

func (p *Policy) appendQuotedAddress(b []byte, a netip.Addr) []byte {
	b = append(b, '"')
	b = p.AppendAddress(b, a)
	return append(b, '"')
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

var _ detect.DetectionEncoder = (*Policy)(nil)

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
// A field that detect.Event gains later stays behind until it is added
// here: the list is an allowlist, not a denylist.
func (p *Policy) AppendSample(b []byte, e *detect.Event) []byte {
	w := jsonWriter{b: b, p: p}
	w.b = append(w.b, '{')
	if !e.Timestamp.IsZero() {
		w.key("@timestamp")
		w.b = append(w.b, '"')
		w.b = detect.AppendTimestamp(w.b, e.Timestamp)
		w.b = append(w.b, '"')
	}

	w.open("event")
	w.str("category", e.Category)
	w.str("type", e.Type)
	w.str("action", e.Action)
	w.str("outcome", e.Outcome)
	w.str("dataset", e.Dataset)
	w.str("code", e.Code)
	w.int("severity", int64(e.Severity))
	w.close()

	w.open("observer")
	w.str("vendor", e.Observer.Vendor)
	w.str("product", e.Observer.Product)
	w.str("hostname", e.Observer.Hostname)
	w.close()

	w.endpoint("source", &e.Source)
	w.endpoint("destination", &e.Destination)

	w.open("network")
	w.str("transport", e.Network.Transport)
	w.str("protocol", e.Network.Protocol)
	w.str("direction", e.Network.Direction)
	w.count("bytes", e.Network.Bytes)
	w.count("packets", e.Network.Packets)
	w.close()

	w.open("rule")
	w.str("name", e.Rule.Name)
	w.str("id", e.Rule.ID)
	w.str("category", e.Rule.Category)
	w.close()

	if p.SendUserNames {
		w.open("user")
		w.str("name", e.UserName)
		w.close()
	}

	if p.SendURLPaths {
		w.open("url")
		w.str("path", e.URLPath)
		w.close()
	}

	if e.HTTPMethod != "" || e.HTTPStatus != 0 {
		w.open("http")
		if e.HTTPMethod != "" {
			w.open("request")
			w.str("method", e.HTTPMethod)
			w.close()
		}
		if e.HTTPStatus != 0 {
			w.open("response")
			w.int("status_code", int64(e.HTTPStatus))
			w.close()
		}
		w.close()
	}

	if p.SendUserAgents {
		w.open("user_agent")
		w.str("original", e.UserAgent)
		w.close()
	}

	if e.Indicator != "" {
		w.open("threat")
		w.open("feed")
		w.str("name", e.Indicator)
		w.close()
		w.close()
	}

	w.b = append(w.b, '}')
	return w.b
}

// jsonWriter writes nested objects, opening each only when its first member
// arrives so that empty objects never appear.
type jsonWriter struct {
	b []byte
	p *Policy
	// names is a stack of n objects; the first opened of them are written.
	names  [4]string
	n      int
	opened int
}

func (w *jsonWriter) open(name string) {
	w.names[w.n] = name
	w.n++
}

func (w *jsonWriter) close() {
	if w.opened == w.n {
		w.b = append(w.b, '}')
		w.opened--
	}
	w.n--
}

// key writes a member name, first opening any pending objects.
func (w *jsonWriter) key(k string) {
	for w.opened < w.n {
		w.sep()
		w.b = append(w.b, '"')
		w.b = append(w.b, w.names[w.opened]...)
		w.b = append(w.b, '"', ':', '{')
		w.opened++
	}
	w.sep()
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

// sep writes a comma unless the member is the first of its object.
func (w *jsonWriter) sep() {
	if w.b[len(w.b)-1] != '{' {
		w.b = append(w.b, ',')
	}
}

func (w *jsonWriter) str(k, v string) {
	if v == "" {
		return
	}
	w.key(k)
	w.b = detect.AppendJSONString(w.b, v)
}

func (w *jsonWriter) int(k string, v int64) {
	if v == 0 {
		return
	}
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *jsonWriter) count(k string, c detect.Count) {
	if !c.Valid {
		return
	}
	w.key(k)
	w.b = strconv.AppendInt(w.b, c.N, 10)
}

func (w *jsonWriter) ip(k string, a netip.Addr) {
	if !a.IsValid() {
		return
	}
	w.key(k)
	w.b = w.p.appendQuotedAddress(w.b, a)
}

func (w *jsonWriter) endpoint(name string, e *detect.Endpoint) {
	w.open(name)
	w.ip("ip", e.IP)
	w.int("port", int64(e.Port))
	w.count("bytes", e.Bytes)
	if e.NATIP.IsValid() {
		w.open("nat")
		w.ip("ip", e.NATIP)
		w.close()
	}
	w.close()
}
