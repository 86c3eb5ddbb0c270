package input

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"time"

	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

// streamReader frames one byte stream (a connection, stdin) with the syslog
// Scanner, which takes newline-framed and octet-counted (RFC 6587) frames,
// recognised frame by frame, and delivers the lines in batches.
//
// A batch is delivered when it is full, or just before the reader would
// wait for more bytes: so under load batches are large, and a quiet sender's
// line goes out at once, with no timer.
type streamReader struct {
	ctx  context.Context
	sink Sink
	pool *batchPool
	st   *Stats
	lim  *limiter
	stop <-chan struct{} // closed when the input stops; ends a rate wait
	src  netip.AddrPort
	max  int

	batch        *Batch
	now          time.Time
	lines, bytes uint64 // read since the last flush, added to st then
}

// flushReader is the reader under the Scanner: it delivers the pending
// lines before each read, since a read may block.
type flushReader struct {
	r io.Reader
	s *streamReader
}

func (f *flushReader) Read(p []byte) (int, error) {
	if err := f.s.flush(); err != nil {
		return 0, err
	}
	n, err := f.r.Read(p)
	f.s.now = time.Now()
	return n, err
}

// run reads r to its end, or until a read or delivery error, which it
// returns. Lines read before an error are delivered (while ctx allows).
func (s *streamReader) run(r io.Reader) error {
	s.batch = s.pool.get()
	s.now = time.Now()
	sc := syslog.NewScanner(&flushReader{r: r, s: s}, s.max)
	var err error
	for sc.Scan() {
		if fe := sc.FrameErr(); fe != nil {
			if errors.Is(fe, syslog.ErrFrameTooLong) {
				s.st.Oversize.Add(1)
			}
			continue
		}
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		s.lines++
		s.bytes += uint64(len(line))
		if s.lim != nil {
			if err = s.meter(); err != nil {
				break
			}
		}
		if len(s.batch.Lines) == maxBatchLines || !s.batch.fits(len(line)) {
			if err = s.flush(); err != nil {
				break
			}
		}
		s.batch.add(line, s.src, s.now, 0)
	}
	if err == nil {
		err = sc.Err()
	}
	if ferr := s.flush(); err == nil {
		err = ferr
	}
	s.batch.Release()
	return err
}

// meter waits until the source may send another line, delivering what is
// pending first so that a slowed source's lines are not held back.
func (s *streamReader) meter() error {
	for {
		d := s.lim.take(s.src.Addr(), s.now)
		if d == 0 {
			return nil
		}
		s.st.RateDelayed.Add(1)
		if err := s.flush(); err != nil {
			return err
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return s.ctx.Err()
		case <-s.stop:
			t.Stop()
			return errStopped
		}
		s.now = time.Now()
	}
}

var errStopped = errors.New("input stopped")

// flush delivers the pending lines.
func (s *streamReader) flush() error {
	if s.lines > 0 {
		s.st.Lines.Add(s.lines)
		s.st.Bytes.Add(s.bytes)
		s.lines, s.bytes = 0, 0
	}
	if len(s.batch.Lines) == 0 {
		return nil
	}
	b := s.batch
	s.batch = s.pool.get()
	return deliver(s.ctx, s.sink, b, s.st)
}
