package rules

import (
	"net/netip"
	"sort"
	"strconv"

	"github.com/cyberalarm/cyberalarm/detect"
)

// kind is the type of an event field as rules see it.
type kind uint8

const (
	kindString kind = iota + 1
	kindInt
	kindAddr // compared as canonical text in expr, as netip.Addr natively
)

func (k kind) String() string {
	switch k {
	case kindString:
		return "string"
	case kindInt:
		return "int"
	case kindAddr:
		return "ip"
	}
	return "?"
}

// field is one event field that rules may read, under its dotted ECS name.
type field struct {
	name string
	id   string // the flat identifier: source_ip
	kind kind
	str  func(*detect.Event) string
	num  func(*detect.Event) int64
	addr func(*detect.Event) netip.Addr
}

// ident is the flat identifier a dotted name becomes for expr's fast path.
func ident(dotted string) string {
	b := []byte(dotted)
	for i, c := range b {
		if c == '.' {
			b[i] = '_'
		}
	}
	return string(b)
}

func strField(name string, f func(*detect.Event) string) field {
	return field{name: name, kind: kindString, str: f}
}

func intField(name string, f func(*detect.Event) int64) field {
	return field{name: name, kind: kindInt, num: f}
}

func addrField(name string, f func(*detect.Event) netip.Addr) field {
	return field{name: name, kind: kindAddr, addr: f}
}

func count(c detect.Count) int64 { return c.N }

// fieldList is every field rules can read. It is built once per call and
// never mutated, so it holds no shared state.
func fieldList() []field {
	return []field{
		strField("event.category", func(e *detect.Event) string { return e.Category }),
		strField("event.type", func(e *detect.Event) string { return e.Type }),
		strField("event.action", func(e *detect.Event) string { return e.Action }),
		strField("event.outcome", func(e *detect.Event) string { return e.Outcome }),
		strField("event.dataset", func(e *detect.Event) string { return e.Dataset }),
		strField("event.code", func(e *detect.Event) string { return e.Code }),
		intField("event.severity", func(e *detect.Event) int64 { return int64(e.Severity) }),
		strField("observer.vendor", func(e *detect.Event) string { return e.Observer.Vendor }),
		strField("observer.product", func(e *detect.Event) string { return e.Observer.Product }),
		strField("observer.hostname", func(e *detect.Event) string { return e.Observer.Hostname }),
		addrField("source.ip", func(e *detect.Event) netip.Addr { return e.Source.IP }),
		intField("source.port", func(e *detect.Event) int64 { return int64(e.Source.Port) }),
		intField("source.bytes", func(e *detect.Event) int64 { return count(e.Source.Bytes) }),
		addrField("source.nat.ip", func(e *detect.Event) netip.Addr { return e.Source.NATIP }),
		addrField("destination.ip", func(e *detect.Event) netip.Addr { return e.Destination.IP }),
		intField("destination.port", func(e *detect.Event) int64 { return int64(e.Destination.Port) }),
		intField("destination.bytes", func(e *detect.Event) int64 { return count(e.Destination.Bytes) }),
		addrField("destination.nat.ip", func(e *detect.Event) netip.Addr { return e.Destination.NATIP }),
		strField("network.transport", func(e *detect.Event) string { return e.Network.Transport }),
		strField("network.protocol", func(e *detect.Event) string { return e.Network.Protocol }),
		strField("network.direction", func(e *detect.Event) string { return e.Network.Direction }),
		intField("network.bytes", func(e *detect.Event) int64 { return count(e.Network.Bytes) }),
		intField("network.packets", func(e *detect.Event) int64 { return count(e.Network.Packets) }),
		strField("rule.name", func(e *detect.Event) string { return e.Rule.Name }),
		strField("rule.id", func(e *detect.Event) string { return e.Rule.ID }),
		strField("rule.category", func(e *detect.Event) string { return e.Rule.Category }),
		strField("user.name", func(e *detect.Event) string { return e.UserName }),
		strField("url.path", func(e *detect.Event) string { return e.URLPath }),
		strField("http.request.method", func(e *detect.Event) string { return e.HTTPMethod }),
		intField("http.response.status_code", func(e *detect.Event) int64 { return int64(e.HTTPStatus) }),
		strField("user_agent.original", func(e *detect.Event) string { return e.UserAgent }),
		strField("threat.feed.name", func(e *detect.Event) string { return e.Indicator }),
	}
}

// fieldTable indexes fields by dotted name and by flat identifier.
type fieldTable struct {
	list    []field
	byName  map[string]int
	byIdent map[string]int
}

func newFieldTable() *fieldTable {
	t := &fieldTable{list: fieldList(), byName: map[string]int{}, byIdent: map[string]int{}}
	for i := range t.list {
		f := &t.list[i]
		f.id = ident(f.name)
		t.byName[f.name] = i
		t.byIdent[f.id] = i
	}
	return t
}

func (t *fieldTable) lookup(name string) (*field, bool) {
	i, ok := t.byName[name]
	if !ok {
		return nil, false
	}
	return &t.list[i], true
}

// FieldNames returns the dotted names of every field rules can read.
func FieldNames() []string {
	var out []string
	for _, f := range fieldList() {
		out = append(out, f.name)
	}
	sort.Strings(out)
	return out
}

// appendValue appends f's value in ev as text, for group keys and sample
// values; absent values append nothing.
func (f *field) appendValue(b []byte, ev *detect.Event) []byte {
	switch f.kind {
	case kindString:
		return append(b, f.str(ev)...)
	case kindInt:
		if n := f.num(ev); n != 0 {
			return strconv.AppendInt(b, n, 10)
		}
		return b
	default:
		if a := f.addr(ev); a.IsValid() {
			return a.AppendTo(b)
		}
		return b
	}
}
