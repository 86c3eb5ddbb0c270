package parsers

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

// Stream parses the lines of one stream (a file, a TCP connection, a UDP
// source): syslog header, then the parser, then the fields the framework
// fills for every parser (event.dataset, observer.hostname, @timestamp,
// network.direction). It is used by one goroutine at a time.
type Stream struct {
	parser  detect.Parser
	dataset string // fixed format's name; "" under auto-detection
	auto    *Auto

	// Ref is the reference time for stamps without a year, and the time of
	// lines that carry none; zero means the time of parsing.
	Ref time.Time
	// Loc is the zone of stamps without one; nil means UTC.
	Loc *time.Location
	// Internal says which addresses are the member's own, for
	// network.direction; nil means detect.DefaultInternal.
	Internal func(netip.Addr) bool

	rec   detect.Record
	hosts lex.Interner
}

// NewStream returns a Stream that parses with the named parser from reg, or
// auto-detects the format per line when format is "auto" or "".
func NewStream(reg *Registry, format string) (*Stream, error) {
	if format == "" || format == "auto" {
		a := NewAuto(reg)
		return &Stream{parser: a, auto: a}, nil
	}
	info, ok := reg.Lookup(format)
	if !ok {
		return nil, fmt.Errorf("unknown format %q (see `cyberalarm-collector formats`)", format)
	}
	return &Stream{parser: info.New(), dataset: info.Name}, nil
}

// Record returns the record of the last line, with its header taken apart.
func (s *Stream) Record() *detect.Record { return &s.rec }

// Dataset returns the name of the parser that took the last line.
func (s *Stream) Dataset() string {
	if s.auto != nil {
		return s.auto.Chosen()
	}
	return s.dataset
}

// Parse turns one line into ev. It returns nil for an event,
// detect.ErrNotEvent (perhaps wrapped) for a line to skip, or an error that
// says what is wrong with the line. A parser panic is recovered and
// returned as an error, so that one bad line never stops a stream.
func (s *Stream) Parse(line []byte, ev *detect.Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", ErrPanic, s.Dataset(), r)
		}
	}()
	ev.Reset()
	rec := &s.rec
	rec.Raw = line
	rec.Ref = s.Ref
	rec.Loc = s.Loc
	syslog.Parse(rec)
	if s.auto == nil {
		ev.Dataset = s.dataset
	}
	if err := s.parser.Parse(rec, ev); err != nil {
		return err
	}
	s.finish(ev)
	return nil
}

// finish fills the fields that the framework owns when the parser left them.
func (s *Stream) finish(ev *detect.Event) {
	if ev.Timestamp.IsZero() {
		switch {
		case !s.rec.Time.IsZero():
			ev.Timestamp = s.rec.Time
		case !s.Ref.IsZero():
			ev.Timestamp = s.Ref
		default:
			ev.Timestamp = time.Now()
		}
	}
	if ev.Observer.Hostname == "" && len(s.rec.Host) > 0 {
		ev.Observer.Hostname = s.hosts.Bytes(s.rec.Host)
	}
	if ev.Network.Direction == "" {
		internal := s.Internal
		if internal == nil {
			internal = detect.DefaultInternal
		}
		ev.Network.Direction = detect.Direction(ev.Source.IP, ev.Destination.IP, internal)
	}
}
