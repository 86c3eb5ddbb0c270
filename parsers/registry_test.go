package parsers

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/cyberalarm/cyberalarm/detect"
)

// fake is a parser that records what it was given.
type fake struct{ name string }

func (f *fake) Parse(rec *detect.Record, ev *detect.Event) error {
	if bytes.Contains(rec.Msg, []byte("panic")) {
		panic("boom")
	}
	ev.Category = detect.CategoryNetwork
	ev.Rule.Name = f.name
	return nil
}

func fakeInfo(name string, tags []string, sig string) detect.ParserInfo {
	in := detect.ParserInfo{Name: name, Description: name, Tags: tags,
		New: func() detect.Parser { return &fake{name: name} }}
	if sig != "" {
		in.Sniff = func(rec *detect.Record) bool { return bytes.Contains(rec.Msg, []byte(sig)) }
	}
	return in
}

func mustPanic(t *testing.T, what string, fn func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", what)
		}
	}()
	fn()
}

func TestRegisterPanics(t *testing.T) {
	r := NewRegistry()
	r.Register(fakeInfo("one", []string{"x"}, ""))
	mustPanic(t, "duplicate", func() { r.Register(fakeInfo("one", []string{"x"}, "")) })
	mustPanic(t, "bad name", func() { r.Register(fakeInfo("Bad Name", []string{"x"}, "")) })
	mustPanic(t, "auto", func() { r.Register(fakeInfo("auto", []string{"x"}, "")) })
	mustPanic(t, "no New", func() { r.Register(detect.ParserInfo{Name: "nonew", Tags: []string{"x"}}) })
	mustPanic(t, "undetectable", func() { r.Register(detect.ParserInfo{Name: "blind", New: func() detect.Parser { return nil }}) })
}

func TestBuiltinNamesUnique(t *testing.T) {
	reg := Builtin()
	if len(reg.Names()) == 0 {
		t.Fatal("no built-in parsers")
	}
	for _, in := range reg.All() {
		if in.Description == "" {
			t.Errorf("%s: no description", in.Name)
		}
	}
}

func TestAutoChoice(t *testing.T) {
	r := NewRegistry()
	r.Register(fakeInfo("bytag", []string{"mytag"}, ""))
	r.Register(fakeInfo("tagged_sniff", []string{"kernel"}, "IN="))
	r.Register(fakeInfo("first", nil, "AAA"))
	r.Register(fakeInfo("second", nil, "BBB"))
	r.Register(fakeInfo("postfixish", []string{"postfix"}, ""))
	gen := fakeInfo("generic", nil, "GGG")
	gen.Generic = true
	r.Register(gen)
	s, err := NewStream(r, "auto")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ line, want string }{
		{"Nov 27 10:00:00 h mytag: anything", "bytag"},
		{"Nov 27 10:00:00 h kernel: IN=eth0", "tagged_sniff"},
		{"Nov 27 10:00:00 h kernel: AAA no netfilter here", "first"},
		{"BBB AAA", "first"}, // registration order
		{"BBB", "second"},
		{"BBB AAA", "second"}, // the stream sticks to the previous line's parser
		{"GGG", "generic"},
		{"GGG AAA", "first"}, // but never to a generic one
		{"Nov 27 10:00:00 h postfix/smtpd[1]: x", "postfixish"},
	} {
		var ev detect.Event
		if err := s.Parse([]byte(tt.line), &ev); err != nil {
			t.Errorf("%q: %v", tt.line, err)
			continue
		}
		if ev.Dataset != tt.want || ev.Rule.Name != tt.want {
			t.Errorf("%q: chose %q, want %q", tt.line, ev.Dataset, tt.want)
		}
	}
	var ev detect.Event
	if err := s.Parse([]byte("nothing matches"), &ev); !errors.Is(err, ErrUnknownFormat) || !errors.Is(err, detect.ErrNotEvent) {
		t.Errorf("unknown line: %v", err)
	}
	err = s.Parse([]byte("AAA panic"), &ev)
	if !errors.Is(err, ErrPanic) || !strings.Contains(err.Error(), "first") {
		t.Errorf("panic: %v", err)
	}
	if err := s.Parse([]byte("AAA"), &ev); err != nil {
		t.Errorf("after a panic the stream goes on: %v", err)
	}
}
