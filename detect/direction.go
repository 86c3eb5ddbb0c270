package detect

import "net/netip"

// DefaultInternal reports whether a is in the ranges every member treats as
// internal: RFC 1918, loopback, link-local and IPv6 unique local addresses.
func DefaultInternal(a netip.Addr) bool {
	return a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast()
}

// Direction returns network.direction for a connection from src to dst,
// given which addresses are internal. A missing destination is taken to be
// the device that wrote the log, which is the member's own: an SSH server,
// a mail relay. It returns "" when src is missing too.
func Direction(src, dst netip.Addr, internal func(netip.Addr) bool) string {
	if !src.IsValid() {
		return ""
	}
	si := internal(src)
	di := !dst.IsValid() || internal(dst)
	switch {
	case si && di:
		return DirectionInternal
	case si:
		return DirectionOutbound
	case di:
		return DirectionInbound
	}
	return DirectionExternal
}
