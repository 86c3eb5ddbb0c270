package syslog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxFrame is the default longest frame a Scanner returns whole.
const DefaultMaxFrame = 64 << 10

// ErrFrameTooLong is wrapped by a Scanner's frame error for a frame over the
// limit; the frame is skipped and the stream goes on.
var ErrFrameTooLong = errors.New("frame too long")

// Scanner reads syslog frames from a stream: newline-terminated lines, or
// RFC 6587 octet-counted frames ("LEN <PRI>..."), recognised frame by frame
// so that one stream may mix them. A trailing "\r" is dropped.
//
// Unlike bufio.Scanner, a frame over the limit does not stop the stream: Scan
// returns true with FrameErr set, and the next call goes on after that frame.
type Scanner struct {
	r        *bufio.Reader
	max      int
	frame    []byte
	frameErr error
	err      error
	line     int64
	// afterCount is set after an octet-counted frame.
	afterCount bool
}

// NewScanner returns a Scanner over r that returns frames of up to max bytes
// (DefaultMaxFrame when max <= 0).
func NewScanner(r io.Reader, max int) *Scanner {
	if max <= 0 {
		max = DefaultMaxFrame
	}
	return &Scanner{r: bufio.NewReaderSize(r, max+8), max: max}
}

// Scan advances to the next frame. It returns false at the end of the stream
// or on a read error (see Err).
func (s *Scanner) Scan() bool {
	s.frame, s.frameErr = nil, nil
	if s.err != nil {
		return false
	}
	s.line++
	if s.afterCount {
		// Senders often end a counted frame with a newline as well. It is
		// skipped here, not in readCounted: peeking there could move the
		// buffer under the frame just returned.
		s.afterCount = false
		if c, err := s.r.Peek(1); err == nil && c[0] == '\n' {
			s.r.Discard(1) //nolint:errcheck // one byte was peeked
			if _, err := s.r.Peek(1); err != nil {
				s.err = err
				return false
			}
		}
	}
	if n, ok := s.octetCount(); ok {
		return s.readCounted(n)
	}
	b, err := s.r.ReadSlice('\n')
	if (err == nil || err == io.EOF) && len(trimEOL(b)) > s.max {
		// Within the buffer's slack but over the limit.
		if err == io.EOF {
			s.err = io.EOF
		}
		s.frameErr = fmt.Errorf("%w: line %d is over %d bytes (%d bytes skipped)", ErrFrameTooLong, s.line, s.max, len(b))
		return true
	}
	switch {
	case err == nil:
		s.frame = trimEOL(b)
		return true
	case errors.Is(err, bufio.ErrBufferFull):
		skipped := int64(len(b))
		for errors.Is(err, bufio.ErrBufferFull) {
			b, err = s.r.ReadSlice('\n')
			skipped += int64(len(b))
		}
		if err != nil && err != io.EOF {
			s.err = err
		}
		s.frameErr = fmt.Errorf("%w: line %d is over %d bytes (%d bytes skipped)", ErrFrameTooLong, s.line, s.max, skipped)
		return true
	case err == io.EOF:
		s.err = io.EOF
		if len(b) == 0 {
			return false
		}
		s.frame = trimEOL(b)
		return true
	default:
		s.err = err
		if len(b) > 0 {
			s.frame = trimEOL(b)
			return true
		}
		return false
	}
}

// octetCount recognises "LEN <" at the start of the next frame.
func (s *Scanner) octetCount() (int, bool) {
	// Peek only what has arrived, so that a live stream's last short line is
	// not held back; wait for more only while the bytes so far could still
	// be the start of "LEN <".
	p, _ := s.r.Peek(max(1, min(12, s.r.Buffered())))
	for len(p) < 12 && maybeCount(p) {
		q, _ := s.r.Peek(len(p) + 1)
		if len(q) == len(p) {
			break // end of stream
		}
		p = q
	}
	n, i := 0, 0
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		n = n*10 + int(p[i]-'0')
		i++
	}
	if i == 0 || i > 9 || i+1 >= len(p) || p[i] != ' ' || p[i+1] != '<' || p[0] == '0' {
		return 0, false
	}
	if _, err := s.r.Discard(i + 1); err != nil {
		return 0, false
	}
	return n, true
}

func (s *Scanner) readCounted(n int) bool {
	if n > s.max {
		d, err := s.r.Discard(n)
		if err != nil {
			s.err = err
		}
		s.frameErr = fmt.Errorf("%w: frame %d declares %d bytes, over %d (%d bytes skipped)", ErrFrameTooLong, s.line, n, s.max, d)
		return true
	}
	p, err := s.r.Peek(n)
	if err != nil {
		// A truncated last frame: return what there is.
		s.err = err
		s.frame = trimEOL(p)
		s.r.Discard(len(p)) //nolint:errcheck // length is what Peek returned
		return len(p) > 0
	}
	s.r.Discard(n) //nolint:errcheck // n bytes were peeked
	s.frame = trimEOL(p)
	s.afterCount = true
	return true
}

// maybeCount reports whether p is a proper prefix of "LEN <": digits, then
// perhaps one space.
func maybeCount(p []byte) bool {
	i := 0
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		i++
	}
	return i == len(p) || (i > 0 && i == len(p)-1 && p[i] == ' ')
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// Bytes returns the current frame. It aliases the reader's buffer and is
// valid until the next call to Scan.
func (s *Scanner) Bytes() []byte { return s.frame }

// FrameErr returns why the current frame was skipped, or nil.
func (s *Scanner) FrameErr() error { return s.frameErr }

// Line returns the number of the current frame, from 1.
func (s *Scanner) Line() int64 { return s.line }

// Err returns the first read error other than io.EOF.
func (s *Scanner) Err() error {
	if s.err == io.EOF {
		return nil
	}
	return s.err
}
