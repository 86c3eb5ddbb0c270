package detect

import (
	"fmt"
	"strings"
)

// Validate reports the first way in which e breaks the event contract
// (DESIGN.md §3.1). Parsers' tests and the plugin host call it on every event.
func (e *Event) Validate() error {
	if e.Timestamp.IsZero() {
		return fmt.Errorf("@timestamp: missing")
	}
	if e.Dataset == "" {
		return fmt.Errorf("event.dataset: missing")
	}
	if err := oneOf("event.category", e.Category, true, CategoryNetwork, CategoryIntrusionDetection,
		CategoryMalware, CategoryEmail, CategoryAuthentication, CategoryWeb); err != nil {
		return err
	}
	if err := oneOf("event.type", e.Type, false, TypeAllowed, TypeDenied, TypeInfo); err != nil {
		return err
	}
	if err := oneOf("event.outcome", e.Outcome, false, OutcomeSuccess, OutcomeFailure); err != nil {
		return err
	}
	if err := oneOf("network.transport", e.Network.Transport, false,
		TransportTCP, TransportUDP, TransportICMP, TransportIPv6ICMP); err != nil {
		return err
	}
	if err := oneOf("network.direction", e.Network.Direction, false,
		DirectionInbound, DirectionOutbound, DirectionInternal, DirectionExternal); err != nil {
		return err
	}
	if t := e.Network.Transport; t == TransportICMP || t == TransportIPv6ICMP {
		if e.Source.Port != 0 || e.Destination.Port != 0 {
			return fmt.Errorf("source.port/destination.port: set for %s", t)
		}
	}
	if e.Severity < 0 {
		return fmt.Errorf("event.severity: negative (%d)", e.Severity)
	}
	if s := e.HTTPStatus; s != 0 && (s < 100 || s > 999) {
		return fmt.Errorf("http.response.status_code: %d out of range", s)
	}
	if strings.ContainsRune(e.URLPath, '?') {
		return fmt.Errorf("url.path: has a query string")
	}
	for _, c := range [...]struct {
		name string
		c    Count
	}{{"source.bytes", e.Source.Bytes}, {"destination.bytes", e.Destination.Bytes},
		{"network.bytes", e.Network.Bytes}, {"network.packets", e.Network.Packets}} {
		if c.c.Valid && c.c.N < 0 {
			return fmt.Errorf("%s: negative (%d)", c.name, c.c.N)
		}
	}
	return nil
}

func oneOf(field, v string, required bool, allowed ...string) error {
	if v == "" {
		if required {
			return fmt.Errorf("%s: missing", field)
		}
		return nil
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("%s: %q is not one of %s", field, v, strings.Join(allowed, ", "))
}
