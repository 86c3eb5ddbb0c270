// Package rules holds CyberAlarm's detection rules: the YAML rule format,
// compiling conditions with expr against the event's fields, correlation of
// events over event time, linting, and the built-in rule pack.
//
// A rule file holds one rule per YAML document (DESIGN.md §3.3):
//
//	id: scan.tcp.vertical
//	name: TCP port scan of one host
//	severity: 50
//	techniques: [T1046]
//	when: event.type == "denied" && network.transport == "tcp"
//	correlate:
//	  group_by: [source.ip, destination.ip]
//	  distinct: destination.port
//	  threshold: 20
//	  window: 60s
//
// Load reads rule files, Compile turns them into a Set, and a Set's Matcher
// runs them over events.
package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	yast "github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Rule is one detection rule as written.
type Rule struct {
	ID          string     `yaml:"id"`
	Name        string     `yaml:"name"`
	Description string     `yaml:"description"`
	Severity    int        `yaml:"severity"`
	Tags        []string   `yaml:"tags"`
	Techniques  []string   `yaml:"techniques"`
	When        string     `yaml:"when"`
	Correlate   *Correlate `yaml:"correlate"`
	Tests       Tests      `yaml:"tests"`

	// Where the rule was written, for errors.
	File string `yaml:"-"`
	Line int    `yaml:"-"`
	// whenPos is where the condition's text starts in File.
	whenLine, whenCol int
	whenBlock         bool // a block scalar: each expression line starts at whenCol
	pos               map[string][2]int
}

// Correlate makes a rule fire on a threshold over a window of event time.
type Correlate struct {
	GroupBy   []string `yaml:"group_by"`
	Distinct  string   `yaml:"distinct"`
	Threshold int      `yaml:"threshold"`
	Window    Duration `yaml:"window"`
}

// Tests are lines a rule must and must not fire on. Indicators and Trusted
// are addresses the tests' lists hold: the known-bad list (named
// "indicators", for threat.feed.name and in_list) and the trusted list.
type Tests struct {
	Fire       []TestLine `yaml:"fire"`
	Quiet      []TestLine `yaml:"quiet"`
	Indicators []string   `yaml:"indicators"`
	Trusted    []string   `yaml:"trusted"`
}

// TestLine is a log line, or a line repeated with {{i}} replaced by
// 0..Repeat-1 and each copy's event time shifted by i×Every.
type TestLine struct {
	Line   string   `yaml:"line"`
	Repeat int      `yaml:"repeat"`
	Every  Duration `yaml:"every"`
}

// UnmarshalYAML accepts a plain string as a line.
func (t *TestLine) UnmarshalYAML(b []byte) error {
	var s string
	if err := yaml.Unmarshal(b, &s); err == nil && !bytes.HasPrefix(bytes.TrimSpace(b), []byte("line:")) &&
		!bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
		t.Line = s
		return nil
	}
	type plain TestLine
	var p plain
	if err := yaml.UnmarshalWithOptions(b, &p, yaml.DisallowUnknownField()); err != nil {
		return err
	}
	*t = TestLine(p)
	return nil
}

// Duration is a time.Duration written as "60s", "10m", "1h".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(b []byte) error {
	var s string
	if err := yaml.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration like 60s, 10m or 1h", s)
	}
	*d = Duration(v)
	return nil
}

// Error is an error in a rule file, with its place and, for a condition,
// the snippet of the expression.
type Error struct {
	File    string
	Line    int
	Column  int
	RuleID  string
	Msg     string
	Snippet string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Line, e.Column)
	if e.RuleID != "" {
		fmt.Fprintf(&b, "rule %s: ", e.RuleID)
	}
	b.WriteString(e.Msg)
	if e.Snippet != "" {
		b.WriteString("\n")
		b.WriteString(e.Snippet)
	}
	return b.String()
}

// Errors is a list of rule errors.
type Errors []*Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

var validID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$`)

// Parse reads the rules in one file's content.
func Parse(file string, data []byte) ([]*Rule, error) {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlError(file, err)
	}
	var out []*Rule
	var errs Errors
	for _, doc := range f.Docs {
		if doc.Body == nil {
			continue
		}
		r := &Rule{File: file, Line: doc.Body.GetToken().Position.Line, pos: map[string][2]int{}}
		if err := yaml.NodeToValue(doc.Body, r, yaml.DisallowUnknownField()); err != nil {
			errs = append(errs, yamlError(file, err))
			continue
		}
		if m, ok := doc.Body.(*yast.MappingNode); ok {
			for _, kv := range m.Values {
				p := kv.Key.GetToken().Position
				r.pos[kv.Key.String()] = [2]int{p.Line, p.Column}
				if kv.Key.String() == "when" {
					vt := kv.Value.GetToken().Position
					r.whenLine, r.whenCol = vt.Line, vt.Column
					if _, block := kv.Value.(*yast.LiteralNode); block {
						r.whenBlock = true
						r.whenLine++
						r.whenCol = vt.IndentNum + 1
						if r.whenCol <= p.Column {
							r.whenCol = p.Column + 2
						}
					} else if t := kv.Value.GetToken(); t.Type == 0 || strings.HasPrefix(t.Origin, "\"") {
						r.whenCol++ // skip the opening quote
					}
				}
			}
		}
		if err := r.validate(); err != nil {
			errs = append(errs, err.(*Error))
			continue
		}
		out = append(out, r)
	}
	if len(errs) > 0 {
		return out, errs
	}
	return out, nil
}

// errAt makes an Error at the position of the rule's key.
func (r *Rule) errAt(key, format string, args ...any) *Error {
	p, ok := r.pos[key]
	if !ok {
		p = [2]int{r.Line, 1}
	}
	return &Error{File: r.File, Line: p[0], Column: p[1], RuleID: r.ID, Msg: fmt.Sprintf(format, args...)}
}

func (r *Rule) validate() error {
	switch {
	case r.ID == "":
		return r.errAt("id", "id: missing")
	case !validID.MatchString(r.ID):
		return r.errAt("id", "id: %q must be dotted lower-case words, like scan.tcp.vertical", r.ID)
	case r.Name == "":
		return r.errAt("name", "name: missing")
	case r.Severity < 1 || r.Severity > 100:
		return r.errAt("severity", "severity: %d is not from 1 to 100", r.Severity)
	case strings.TrimSpace(r.When) == "":
		return r.errAt("when", "when: missing")
	case len(r.Techniques) == 0:
		return r.errAt("techniques", "techniques: at least one MITRE ATT&CK id (or \"spam\") is needed")
	}
	for _, t := range r.Techniques {
		if !techniqueRE.MatchString(t) && t != "spam" {
			return r.errAt("techniques", "techniques: %q is not an ATT&CK id like T1046 or T1110.001", t)
		}
	}
	if c := r.Correlate; c != nil {
		switch {
		case c.Threshold < 1:
			return r.errAt("correlate", "correlate.threshold: %d must be at least 1", c.Threshold)
		case c.Window <= 0:
			return r.errAt("correlate", "correlate.window: missing or not positive")
		case time.Duration(c.Window) > 7*24*time.Hour:
			return r.errAt("correlate", "correlate.window: %v is over the maximum of 7 days", time.Duration(c.Window))
		case len(c.GroupBy) > maxGroupBy:
			return r.errAt("correlate", "correlate.group_by: at most %d fields", maxGroupBy)
		}
	}
	for _, t := range append(append([]TestLine(nil), r.Tests.Fire...), r.Tests.Quiet...) {
		if t.Repeat < 0 || t.Repeat > 100000 {
			return r.errAt("tests", "tests: repeat %d is not from 0 to 100000", t.Repeat)
		}
	}
	return nil
}

var techniqueRE = regexp.MustCompile(`^T\d{4}(\.\d{3})?$`)

// yamlError turns a go-yaml error into an Error with the file's position.
func yamlError(file string, err error) *Error {
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		p := ye.GetToken().Position
		return &Error{File: file, Line: p.Line, Column: p.Column, Msg: ye.GetMessage()}
	}
	return &Error{File: file, Line: 1, Column: 1, Msg: err.Error()}
}

// Load reads every *.yaml and *.yml rule file under dir in fsys, in name
// order. Every error is returned, each naming its file, line and column.
func Load(fsys fs.FS, dir string) ([]*Rule, error) {
	var files []string
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (path.Ext(p) == ".yaml" || path.Ext(p) == ".yml") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []*Rule
	var errs Errors
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		rs, err := Parse(f, data)
		out = append(out, rs...)
		var es Errors
		var e *Error
		switch {
		case errors.As(err, &es):
			errs = append(errs, es...)
		case errors.As(err, &e):
			errs = append(errs, e)
		case err != nil:
			return nil, err
		}
	}
	seen := map[string]*Rule{}
	for _, r := range out {
		if prev, dup := seen[r.ID]; dup {
			e := r.errAt("id", "duplicate id: also defined at %s:%d", prev.File, prev.Line)
			errs = append(errs, e)
			continue
		}
		seen[r.ID] = r
	}
	if len(errs) > 0 {
		return out, errs
	}
	return out, nil
}
