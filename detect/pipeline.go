package detect

import "errors"

// LineParser turns one raw line into an event; parsers.Stream is one.
type LineParser interface {
	Parse(line []byte, ev *Event) error
}

// Matcher runs detection rules over classified events; rules.Matcher is
// one.
type Matcher interface {
	Match(ev *Event, emit func(*Detection)) error
}

// PipelineStats count what a Pipeline did with its lines.
type PipelineStats struct {
	Lines, Parsed, Skipped, Failed int64
	Classify                       ClassifyStats
	RuleErrors                     int64
}

// Pipeline is the edge pipeline for one stream: parse, classify (internal,
// trusted, indicators), then rules and correlation. It is used by one
// goroutine at a time.
type Pipeline struct {
	Parser  LineParser
	Lists   *Lists
	Matcher Matcher
	Stats   PipelineStats
	ev      Event
}

// Process runs one line through the pipeline, calling emit for each
// detection due. It returns the parse error for a line that failed (nil for
// events and skipped lines); the event itself is available from Event.
func (p *Pipeline) Process(line []byte, emit func(*Detection)) error {
	p.Stats.Lines++
	if err := p.Parser.Parse(line, &p.ev); err != nil {
		if errors.Is(err, ErrNotEvent) {
			p.Stats.Skipped++
			return nil
		}
		p.Stats.Failed++
		return err
	}
	p.Stats.Parsed++
	if p.Lists.Classify(&p.ev, &p.Stats.Classify) != Keep {
		return nil
	}
	if p.Matcher != nil {
		if err := p.Matcher.Match(&p.ev, emit); err != nil {
			p.Stats.RuleErrors++
		}
	}
	return nil
}

// Event returns the last event parsed.
func (p *Pipeline) Event() *Event { return &p.ev }
