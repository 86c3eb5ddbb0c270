// Package detect holds CyberAlarm's core types: the normalised Event, the
// Parser interface that turns log records into events, and the pieces that
// the collector and central wire together.
package detect

import (
	"net/netip"
	"time"
)

// Event categories (event.category).
const (
	CategoryNetwork            = "network"
	CategoryIntrusionDetection = "intrusion_detection"
	CategoryMalware            = "malware"
	CategoryEmail              = "email"
	CategoryAuthentication     = "authentication"
	CategoryWeb                = "web"
)

// Event types (event.type).
const (
	TypeAllowed = "allowed"
	TypeDenied  = "denied"
	TypeInfo    = "info"
)

// Event outcomes (event.outcome), for authentication.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// Transports (network.transport).
const (
	TransportTCP      = "tcp"
	TransportUDP      = "udp"
	TransportICMP     = "icmp"
	TransportIPv6ICMP = "ipv6-icmp"
)

// Directions (network.direction).
const (
	DirectionInbound  = "inbound"
	DirectionOutbound = "outbound"
	DirectionInternal = "internal"
	DirectionExternal = "external"
)

// Event is one normalised log record: metadata and header fields only, never
// payloads or message content. Its JSON form (AppendJSON) is nested ECS, as
// in DESIGN.md §3.1. A zero field is absent and is left out of the JSON,
// except counters, which carry their own validity.
//
// Events are reused: a parser fills the one it is given, and Reset clears it.
// Strings in an Event never alias a parser's input buffer.
type Event struct {
	Timestamp time.Time

	Category string // event.category
	Type     string // event.type
	Action   string // event.action: the vendor's verdict word, as written
	Outcome  string // event.outcome
	Dataset  string // event.dataset: the parser's name
	Code     string // event.code: the vendor's message or event id
	Severity int    // event.severity: the vendor's numeric severity; 0 is absent

	Observer Observer

	Source      Endpoint
	Destination Endpoint

	Network Network

	Rule Rule

	UserName   string // user.name
	URLPath    string // url.path: no query string, not percent-decoded
	HTTPMethod string // http.request.method
	HTTPStatus int    // http.response.status_code; 0 is absent
	UserAgent  string // user_agent.original

	// Indicator is threat.feed.name: the indicator list (known-bad
	// sources) that the event's remote address is on. Set by Lists.
	Indicator string
}

// Observer is the device that wrote the log.
type Observer struct {
	Vendor   string
	Product  string
	Hostname string
}

// Endpoint is one side of a connection.
type Endpoint struct {
	IP    netip.Addr
	Port  uint16 // 0 is absent
	Bytes Count
	NATIP netip.Addr // source.nat.ip / destination.nat.ip
}

// Network describes the connection.
type Network struct {
	Transport string // network.transport
	Protocol  string // network.protocol: the application protocol, lower case
	Direction string // network.direction
	Bytes     Count  // network.bytes: both directions, where only a total is known
	Packets   Count  // network.packets
}

// Rule is the policy, signature, virus name or DNSBL zone that the device
// matched.
type Rule struct {
	Name     string
	ID       string
	Category string // rule.category: e.g. the IDS classtype
}

// Count is a counter that a device may or may not report; zero is a valid
// count, so presence is explicit.
type Count struct {
	N     int64
	Valid bool
}

// SetCount returns a valid Count of n.
func SetCount(n int64) Count { return Count{N: n, Valid: true} }

// Reset clears e for reuse.
func (e *Event) Reset() { *e = Event{} }
