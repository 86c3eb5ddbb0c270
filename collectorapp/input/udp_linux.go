package input

import (
	"encoding/binary"
	"net"
	"syscall"
)

// oobSize holds one SO_RXQ_OVFL control message.
var oobSize = syscall.CmsgSpace(4)

// tuneUDP asks for a receive buffer of size bytes (SO_RCVBUFFORCE, which
// passes net.core.rmem_max with CAP_NET_ADMIN, else SO_RCVBUF) and turns on
// SO_RXQ_OVFL, with which the kernel reports its drop count for the socket.
// It returns the buffer size the kernel reports.
func tuneUDP(c *net.UDPConn, size int) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var granted int
	var serr error
	err = raw.Control(func(fd uintptr) {
		if syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, size) != nil {
			if serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, size); serr != nil {
				return
			}
		}
		if serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RXQ_OVFL, 1); serr != nil {
			return
		}
		granted, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	})
	if err == nil {
		err = serr
	}
	return granted, err
}

// kernelDrops returns the socket's drop count from a datagram's control
// messages. The kernel attaches it once it is non-zero.
func kernelDrops(oob []byte) (uint32, bool) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, false
	}
	for _, m := range msgs {
		if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SO_RXQ_OVFL && len(m.Data) >= 4 {
			return binary.NativeEndian.Uint32(m.Data), true
		}
	}
	return 0, false
}
