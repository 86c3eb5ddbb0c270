package plugins

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
)

// Batcher feeds a session from a stream whose lines come one at a time,
// such as a syslog socket. It gathers lines into batches capped by the
// spec's line count, bytes and age (BatchWait), so that a quiet stream is
// not held back and a busy one travels in full batches, and it hands each
// line's result to emit, in order, on its own goroutine. Add blocks while
// InFlight batches' worth of lines wait, so a slow plugin pushes back on
// the stream.
type Batcher struct {
	s    *Session
	emit func(seq uint64, ev *detect.Event, err error)
	in   chan []byte
	done chan struct{}
	ctx  context.Context
	stop context.CancelFunc
	err  error // why the worker stopped early, read after done
}

// NewBatcher starts a Batcher over s, which it owns until Close. Emit gets
// each line's number in the stream, from 0, and its event or error, as
// Session.Parse gives them; a line that could not be parsed because the
// plugin could not be run gets an error wrapping ErrPluginShutdown.
func NewBatcher(s *Session, emit func(seq uint64, ev *detect.Event, err error)) *Batcher {
	sp := s.p.spec
	ctx, stop := context.WithCancel(context.Background())
	b := &Batcher{
		s: s, emit: emit, ctx: ctx, stop: stop,
		in:   make(chan []byte, sp.BatchLines*sp.InFlight),
		done: make(chan struct{}),
	}
	go b.run()
	return b
}

// Add queues a copy of line. It returns an error when ctx ends first, or
// the Batcher is stopped.
func (b *Batcher) Add(ctx context.Context, line []byte) error {
	select {
	case <-b.done:
		return fmt.Errorf("batcher stopped: %w", b.err)
	default:
	}
	l := append([]byte(nil), line...)
	select {
	case b.in <- l:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-b.done:
		return fmt.Errorf("batcher stopped: %w", b.err)
	}
}

// Close parses the lines queued, waits for their results, and ends the
// session. Add must not be called during or after Close.
func (b *Batcher) Close() error {
	close(b.in)
	<-b.done
	b.stop()
	return errors.Join(b.err, b.s.Close())
}

// Abort stops without parsing the lines still queued.
func (b *Batcher) Abort() {
	b.stop()
	<-b.done
	b.s.Close()
}

func (b *Batcher) run() {
	defer close(b.done)
	sp := b.s.p.spec
	maxLines, maxBytes := sp.BatchLines*sp.InFlight, sp.BatchBytes*sp.InFlight
	var batch [][]byte
	var seq uint64
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		// Wait for a first line, then gather until the batch is full, old
		// or the input ends.
		batch = batch[:0]
		var l []byte
		var ok bool
		select {
		case l, ok = <-b.in:
			if !ok {
				return
			}
		case <-b.ctx.Done():
			b.err = b.ctx.Err()
			return
		}
		batch = append(batch, l)
		size := len(l)
		timer.Reset(sp.BatchWait)
		open := true
	gather:
		for len(batch) < maxLines && size < maxBytes {
			select {
			case l, ok := <-b.in:
				if !ok {
					open = false
					break gather
				}
				batch = append(batch, l)
				size += len(l)
			case <-timer.C:
				break gather
			case <-b.ctx.Done():
				b.err = b.ctx.Err()
				return
			}
		}
		timer.Stop()
		base := seq
		emitted := 0
		err := b.s.Parse(b.ctx, batch, func(i int, ev *detect.Event, err error) {
			emitted = i + 1
			b.emit(base+uint64(i), ev, err)
		})
		if err != nil {
			if b.ctx.Err() != nil {
				b.err = b.ctx.Err()
				return
			}
			// The plugin could not be run: these lines fail, the next
			// batch tries again.
			for i := emitted; i < len(batch); i++ {
				b.emit(base+uint64(i), nil, err)
			}
		}
		seq += uint64(len(batch))
		if !open {
			return
		}
	}
}
