package rules

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
)

// TestRef is the reference time rule tests parse year-less stamps with.
var TestRef = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// TestResult is the outcome of one rule's tests.
type TestResult struct {
	Rule     *Rule
	Failures []string
	Fired    int // detections from the fire lines
}

// OK reports whether every test passed.
func (r TestResult) OK() bool { return len(r.Failures) == 0 }

var templateRE = regexp.MustCompile(`\{\{\s*i\s*(?:([-+*/%])\s*(\d+))?\s*\}\}`)

// Expand returns the lines a test line stands for, with each copy's event
// time offset.
func (t TestLine) Expand() (lines []string, offsets []time.Duration) {
	n := max(t.Repeat, 1)
	for i := 0; i < n; i++ {
		line := templateRE.ReplaceAllStringFunc(t.Line, func(m string) string {
			sub := templateRE.FindStringSubmatch(m)
			v := i
			if sub[1] != "" {
				k, _ := strconv.Atoi(sub[2])
				switch sub[1] {
				case "+":
					v += k
				case "-":
					v -= k
				case "*":
					v *= k
				case "/":
					if k != 0 {
						v /= k
					}
				case "%":
					if k != 0 {
						v %= k
					}
				}
			}
			return strconv.Itoa(v)
		})
		lines = append(lines, line)
		offsets = append(offsets, time.Duration(i)*time.Duration(t.Every))
	}
	return lines, offsets
}

// RunTests runs each rule's fire and quiet tests: lines are parsed with
// auto-detection from reg, classified with lists (default internal ranges
// when nil) and matched by the rule alone. For a rule without correlate,
// each fire element must fire by itself and each quiet element must not;
// for a correlated rule, the fire elements replayed in order must fire at
// least once and the quiet ones never.
func RunTests(rs []*Rule, reg *parsers.Registry, lists *detect.Lists) ([]TestResult, error) {
	if lists == nil {
		lists = detect.NewLists(nil)
	}
	var out []TestResult
	for _, r := range rs {
		set, err := Compile([]*Rule{r})
		if err != nil {
			return nil, err
		}
		lists := lists
		if len(r.Tests.Indicators) > 0 || len(r.Tests.Trusted) > 0 {
			l, err := testLists(lists, r)
			if err != nil {
				return nil, err
			}
			lists = l
		}
		set.SetLists(lists)
		res := TestResult{Rule: r}
		if len(r.Tests.Fire) == 0 {
			res.Failures = append(res.Failures, "tests.fire: no lines that must fire")
		}
		if len(r.Tests.Quiet) == 0 {
			res.Failures = append(res.Failures, "tests.quiet: no lines that must stay quiet")
		}
		run := func(elems []TestLine) (int, []string) {
			m := set.NewMatcher()
			s, _ := parsers.NewStream(reg, "auto")
			s.Ref = TestRef
			var ev detect.Event
			var st detect.ClassifyStats
			fired := 0
			var problems []string
			for _, el := range elems {
				lines, offs := el.Expand()
				for i, line := range lines {
					if err := s.Parse([]byte(line), &ev); err != nil {
						if !errors.Is(err, detect.ErrNotEvent) {
							problems = append(problems, fmt.Sprintf("line does not parse: %v: %s", err, line))
						} else {
							problems = append(problems, fmt.Sprintf("line is not an event (%v): %s", err, line))
						}
						continue
					}
					ev.Timestamp = ev.Timestamp.Add(offs[i])
					if lists.Classify(&ev, &st) != detect.Keep {
						continue
					}
					if err := m.Match(&ev, func(*detect.Detection) { fired++ }); err != nil {
						problems = append(problems, err.Error())
					}
				}
			}
			return fired, problems
		}
		if r.Correlate == nil {
			for _, el := range r.Tests.Fire {
				n, p := run([]TestLine{el})
				res.Failures = append(res.Failures, p...)
				res.Fired += n
				if n == 0 && len(p) == 0 {
					res.Failures = append(res.Failures, "fire: did not fire: "+short(el.Line))
				}
			}
			for _, el := range r.Tests.Quiet {
				n, p := run([]TestLine{el})
				res.Failures = append(res.Failures, p...)
				if n > 0 {
					res.Failures = append(res.Failures, "quiet: fired: "+short(el.Line))
				}
			}
		} else {
			n, p := run(r.Tests.Fire)
			res.Failures = append(res.Failures, p...)
			res.Fired = n
			if n == 0 {
				res.Failures = append(res.Failures, fmt.Sprintf("fire: the %d fire elements did not fire", len(r.Tests.Fire)))
			}
			if len(r.Tests.Quiet) > 0 {
				n, p = run(r.Tests.Quiet)
				res.Failures = append(res.Failures, p...)
				if n > 0 {
					res.Failures = append(res.Failures, fmt.Sprintf("quiet: the quiet elements fired %d times", n))
				}
			}
		}
		out = append(out, res)
	}
	return out, nil
}

// testLists adds a rule's test indicators and trusted addresses to a copy
// of base.
func testLists(base *detect.Lists, r *Rule) (*detect.Lists, error) {
	l := *base
	l.Named = map[string]*detect.List{}
	for k, v := range base.Named {
		l.Named[k] = v
	}
	parse := func(name string, entries []string) (*detect.List, error) {
		list, err := detect.ParseList(name, r.File, strings.NewReader(strings.Join(entries, "\n")))
		if err != nil {
			return nil, r.errAt("tests", "tests.%s: %v", name, err)
		}
		return list, nil
	}
	if len(r.Tests.Indicators) > 0 {
		in, err := parse("indicators", r.Tests.Indicators)
		if err != nil {
			return nil, err
		}
		l.Indicators = append(append([]*detect.List(nil), base.Indicators...), in)
		l.Named["indicators"] = in
	}
	if len(r.Tests.Trusted) > 0 {
		tr, err := parse("trusted", r.Tests.Trusted)
		if err != nil {
			return nil, err
		}
		l.Trusted = tr
	}
	return &l, nil
}

func short(s string) string {
	if len(s) > 160 {
		return s[:157] + "..."
	}
	return strings.TrimSpace(s)
}
