package rules

import (
	"fmt"
	"sort"
	"strings"

	"github.com/expr-lang/expr/ast"
	exprparser "github.com/expr-lang/expr/parser"
)

// Finding is one lint finding.
type Finding struct {
	Rule *Rule
	Msg  string
}

func (f Finding) String() string {
	line, col := f.Rule.whenLine, f.Rule.whenCol
	if line == 0 {
		line, col = f.Rule.Line, 1
	}
	return fmt.Sprintf("%s:%d:%d: rule %s: %s", f.Rule.File, line, col, f.Rule.ID, f.Msg)
}

// enums are the values the event contract allows for some fields.
var enums = map[string][]string{
	"event.category":    {"network", "intrusion_detection", "malware", "email", "authentication", "web"},
	"event.type":        {"allowed", "denied", "info"},
	"event.outcome":     {"success", "failure"},
	"network.transport": {"tcp", "udp", "icmp", "ipv6-icmp"},
	"network.direction": {"inbound", "outbound", "internal", "external"},
}

// Lint flags what compiles but cannot be right: conditions that are always
// true or always false, comparisons with values a field never takes,
// unknown datasets, fields that no parser sets (or that the datasets a rule
// names never set), and duplicate ids. datasets maps each parser name to
// the fields it sets; nil skips the field checks.
func Lint(rs []*Rule, datasets map[string][]string) []Finding {
	var out []Finding
	seen := map[string]*Rule{}
	setBy := map[string]bool{}
	for _, fields := range datasets {
		for _, f := range fields {
			setBy[f] = true
		}
	}
	for _, r := range rs {
		add := func(format string, args ...any) { out = append(out, Finding{r, fmt.Sprintf(format, args...)}) }
		if prev, dup := seen[r.ID]; dup {
			add("duplicate id: also defined at %s:%d", prev.File, prev.Line)
		}
		seen[r.ID] = r
		set, err := Compile([]*Rule{r})
		if err != nil {
			add("%v", err)
			continue
		}
		c := set.rules[0]
		tree, err := exprparser.Parse(rewriteMatches(r.When))
		if err != nil {
			continue
		}
		if v, ok := (&native{fields: set.fields, h: set.h}).value(tree.Node); ok && v.isConst {
			add("condition is always %v", v.b)
		}
		var wantDatasets []string
		for _, conj := range conjuncts(tree.Node) {
			name, vals := eqConstants(set, conj)
			if name == "" {
				continue
			}
			if allowed, ok := enums[name]; ok {
				for _, v := range vals {
					if !contains(allowed, v) {
						add("%s is never %q (it is one of %s): the condition is always false", name, v, strings.Join(allowed, ", "))
					}
				}
			}
			if name == "event.dataset" && datasets != nil {
				for _, v := range vals {
					if _, ok := datasets[v]; !ok {
						add("event.dataset %q is no parser's name", v)
					}
				}
				wantDatasets = vals
			}
		}
		if datasets == nil {
			continue
		}
		for _, f := range c.reads {
			if !setBy[f.name] && f.name != "threat.feed.name" && f.name != "network.direction" {
				add("no parser sets %s", f.name)
				continue
			}
			if len(wantDatasets) == 0 {
				continue
			}
			any := false
			for _, ds := range wantDatasets {
				if contains(datasets[ds], f.name) {
					any = true
				}
			}
			if !any {
				add("%s is never set by %s", f.name, strings.Join(wantDatasets, ", "))
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Rule.File < out[j].Rule.File })
	return out
}

// eqConstants reads `field == "x"` and `field in ["x", "y"]`.
func eqConstants(s *Set, n ast.Node) (string, []string) {
	b, ok := n.(*ast.BinaryNode)
	if !ok || (b.Operator != "==" && b.Operator != "in") {
		return "", nil
	}
	name, ok := dotted(b.Left)
	if !ok {
		return "", nil
	}
	if _, ok := s.fields.lookup(name); !ok {
		return "", nil
	}
	var vals []string
	switch r := b.Right.(type) {
	case *ast.StringNode:
		vals = []string{r.Value}
	case *ast.ArrayNode:
		for _, e := range r.Nodes {
			sn, ok := e.(*ast.StringNode)
			if !ok {
				return "", nil
			}
			vals = append(vals, sn.Value)
		}
	default:
		return "", nil
	}
	return name, vals
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
