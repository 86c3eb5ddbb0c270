// Package lex holds the small, allocation-free scanning tools that parsers
// share: numbers, addresses, key=value pairs, CSV fields and an interning
// cache for the strings an Event keeps. Vendors writing plugin parsers can
// use them too.
package lex

import (
	"bytes"
	"net/netip"
	"unsafe"
)

// String returns b as a string without copying. The result must not outlive
// b's contents: use it only for lookups and calls that do not keep it.
func String(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// Uint parses a non-negative decimal integer of up to 18 digits.
func Uint(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// Int parses a decimal integer with an optional sign.
func Int(b []byte) (int64, bool) {
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		n, ok := Uint(b[1:])
		if b[0] == '-' {
			n = -n
		}
		return n, ok
	}
	return Uint(b)
}

// Port parses a port number from 1 to 65535.
func Port(b []byte) (uint16, bool) {
	n, ok := Uint(b)
	if !ok || n < 1 || n > 65535 {
		return 0, false
	}
	return uint16(n), true
}

// Addr parses an IPv4 or IPv6 address, with IPv4-mapped IPv6 addresses
// unmapped so that one host has one canonical form. Brackets around an IPv6
// address are accepted.
func Addr(b []byte) (netip.Addr, bool) {
	if len(b) > 2 && b[0] == '[' && b[len(b)-1] == ']' {
		b = b[1 : len(b)-1]
	}
	if len(b) < 2 || len(b) > 64 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(String(b))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// EqualFold reports whether b equals the ASCII string s without regard to
// case.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c, d := b[i], s[i]
		if c == d {
			continue
		}
		if c|0x20 != d|0x20 || c|0x20 < 'a' || c|0x20 > 'z' {
			return false
		}
	}
	return true
}

// HasPrefixFold reports whether b starts with the ASCII string s without
// regard to case.
func HasPrefixFold(b []byte, s string) bool {
	return len(b) >= len(s) && EqualFold(b[:len(s)], s)
}

// Trim removes spaces and tabs from both ends of b.
func Trim(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// Unquote removes one pair of surrounding double quotes.
func Unquote(b []byte) []byte {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		return b[1 : len(b)-1]
	}
	return b
}

// Cut slices b around the first sep.
func Cut(b []byte, sep byte) (before, after []byte, found bool) {
	if i := bytes.IndexByte(b, sep); i >= 0 {
		return b[:i], b[i+1:], true
	}
	return b, nil, false
}

// Path returns the path of a request target: without the query string or
// fragment, and without scheme and authority when the target is absolute.
func Path(b []byte) []byte {
	if i := bytes.Index(b, []byte("://")); i > 0 && i < 10 {
		rest := b[i+3:]
		if j := bytes.IndexByte(rest, '/'); j >= 0 {
			b = rest[j:]
		} else {
			return nil
		}
	}
	if i := bytes.IndexAny(b, "?#"); i >= 0 {
		b = b[:i]
	}
	return b
}
