package parsers

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cyberalarm/cyberalarm/detect"
)

// ErrUnknownFormat is returned by auto-detection for a line that no parser
// recognises. It wraps detect.ErrNotEvent: such a line is skipped, not failed.
var ErrUnknownFormat = fmt.Errorf("no parser recognises this line: %w", detect.ErrNotEvent)

// Auto is a Parser that picks the parser for each line: first by the syslog
// tag; then the parser that took the stream's previous line, if its Sniff
// still agrees (streams rarely change format, and this keeps detection's
// cost to one Sniff), unless that parser is Generic; then each parser's
// Sniff in registration order. Like any Parser
// it is used by one goroutine at a time; it makes one instance of each
// parser it uses, so stateful parsers keep their state per stream.
type Auto struct {
	infos    []detect.ParserInfo
	inst     []detect.Parser
	byTag    map[string][]int
	sniffers []int
	last     int
}

// NewAuto returns an auto-detecting parser over the parsers in reg.
func NewAuto(reg *Registry) *Auto {
	a := &Auto{infos: reg.infos, inst: make([]detect.Parser, len(reg.infos)), byTag: make(map[string][]int), last: -1}
	for i, in := range reg.infos {
		for _, t := range in.Tags {
			a.byTag[t] = append(a.byTag[t], i)
		}
		if in.Sniff != nil {
			a.sniffers = append(a.sniffers, i)
		}
	}
	return a
}

// Choose returns the registry index of the parser for rec, or -1.
func (a *Auto) Choose(rec *detect.Record) int {
	if len(rec.App) > 0 {
		if i := a.byTagged(rec, rec.App); i >= 0 {
			return i
		}
		if j := bytes.IndexByte(rec.App, '/'); j > 0 {
			if i := a.byTagged(rec, rec.App[:j]); i >= 0 {
				return i
			}
		}
	}
	if a.last >= 0 {
		if in := a.infos[a.last]; !in.Generic && in.Sniff != nil && in.Sniff(rec) {
			return a.last
		}
	}
	for _, i := range a.sniffers {
		if i != a.last && a.infos[i].Sniff(rec) {
			return i
		}
	}
	return -1
}

func (a *Auto) byTagged(rec *detect.Record, tag []byte) int {
	for _, i := range a.byTag[string(tag)] {
		if s := a.infos[i].Sniff; s == nil || s(rec) {
			return i
		}
	}
	return -1
}

// Parse implements detect.Parser.
func (a *Auto) Parse(rec *detect.Record, ev *detect.Event) error {
	i := a.Choose(rec)
	if i < 0 {
		return ErrUnknownFormat
	}
	a.last = i
	p := a.inst[i]
	if p == nil {
		p = a.infos[i].New()
		a.inst[i] = p
	}
	ev.Dataset = a.infos[i].Name
	return p.Parse(rec, ev)
}

// Chosen returns the name of the parser that took the last line.
func (a *Auto) Chosen() string {
	if a.last < 0 {
		return ""
	}
	return a.infos[a.last].Name
}

var _ detect.Parser = (*Auto)(nil)

// ErrPanic is wrapped by the error Stream returns when a parser panicked on
// a line; the stream goes on with the next line.
var ErrPanic = errors.New("parser panicked")
