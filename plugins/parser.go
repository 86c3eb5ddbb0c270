package plugins

import (
	"runtime"

	"github.com/cyberalarm/cyberalarm/detect"
)

// lineParser is a plugin's parser as a detect.Parser: one round trip per
// line, for auto-detection and callers that have one line at a time. It
// has its own session, so a stateful plugin keeps its state per parser,
// and the session ends when the parser is garbage.
type lineParser struct {
	s    *Session
	line [1][]byte
	ev   *detect.Event
	err  error
}

func newLineParser(p *Plugin) detect.Parser {
	s := p.NewSession()
	lp := &lineParser{s: s}
	runtime.AddCleanup(lp, func(s *Session) { s.Close() }, s)
	return lp
}

// Parse implements detect.Parser. It returns an error wrapping
// ErrPluginShutdown when the plugin failed on the line or is closed.
func (lp *lineParser) Parse(rec *detect.Record, ev *detect.Event) error {
	lp.s.Ref, lp.s.Loc = rec.Ref, rec.Loc
	lp.line[0] = rec.Raw
	lp.ev, lp.err = ev, nil
	err := lp.s.Parse(lp.s.p.ctx, lp.line[:], lp.emit)
	lp.line[0], lp.ev = nil, nil
	if err != nil {
		return err
	}
	return lp.err
}

func (lp *lineParser) emit(_ int, ev *detect.Event, err error) {
	if err != nil {
		lp.err = err
		return
	}
	*lp.ev = *ev
}

var _ detect.Parser = (*lineParser)(nil)
