package input

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultReadBuffer is the default size asked of the kernel for a UDP
// socket's receive buffer. Linux charges about 830 bytes a small datagram
// against twice this, so it holds about 80k of them: 1.6s at 50k a second,
// to ride out the reader being descheduled on a busy small box (with 8 MiB,
// a loaded 2-core machine lost a fraction of a percent at 50k a second).
// Memory is used only while datagrams wait.
const DefaultReadBuffer = 32 << 20

// UDP hands off batches to its delivering goroutine through a queue of this
// many batches; datagrams that arrive while it is full are dropped, and
// counted.
const udpQueue = 16

// udpFlushAfter is the longest a datagram waits in a partial batch.
const udpFlushAfter = 20 * time.Millisecond

// UDPConfig configures syslog over UDP: one datagram is one message
// (RFC 5426). A trailing newline, carriage return or NUL is dropped.
type UDPConfig struct {
	Common `yaml:",inline"`
	// Listen is the address to listen on, host:port.
	Listen string `yaml:"listen"`
	// ReadBuffer is the socket receive buffer asked of the kernel, in bytes
	// (default 32 MiB). Linux grants more than net.core.rmem_max only to a
	// process with CAP_NET_ADMIN; ReadBuffer() reports what was granted.
	ReadBuffer int `yaml:"read_buffer"`
}

// Validate checks the config. Its errors are SettingErrors, joined.
func (c *UDPConfig) Validate() error {
	errs := c.validate()
	if err := validateListen(c.Listen); err != nil {
		errs = append(errs, err)
	}
	if c.ReadBuffer < 0 || c.ReadBuffer > 1<<30 {
		errs = append(errs, settingErr("read_buffer", "%d is outside 0 to 1 GiB (0 means %d)", c.ReadBuffer, DefaultReadBuffer))
	}
	return errors.Join(errs...)
}

// UDP is a syslog input over UDP.
type UDP struct {
	cfg   UDPConfig
	log   *slog.Logger
	pool  *batchPool
	lim   *limiter
	stats Stats
	lc    lifecycle

	mu      sync.Mutex
	conn    *net.UDPConn
	stopped atomic.Bool
	rcvbuf  int
}

var _ Input = (*UDP)(nil)

// NewUDP returns a UDP input; log may be nil.
func NewUDP(cfg UDPConfig, log *slog.Logger) (*UDP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.resolve(); err != nil {
		return nil, err
	}
	if cfg.ReadBuffer == 0 {
		cfg.ReadBuffer = DefaultReadBuffer
	}
	u := &UDP{cfg: cfg, log: orDiscard(log).With("input", cfg.Name), pool: newBatchPool(&cfg.Common), lim: cfg.limiter()}
	u.lc.init()
	return u, nil
}

// Name returns the input's name.
func (u *UDP) Name() string { return u.cfg.Name }

// Stats returns the input's counters.
func (u *UDP) Stats() *Stats { return &u.stats }

// Done is closed when the input has stopped.
func (u *UDP) Done() <-chan struct{} { return u.lc.done }

// Addr returns the address listened on, after Start.
func (u *UDP) Addr() net.Addr {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.conn == nil {
		return nil
	}
	return u.conn.LocalAddr()
}

// ReadBuffer returns the receive buffer the kernel granted, after Start (on
// Linux, as getsockopt reports it: twice the usable size).
func (u *UDP) ReadBuffer() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.rcvbuf
}

// Start binds the socket and reads datagrams until Close or ctx's end.
func (u *UDP) Start(ctx context.Context, sink Sink) error {
	if err := u.lc.begin(); err != nil {
		return err
	}
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", u.cfg.Listen)
	if err != nil {
		u.lc.finish()
		return &SettingError{Setting: "listen", Err: err}
	}
	conn := pc.(*net.UDPConn)
	rcvbuf, err := tuneUDP(conn, u.cfg.ReadBuffer)
	if err != nil {
		u.log.Warn("could not tune the UDP socket", "err", err)
	}
	if rcvbuf > 0 && rcvbuf < u.cfg.ReadBuffer {
		u.log.Warn("the kernel granted a smaller UDP receive buffer than read_buffer; raise net.core.rmem_max or grant CAP_NET_ADMIN",
			"read_buffer", u.cfg.ReadBuffer, "granted", rcvbuf)
	}
	u.mu.Lock()
	u.conn, u.rcvbuf = conn, rcvbuf
	u.mu.Unlock()

	queue := make(chan *Batch, udpQueue)
	u.lc.wg.Add(2)
	go u.read(conn, queue)
	go func() {
		defer u.lc.wg.Done()
		for b := range queue {
			deliver(ctx, sink, b, &u.stats) //nolint:errcheck // counted as undelivered; the queue is drained regardless
		}
	}()
	u.lc.run(ctx, u.stop)
	return nil
}

// Close stops reading, delivers the datagrams read, and waits.
func (u *UDP) Close() error {
	u.lc.close()
	return nil
}

func (u *UDP) stop() {
	u.stopped.Store(true)
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.conn != nil {
		u.conn.Close()
	}
}

func (u *UDP) read(conn *net.UDPConn, queue chan *Batch) {
	defer u.lc.wg.Done()
	defer close(queue)
	st := &u.stats
	maxLen := u.cfg.MaxMessage
	buf := make([]byte, maxLen+1) // a datagram filling it is over the limit
	oob := make([]byte, oobSize)
	b := u.pool.get()
	// handoff queues b if there is room, and reports whether it did.
	handoff := func() bool {
		select {
		case queue <- b:
			b = u.pool.get()
			return true
		default:
			return false
		}
	}
	timer := false // a read deadline is set to flush a partial batch
	for {
		n, oobn, _, addr, err := conn.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				timer = false
				if len(b.Lines) > 0 && !handoff() {
					conn.SetReadDeadline(time.Now().Add(udpFlushAfter)) //nolint:errcheck // fails only once closed
					timer = true
				} else {
					conn.SetReadDeadline(time.Time{}) //nolint:errcheck // as above
				}
				continue
			}
			if u.stopped.Load() || errors.Is(err, net.ErrClosed) {
				break
			}
			st.Errors.Add(1)
			u.log.Warn("UDP read failed", "err", err)
			continue
		}
		now := time.Now()
		if oobn > 0 {
			if d, ok := kernelDrops(oob[:oobn]); ok && uint64(d) > st.KernelDropped.Load() {
				st.KernelDropped.Store(uint64(d))
			}
		}
		if n > maxLen {
			st.Oversize.Add(1)
			continue
		}
		data := trimDatagram(buf[:n])
		if len(data) == 0 {
			continue
		}
		st.Lines.Add(1)
		st.Bytes.Add(uint64(len(data)))
		src := netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
		if u.lim != nil && u.lim.take(src.Addr(), now) > 0 {
			st.RateDropped.Add(1)
			continue
		}
		if len(b.Lines) == maxBatchLines || !b.fits(len(data)) {
			if !handoff() {
				st.QueueDropped.Add(1)
				continue
			}
		}
		b.add(data, src, now, 0)
		if !timer {
			conn.SetReadDeadline(now.Add(udpFlushAfter)) //nolint:errcheck // fails only once closed
			timer = true
		}
	}
	if len(b.Lines) > 0 {
		queue <- b // the deliverer drains the queue to the end
	} else {
		b.Release()
	}
}

// trimDatagram drops trailing newlines, carriage returns and NULs, which
// some senders add to a datagram.
func trimDatagram(p []byte) []byte {
	for len(p) > 0 {
		switch p[len(p)-1] {
		case '\n', '\r', 0:
			p = p[:len(p)-1]
			continue
		}
		break
	}
	return p
}
