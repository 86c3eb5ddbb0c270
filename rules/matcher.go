package rules

import (
	"fmt"

	"github.com/expr-lang/expr/vm"

	"github.com/cyberalarm/cyberalarm/detect"
)

// Matcher runs a Set's rules over a stream of classified events and keeps
// the correlation state. It is used by one goroutine at a time; a pipeline
// with several workers gives each its own Matcher and shards events by
// source so that each group lives in one Matcher.
type Matcher struct {
	set    *Set
	member string
	vm     vm.VM
	env    flatEnv
	cand   []int
	key    []byte
	state  *state
	stats  Stats
	det    detect.Detection
}

// MatcherOption configures a Matcher.
type MatcherOption func(*Matcher)

// WithMember sets member.id on every detection.
func WithMember(id string) MatcherOption { return func(m *Matcher) { m.member = id } }

// WithLimits bounds the correlation state.
func WithLimits(l Limits) MatcherOption {
	return func(m *Matcher) { m.state.limits = l.withDefaults() }
}

// NewMatcher returns a Matcher over s.
func (s *Set) NewMatcher(opts ...MatcherOption) *Matcher {
	m := &Matcher{set: s}
	m.state = newState(Limits{}, &m.stats)
	for _, o := range opts {
		o(m)
	}
	return m
}

// eval reports whether ev meets rule c's condition.
func (m *Matcher) eval(c *compiled, ev *detect.Event) (bool, error) {
	m.stats.Evaluated++
	if c.native != nil {
		return c.native(ev), nil
	}
	return runExpr(&m.vm, c.program, m.env.fill(c.reads, ev))
}

// Match runs the rules on ev, which classification has kept, and calls emit
// for each detection that is due. The detection passed to emit is reused
// after emit returns. Conditions that fail to evaluate are counted in
// Stats.Errors and the first such error is returned; the other rules still
// run.
func (m *Matcher) Match(ev *detect.Event, emit func(*detect.Detection)) error {
	m.stats.Events++
	m.state.expire()
	m.cand = m.set.index.candidates(ev, m.cand[:0])
	var first error
	for _, i := range m.cand {
		c := m.set.rules[i]
		ok, err := m.eval(c, ev)
		if err != nil {
			m.stats.Errors++
			if first == nil {
				first = fmt.Errorf("rule %s: %w", c.ID, err)
			}
			continue
		}
		if !ok {
			continue
		}
		m.stats.Matched++
		m.key = m.groupKey(c, ev)
		if m.state.observe(c, m.key, ev, &m.det) {
			m.det.MemberID = m.member
			m.stats.Detections++
			emit(&m.det)
		}
	}
	return first
}

// groupKey is the rule's index and its group_by values, 0-separated.
func (m *Matcher) groupKey(c *compiled, ev *detect.Event) []byte {
	k := append(m.key[:0], byte(c.idx>>8), byte(c.idx), 0)
	for _, f := range c.groupBy {
		k = f.appendValue(k, ev)
		k = append(k, 0)
	}
	return k
}

// Stats returns the Matcher's counters.
func (m *Matcher) Stats() Stats {
	st := m.stats
	st.Groups = len(m.state.groups)
	st.StateBytes = m.state.bytes
	return st
}

// Verdict is one rule's answer to one event, for explain.
type Verdict struct {
	Rule      *Rule
	Indexed   bool // the index offered the event to the rule
	Matched   bool
	Native    bool // evaluated as native closures, not on expr
	Err       error
	Reads     map[string]string // the fields the condition reads, as the rule saw them
	Correlate string            // what the correlation counts, for a match
}

// Explain evaluates every rule on ev, without touching correlation state,
// and says which matched and what each read.
func (m *Matcher) Explain(ev *detect.Event) []Verdict {
	cand := map[int]bool{}
	for _, i := range m.set.index.candidates(ev, nil) {
		cand[i] = true
	}
	var out []Verdict
	for _, c := range m.set.rules {
		v := Verdict{Rule: c.Rule, Indexed: cand[c.idx], Native: c.native != nil, Reads: map[string]string{}}
		v.Matched, v.Err = m.eval(c, ev)
		for _, f := range c.reads {
			v.Reads[f.name] = string(f.appendValue(nil, ev))
		}
		if v.Matched && c.Correlate != nil {
			key := ""
			for i, f := range c.groupBy {
				if i > 0 {
					key += ", "
				}
				key += f.name + "=" + string(f.appendValue(nil, ev))
			}
			what := "events"
			if c.distinct != nil {
				what = "distinct " + c.distinct.name
			}
			v.Correlate = fmt.Sprintf("counts toward %d %s within %v for %s", c.thresh, what, c.window, key)
		}
		out = append(out, v)
	}
	return out
}
