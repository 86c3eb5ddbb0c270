package input

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"time"
)

// StdinConfig configures reading lines from standard input (or any
// reader), framed as on a TCP connection. The input ends at end of file.
type StdinConfig struct {
	Common `yaml:",inline"`
}

// Validate checks the config. Its errors are SettingErrors, joined.
func (c *StdinConfig) Validate() error { return errors.Join(c.validate()...) }

// Stdin reads lines from a reader, usually os.Stdin.
type Stdin struct {
	cfg   StdinConfig
	r     io.Reader
	log   *slog.Logger
	pool  *batchPool
	lim   *limiter
	stats Stats
	lc    lifecycle

	stopCh   chan struct{}
	stopping atomic.Bool
	// waitable is false when a blocked read cannot be interrupted (a
	// terminal or pipe in blocking mode): Close then does not wait for it.
	waitable atomic.Bool
}

var _ Input = (*Stdin)(nil)

// NewStdin returns an input reading r; log may be nil.
func NewStdin(cfg StdinConfig, r io.Reader, log *slog.Logger) (*Stdin, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.resolve(); err != nil {
		return nil, err
	}
	s := &Stdin{cfg: cfg, r: r, log: orDiscard(log).With("input", cfg.Name), pool: newBatchPool(&cfg.Common), lim: cfg.limiter(), stopCh: make(chan struct{})}
	s.waitable.Store(true)
	s.lc.init()
	return s, nil
}

// Name returns the input's name.
func (s *Stdin) Name() string { return s.cfg.Name }

// Stats returns the input's counters.
func (s *Stdin) Stats() *Stats { return &s.stats }

// Done is closed at end of input, or once stopped.
func (s *Stdin) Done() <-chan struct{} { return s.lc.done }

// Start reads the reader until its end, Close, or ctx's end.
func (s *Stdin) Start(ctx context.Context, sink Sink) error {
	if err := s.lc.begin(); err != nil {
		return err
	}
	s.lc.wg.Add(1)
	go func() {
		defer s.lc.wg.Done()
		sr := &streamReader{ctx: ctx, sink: sink, pool: s.pool, st: &s.stats, lim: s.lim, stop: s.stopCh, max: s.cfg.MaxMessage}
		err := sr.run(&stoppableReader{r: s.r, stopping: &s.stopping})
		if err != nil && !s.stopping.Load() && ctx.Err() == nil {
			s.stats.Errors.Add(1)
			s.log.Warn("read failed", "err", err)
		}
	}()
	s.lc.run(ctx, s.stop)
	return nil
}

// Close stops reading, delivers the lines read, and waits, unless the
// reader is blocked in a read that cannot be interrupted: its goroutine then
// ends at the reader's next read, delivering nothing more.
func (s *Stdin) Close() error {
	s.lc.mu.Lock()
	started := s.lc.started
	s.lc.mu.Unlock()
	if !started {
		s.lc.close()
		return nil
	}
	s.stop()
	if s.waitable.Load() {
		s.lc.close()
	}
	return nil
}

func (s *Stdin) stop() {
	if s.stopping.Swap(true) {
		return
	}
	close(s.stopCh)
	if d, ok := s.r.(interface{ SetReadDeadline(time.Time) error }); ok && d.SetReadDeadline(time.Unix(1, 0)) == nil {
		return
	}
	s.waitable.Store(false)
}

// stoppableReader ends the stream once the input is stopping, so that
// bytes from a read that returns after Close are not delivered.
type stoppableReader struct {
	r        io.Reader
	stopping *atomic.Bool
}

func (r *stoppableReader) Read(p []byte) (int, error) {
	if r.stopping.Load() {
		return 0, io.EOF
	}
	n, err := r.r.Read(p)
	if r.stopping.Load() {
		return 0, io.EOF
	}
	return n, err
}
