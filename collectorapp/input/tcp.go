package input

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// DefaultMaxConnections is the default limit on a TCP input's open
// connections.
const DefaultMaxConnections = 256

// handshakeTimeout bounds a TLS handshake, so that a client that connects
// and says nothing does not hold a connection slot for long.
const handshakeTimeout = 10 * time.Second

// TCPConfig configures syslog over TCP, or over TLS when TLS is set. Each
// connection may send newline-framed or octet-counted (RFC 6587) messages,
// or a mix.
type TCPConfig struct {
	Common `yaml:",inline"`
	// Listen is the address to listen on, host:port; an empty host means
	// every address.
	Listen string `yaml:"listen"`
	// MaxConnections limits open connections (default 256); more are
	// accepted and closed at once, and counted.
	MaxConnections int `yaml:"max_connections"`
	// TLS, when set, makes this a syslog-over-TLS input (RFC 5425).
	TLS *TLSConfig `yaml:"tls"`
}

// Validate checks the config. Its errors are SettingErrors, joined.
func (c *TCPConfig) Validate() error {
	errs := c.validate()
	if err := validateListen(c.Listen); err != nil {
		errs = append(errs, err)
	}
	if c.MaxConnections < 0 {
		errs = append(errs, settingErr("max_connections", "%d is negative (0 means %d)", c.MaxConnections, DefaultMaxConnections))
	}
	if c.TLS != nil {
		if _, err := c.TLS.build(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func validateListen(addr string) error {
	if addr == "" {
		return settingErr("listen", "required, as host:port (such as :514 or 127.0.0.1:6514)")
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return settingErr("listen", "%q is not host:port", addr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || port == "" || (n == 0 && port != "0") {
		return settingErr("listen", "%q has no valid port number", addr)
	}
	return nil
}

// TCP is a syslog input over TCP or TLS.
type TCP struct {
	cfg   TCPConfig
	log   *slog.Logger
	tls   *tls.Config
	pool  *batchPool
	lim   *limiter
	stats Stats
	lc    lifecycle

	ln       net.Listener
	stopCh   chan struct{}
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	stopping bool
}

var _ Input = (*TCP)(nil)

// NewTCP returns a TCP (or TLS) input; log may be nil.
func NewTCP(cfg TCPConfig, log *slog.Logger) (*TCP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.resolve(); err != nil {
		return nil, err
	}
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	t := &TCP{cfg: cfg, log: orDiscard(log).With("input", cfg.Name), pool: newBatchPool(&cfg.Common), lim: cfg.limiter(),
		stopCh: make(chan struct{}), conns: make(map[net.Conn]struct{})}
	if cfg.TLS != nil {
		conf, err := cfg.TLS.build()
		if err != nil {
			return nil, err
		}
		t.tls = conf
	}
	t.lc.init()
	return t, nil
}

func orDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}

// Name returns the input's name.
func (t *TCP) Name() string { return t.cfg.Name }

// Stats returns the input's counters.
func (t *TCP) Stats() *Stats { return &t.stats }

// Done is closed when the input has stopped.
func (t *TCP) Done() <-chan struct{} { return t.lc.done }

// Addr returns the address listened on, after Start.
func (t *TCP) Addr() net.Addr {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ln == nil {
		return nil
	}
	return t.ln.Addr()
}

// Start listens and serves connections until Close or ctx's end.
func (t *TCP) Start(ctx context.Context, sink Sink) error {
	if err := t.lc.begin(); err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", t.cfg.Listen)
	if err != nil {
		t.lc.finish()
		return &SettingError{Setting: "listen", Err: err}
	}
	t.mu.Lock()
	t.ln = ln
	t.mu.Unlock()
	t.lc.wg.Add(1)
	go t.accept(ctx, sink)
	t.lc.run(ctx, t.stop)
	return nil
}

// Close stops accepting, closes the connections, delivers what they had
// sent, and waits.
func (t *TCP) Close() error {
	t.lc.close()
	return nil
}

func (t *TCP) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopping {
		return
	}
	t.stopping = true
	close(t.stopCh)
	if t.ln != nil {
		t.ln.Close()
	}
	for c := range t.conns {
		c.Close()
	}
}

func (t *TCP) accept(ctx context.Context, sink Sink) {
	defer t.lc.wg.Done()
	var backoff time.Duration
	for {
		c, err := t.ln.Accept()
		if err != nil {
			if t.isStopping() {
				return
			}
			// Out of file descriptors and the like: wait and retry, as
			// net/http does.
			t.stats.Errors.Add(1)
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			t.log.Warn("accept failed", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-t.stopCh:
				return
			}
			continue
		}
		backoff = 0
		if !t.track(c) {
			continue
		}
		t.lc.wg.Add(1)
		go t.serve(ctx, sink, c)
	}
}

// track registers c, or closes it if the input is stopping or full.
func (t *TCP) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopping {
		c.Close()
		return false
	}
	t.stats.Accepted.Add(1)
	if len(t.conns) >= t.cfg.MaxConnections {
		t.stats.Rejected.Add(1)
		c.Close()
		t.log.Warn("connection refused: max_connections reached", "remote", c.RemoteAddr().String(), "max_connections", t.cfg.MaxConnections)
		return false
	}
	t.conns[c] = struct{}{}
	t.stats.Connections.Add(1)
	return true
}

func (t *TCP) untrack(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	t.stats.Connections.Add(-1)
	c.Close()
}

func (t *TCP) isStopping() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stopping
}

func (t *TCP) serve(ctx context.Context, sink Sink, c net.Conn) {
	defer t.lc.wg.Done()
	defer t.untrack(c)
	src := remoteAddrPort(c)
	var r net.Conn = c
	if t.tls != nil {
		tc := tls.Server(c, t.tls)
		hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			if !t.isStopping() {
				t.stats.Errors.Add(1)
				t.log.Info("TLS handshake failed", "remote", src.String(), "err", err)
			}
			return
		}
		r = tc
	}
	s := &streamReader{ctx: ctx, sink: sink, pool: t.pool, st: &t.stats, lim: t.lim, stop: t.stopCh, src: src, max: t.cfg.MaxMessage}
	err := s.run(r)
	if err != nil && !t.isStopping() && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
		t.stats.Errors.Add(1)
		t.log.Warn("connection read failed", "remote", src.String(), "err", err)
	}
}

func remoteAddrPort(c net.Conn) netip.AddrPort {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}
