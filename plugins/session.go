package plugins

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/plugins/internal/pluginpb"
)

// Session is one stream of lines (a file, a connection) through a plugin:
// the plugin keeps one parser instance for it, so stateful formats keep
// their state. Parse sends lines in batches, up to the spec's InFlight
// batches ahead of their answers, and keeps each batch until it is
// answered: when the plugin crashes or hangs, the session restarts it and
// sends the unanswered lines again, one at a time, so that only the line
// that kills the plugin fails. A restarted plugin starts a stream afresh,
// without the state of the old one.
//
// A Session is used by one goroutine at a time.
type Session struct {
	// Ref is the reference time for stamps without a year, and the time of
	// lines that carry none; zero means the time of parsing.
	Ref time.Time
	// Loc is the zone of stamps that carry none; nil means UTC.
	Loc *time.Location
	// Internal says which addresses are the member's own; it fills
	// network.direction when the plugin left it empty. Nil leaves it.
	Internal func(netip.Addr) bool

	p       *Plugin
	c       *conn
	live    atomic.Pointer[conn] // c, for the goroutine that cancels it
	seq     uint64
	pending []span // sent, unanswered batches, oldest first
	packed  []byte
	rr      ResultReader
	evs     []detect.Event
	errs    []error
	closed  bool
}

// span is a sent batch: lines [start, end) of the current Parse call.
type span struct {
	seq        uint64
	start, end int
}

// conn is one gRPC stream to one plugin instance.
type conn struct {
	inst     *instance
	stream   pluginpb.Parser_ParseClient
	cancel   context.CancelFunc
	watch    *time.Timer // cancels the stream when a batch is late
	timedOut atomic.Bool
}

// NewSession returns a session on p. Close it when the stream ends.
func (p *Plugin) NewSession() *Session {
	return &Session{p: p}
}

// Parse parses lines in order and calls emit once for each, in order,
// with the event, or a nil event and the line's error: detect.ErrNotEvent
// (perhaps wrapped) for a line to skip; ErrPluginShutdown, perhaps with
// ErrTimeout, for a line that crashed or hung the plugin; or what the
// plugin said was wrong with it, or an invalid event it returned. The
// event is valid only during the call of emit.
//
// Parse returns an error, wrapping ErrPluginShutdown or the context's,
// only when the plugin is closed or cannot be started, or ctx ends; the
// lines from the first one not emitted on were not parsed.
func (s *Session) Parse(ctx context.Context, lines [][]byte, emit func(i int, ev *detect.Event, err error)) error {
	if s.closed {
		return fmt.Errorf("plugin %s: session closed: %w", s.p.spec.Name, ErrPluginShutdown)
	}
	stop := context.AfterFunc(ctx, func() {
		if c := s.live.Load(); c != nil {
			c.cancel()
		}
	})
	defer stop()
	// Split a call into at least InFlight batches where it is long enough,
	// so that the plugin parses one batch while the host reads another.
	perBatch := min(s.p.spec.BatchLines, max(minSplit, (len(lines)+s.p.spec.InFlight-1)/s.p.spec.InFlight))
	next := 0
	for next < len(lines) || len(s.pending) > 0 {
		err := s.open(ctx)
		for err == nil && len(s.pending) < s.p.spec.InFlight && next < len(lines) {
			end := s.cut(lines, next, perBatch)
			if err = s.send(lines[next:end]); err == nil {
				s.pending = append(s.pending, span{seq: s.seq, start: next, end: end})
				next = end
			}
		}
		if err == nil {
			err = s.receive(lines, emit)
		}
		if err == nil {
			continue
		}
		if stopErr := s.stopped(ctx); stopErr != nil {
			s.drop()
			return stopErr
		}
		if s.c == nil {
			return err // no instance could be started
		}
		first, last := next, next
		if len(s.pending) > 0 {
			first, last = s.pending[0].start, s.pending[len(s.pending)-1].end
		}
		s.fail(err)
		if err := s.isolate(ctx, lines, first, last, emit); err != nil {
			return err
		}
	}
	return nil
}

// isolate parses lines [first, last) one per batch, after a failure of the
// plugin with them in flight. A line that fails the plugin again gets
// ErrPluginShutdown as its result; the others parse as normal.
func (s *Session) isolate(ctx context.Context, lines [][]byte, first, last int, emit func(int, *detect.Event, error)) error {
	for i := first; i < last; i++ {
		err := s.open(ctx)
		if err == nil {
			err = s.send(lines[i : i+1])
		}
		if err == nil {
			s.pending = append(s.pending[:0], span{seq: s.seq, start: i, end: i + 1})
			err = s.receive(lines, emit)
		}
		if err == nil {
			continue
		}
		s.pending = s.pending[:0]
		if stopErr := s.stopped(ctx); stopErr != nil {
			s.drop()
			return stopErr
		}
		if s.c == nil {
			return err // no instance could be started
		}
		s.fail(err)
		if errors.Is(err, ErrTimeout) {
			emit(i, nil, fmt.Errorf("plugin %s: %w after %v on this line: %w", s.p.spec.Name, ErrTimeout, s.p.spec.Timeout, ErrPluginShutdown))
		} else {
			emit(i, nil, fmt.Errorf("plugin %s failed on this line (%v): %w", s.p.spec.Name, err, ErrPluginShutdown))
		}
	}
	return nil
}

// stopped returns the error that ends Parse, when ctx or the plugin ended.
func (s *Session) stopped(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.p.ctx.Err() != nil {
		return s.p.closedErr()
	}
	return nil
}

// minSplit is the fewest lines in a batch that Parse splits a call into.
const minSplit = 100

// cut returns the end of the batch that starts at lines[from], capped by
// maxN lines and the spec's bytes; a batch holds at least one line.
func (s *Session) cut(lines [][]byte, from, maxN int) int {
	maxB := s.p.spec.BatchBytes
	end, size := from, 0
	for end < len(lines) && end-from < maxN && (end == from || size+len(lines[end]) <= maxB) {
		size += len(lines[end])
		end++
	}
	return end
}

// open starts a stream on the plugin's instance, starting that if need be.
func (s *Session) open(ctx context.Context) error {
	if s.c != nil {
		return nil
	}
	inst, err := s.p.instance(ctx)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(s.p.ctx)
	stream, err := inst.rpc.Parse(sctx)
	if err != nil {
		cancel()
		s.c = &conn{inst: inst, cancel: func() {}}
		return err
	}
	c := &conn{inst: inst, stream: stream, cancel: cancel}
	c.watch = time.AfterFunc(time.Hour, func() {
		c.timedOut.Store(true)
		cancel()
	})
	c.watch.Stop()
	s.c = c
	s.live.Store(c)
	if err := ctx.Err(); err != nil {
		return err
	}
	return nil
}

// send packs and sends one batch.
func (s *Session) send(lines [][]byte) error {
	s.seq++
	b := &pluginpb.LineBatch{Seq: s.seq, Lines: AppendLines(s.packed[:0], lines)}
	if !s.Ref.IsZero() {
		b.RefUnixNano = s.Ref.UnixNano()
	}
	if s.Loc != nil && s.Loc != time.UTC {
		b.Zone = s.Loc.String()
	}
	s.packed = b.Lines
	s.c.watch.Reset(s.p.spec.Timeout)
	err := s.c.stream.Send(b)
	if err != nil && s.c.timedOut.Load() {
		return ErrTimeout
	}
	return err
}

// receive waits for the answer to the oldest pending batch, checks it
// whole, then emits its results.
func (s *Session) receive(lines [][]byte, emit func(int, *detect.Event, error)) error {
	c := s.c
	c.watch.Reset(s.p.spec.Timeout)
	b, err := c.stream.Recv()
	c.watch.Stop()
	if err != nil {
		if c.timedOut.Load() {
			return ErrTimeout
		}
		return err
	}
	sp := s.pending[0]
	if b.GetSeq() != sp.seq {
		return fmt.Errorf("%w: answer to batch %d where %d was due", ErrCorrupt, b.GetSeq(), sp.seq)
	}
	n, err := s.rr.Reset(b.GetResults())
	if err != nil {
		return err
	}
	if n != sp.end-sp.start {
		return fmt.Errorf("%w: %d results for %d lines", ErrCorrupt, n, sp.end-sp.start)
	}
	if cap(s.evs) < n {
		s.evs = make([]detect.Event, n)
		s.errs = make([]error, n)
	}
	evs, errs := s.evs[:n], s.errs[:n]
	for k := range evs {
		if errs[k], err = s.rr.Next(&evs[k]); err != nil {
			return err
		}
	}
	s.pending = s.pending[1:]
	s.p.healthy()
	for k := range evs {
		ev, lerr := &evs[k], errs[k]
		if lerr == nil {
			lerr = s.check(ev)
		}
		if lerr != nil {
			ev = nil
		}
		emit(sp.start+k, ev, lerr)
	}
	return nil
}

// check finishes an event that came back and rejects one that breaks the
// event contract.
func (s *Session) check(ev *detect.Event) error {
	if ev.Dataset != s.p.spec.Name {
		return fmt.Errorf("plugin %s returned an invalid event: event.dataset %q is not the plugin's name", s.p.spec.Name, ev.Dataset)
	}
	if ev.Network.Direction == "" && s.Internal != nil {
		ev.Network.Direction = detect.Direction(ev.Source.IP, ev.Destination.IP, s.Internal)
	}
	if err := ev.Validate(); err != nil {
		return fmt.Errorf("plugin %s returned an invalid event: %w", s.p.spec.Name, err)
	}
	return nil
}

// fail reports the stream's failure to the plugin, which kills the
// instance, and drops the stream.
func (s *Session) fail(err error) {
	s.p.fail(s.c.inst, err)
	s.drop()
}

// drop ends the stream.
func (s *Session) drop() {
	if c := s.c; c != nil {
		if c.watch != nil {
			c.watch.Stop()
		}
		c.cancel()
		s.c = nil
		s.live.Store(nil)
	}
	s.pending = s.pending[:0]
}

// Close ends the session's stream. The plugin ends its parser instance.
func (s *Session) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if c := s.c; c != nil && c.stream != nil {
		_ = c.stream.CloseSend()
	}
	s.drop()
	return nil
}
