//go:build !linux

package input

import "net"

// oobSize is zero: only Linux reports its drops (SO_RXQ_OVFL).
const oobSize = 0

// tuneUDP asks for a receive buffer of size bytes. The size granted is not
// known here, so it returns 0.
func tuneUDP(c *net.UDPConn, size int) (int, error) {
	return 0, c.SetReadBuffer(size)
}

// kernelDrops reports nothing: only Linux reports its drops.
func kernelDrops([]byte) (uint32, bool) { return 0, false }
