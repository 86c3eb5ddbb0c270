package rules

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	exprparser "github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/cyberalarm/cyberalarm/detect"
)

// maxGroupBy is the most fields a correlation may group by.
const maxGroupBy = 4

// DefaultSuppress is how long a rule without correlate stays quiet for one
// source after it fired: one detection per source per rule per window.
const DefaultSuppress = 10 * time.Minute

// compiled is one rule ready to run.
type compiled struct {
	*Rule
	idx     int
	native  pred        // nil when the condition runs on expr
	program *vm.Program // always compiled: the reference, and the fallback
	reads   []*field    // fields the condition reads (for the expr env)

	groupBy  []*field
	distinct *field
	thresh   int
	window   time.Duration
	campaign bool // grouped by target, counting distinct sources
}

// Set is a compiled rule set. It is immutable and safe for concurrent use;
// each goroutine runs it through its own Matcher.
type Set struct {
	rules  []*compiled
	fields *fieldTable
	h      *helpers
	index  index
	lists  atomic.Pointer[detect.Lists]
}

// Option configures Compile.
type Option func(*config)

type config struct {
	noNative bool
	noIndex  bool
}

// WithoutNative evaluates every condition on expr's VM, not as native
// closures: for measuring and for checking one against the other.
func WithoutNative() Option { return func(c *config) { c.noNative = true } }

// WithoutIndex evaluates every rule on every event instead of only those
// whose indexed predicates the event meets: for measuring the index.
func WithoutIndex() Option { return func(c *config) { c.noIndex = true } }

// Compile compiles rules into a Set. Every error names the file, line and
// column, and for a condition the snippet of the expression.
func Compile(rs []*Rule, opts ...Option) (*Set, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	s := &Set{fields: newFieldTable()}
	s.h = &helpers{lists: s.lists.Load, re: &regexCache{m: map[string]*regexp.Regexp{}}}
	nat := &native{fields: s.fields, h: s.h}
	exprOpts := s.h.exprOptions(s.fields)
	var errs Errors
	seen := map[string]bool{}
	for _, r := range rs {
		if seen[r.ID] {
			errs = append(errs, r.errAt("id", "duplicate id"))
			continue
		}
		seen[r.ID] = true
		c, err := s.compileRule(r, nat, exprOpts, cfg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.idx = len(s.rules)
		s.rules = append(s.rules, c)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	s.index = buildIndex(s, cfg.noIndex)
	return s, nil
}

func (s *Set) compileRule(r *Rule, nat *native, exprOpts []expr.Option, cfg config) (*compiled, *Error) {
	c := &compiled{Rule: r}
	when := rewriteMatches(r.When)
	p, err := expr.Compile(when, exprOpts...)
	if err != nil {
		return nil, r.exprError(err)
	}
	c.program = p
	tree, err := exprparser.Parse(when)
	if err != nil {
		return nil, r.exprError(err)
	}
	c.reads = s.reads(tree.Node)
	if !cfg.noNative {
		if fn, ok := nat.compile(tree.Node); ok {
			c.native = fn
		}
	}
	if cr := r.Correlate; cr != nil {
		c.thresh = cr.Threshold
		c.window = time.Duration(cr.Window)
		for _, name := range cr.GroupBy {
			f, ok := s.fields.lookup(name)
			if !ok {
				return nil, r.errAt("correlate", "correlate.group_by: unknown field %q (fields: %s)", name, strings.Join(FieldNames(), ", "))
			}
			c.groupBy = append(c.groupBy, f)
		}
		if cr.Distinct != "" {
			f, ok := s.fields.lookup(cr.Distinct)
			if !ok {
				return nil, r.errAt("correlate", "correlate.distinct: unknown field %q", cr.Distinct)
			}
			c.distinct = f
			c.campaign = f.name == "source.ip" && !groups(c.groupBy, "source.ip")
		}
	} else {
		c.thresh = 1
		c.window = DefaultSuppress
		f, _ := s.fields.lookup("source.ip")
		c.groupBy = []*field{f}
	}
	return c, nil
}

func groups(fs []*field, name string) bool {
	for _, f := range fs {
		if f.name == name {
			return true
		}
	}
	return false
}

// The helpers matches(value, "regex") and contains(s, sub) share their
// names with expr operators, which expr's parser reserves. Inside expr they
// are called by other names of the same length, so that error columns stay
// true.
const (
	matchFunc    = "matchre"
	containsFunc = "contain_"
)

// rewriteMatches renames calls of matches( and contains( outside string
// literals.
func rewriteMatches(src string) string {
	if !strings.Contains(src, "matches") && !strings.Contains(src, "contains") {
		return src
	}
	b := []byte(src)
	var quote byte
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case (c == 'm' || c == 'c') && (i == 0 || !isIdent(b[i-1])):
			for word, fn := range map[string]string{"matches": matchFunc, "contains": containsFunc} {
				if !strings.HasPrefix(string(b[i:]), word) {
					continue
				}
				j := i + len(word)
				for j < len(b) && (b[j] == ' ' || b[j] == '\t') {
					j++
				}
				if j < len(b) && b[j] == '(' {
					copy(b[i:], fn)
				}
				i += len(word) - 1
				break
			}
		}
	}
	return string(b)
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// reads lists the event fields a condition reads.
func (s *Set) reads(n ast.Node) []*field {
	seen := map[string]bool{}
	var out []*field
	var walk func(ast.Node)
	walk = func(n ast.Node) {
		if name, ok := dotted(n); ok {
			if i, ok := s.fields.byIdent[name]; ok {
				name = s.fields.list[i].name
			}
			if f, ok := s.fields.lookup(name); ok && !seen[name] {
				seen[name] = true
				out = append(out, f)
			}
			return
		}
		switch n := n.(type) {
		case *ast.UnaryNode:
			walk(n.Node)
		case *ast.BinaryNode:
			walk(n.Left)
			walk(n.Right)
		case *ast.CallNode:
			for _, a := range n.Arguments {
				walk(a)
			}
		case *ast.BuiltinNode:
			for _, a := range n.Arguments {
				walk(a)
			}
		case *ast.ArrayNode:
			for _, a := range n.Nodes {
				walk(a)
			}
		case *ast.ConditionalNode:
			walk(n.Cond)
			walk(n.Exp1)
			walk(n.Exp2)
		case *ast.MemberNode:
			walk(n.Node)
			walk(n.Property)
		}
	}
	walk(n)
	return out
}

// exprError places an expr error in the rule file.
func (r *Rule) exprError(err error) *Error {
	e := &Error{File: r.File, Line: r.whenLine, Column: r.whenCol, RuleID: r.ID, Msg: "when: " + err.Error()}
	var fe *file.Error
	if errors.As(err, &fe) {
		e.Msg = "when: " + fe.Message
		e.Snippet = snippet(r.When, fe.Line, fe.Column)
		if fe.Line > 1 {
			e.Line += fe.Line - 1
			if !r.whenBlock {
				e.Column = 1
			}
			e.Column += fe.Column
		} else {
			e.Column += fe.Column
		}
	}
	return e
}

// snippet shows the expression's line with a caret under the column.
func snippet(src string, line, col int) string {
	lines := strings.Split(src, "\n")
	if line < 1 || line > len(lines) {
		return ""
	}
	l := lines[line-1]
	return fmt.Sprintf(" | %s\n | %s^", l, strings.Repeat(".", max(0, min(col, len(l)))))
}

// SetLists installs the lists that classification and the helper functions
// internal(), trusted() and in_list() consult. It is safe to call while
// Matchers run: updates from central swap lists without a restart.
func (s *Set) SetLists(l *detect.Lists) { s.lists.Store(l) }

// Len returns the number of rules.
func (s *Set) Len() int { return len(s.rules) }

// Rules returns the rules as written.
func (s *Set) Rules() []*Rule {
	out := make([]*Rule, len(s.rules))
	for i, c := range s.rules {
		out[i] = c.Rule
	}
	return out
}

// Native reports how many conditions compiled to native closures; the
// rest run on expr.
func (s *Set) Native() int {
	n := 0
	for _, c := range s.rules {
		if c.native != nil {
			n++
		}
	}
	return n
}
