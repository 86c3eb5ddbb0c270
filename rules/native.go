package rules

import (
	"net/netip"
	"regexp"
	"strings"

	"github.com/expr-lang/expr/ast"

	"github.com/cyberalarm/cyberalarm/detect"
)

// The native compiler turns the common shapes of a rule's condition —
// comparisons of fields with constants, in-lists, string tests, the helper
// functions, and &&, ||, ! over them — straight into Go closures, which run
// an order of magnitude faster than expr's VM and allocate nothing. A
// condition with any other shape runs on expr (see Rule.native). Both paths
// are checked against each other by TestNativeMatchesExpr.

type pred func(*detect.Event) bool

// val is a compiled value: a constant, or a function of the event.
type val struct {
	k       kind // kindString, kindInt, kindAddr, or kindBool
	isConst bool
	s       string
	n       int64
	b       bool
	list    []ast.Node // an array constant's elements
	fs      func(*detect.Event) string
	fn      func(*detect.Event) int64
	fa      func(*detect.Event) netip.Addr
	fb      pred
}

const kindBool kind = 100

type native struct {
	fields *fieldTable
	h      *helpers
}

// compile returns the condition as a closure, or false when it has a shape
// the native compiler does not know.
func (c *native) compile(n ast.Node) (pred, bool) {
	v, ok := c.value(n)
	if !ok || v.k != kindBool {
		return nil, false
	}
	if v.isConst {
		b := v.b
		return func(*detect.Event) bool { return b }, true
	}
	return v.fb, true
}

func boolVal(p pred) val { return val{k: kindBool, fb: p} }

func (c *native) value(n ast.Node) (val, bool) {
	switch n := n.(type) {
	case *ast.BoolNode:
		return val{k: kindBool, isConst: true, b: n.Value}, true
	case *ast.StringNode:
		return val{k: kindString, isConst: true, s: n.Value}, true
	case *ast.IntegerNode:
		return val{k: kindInt, isConst: true, n: int64(n.Value)}, true
	case *ast.ArrayNode:
		return val{isConst: true, list: n.Nodes}, true
	case *ast.IdentifierNode, *ast.MemberNode:
		name, ok := dotted(n)
		if !ok {
			return val{}, false
		}
		if i, ok := c.fields.byIdent[name]; ok {
			name = c.fields.list[i].name
		}
		f, ok := c.fields.lookup(name)
		if !ok {
			return val{}, false
		}
		switch f.kind {
		case kindString:
			return val{k: kindString, fs: f.str}, true
		case kindInt:
			return val{k: kindInt, fn: f.num}, true
		default:
			return val{k: kindAddr, fa: f.addr}, true
		}
	case *ast.UnaryNode:
		if n.Operator != "!" && n.Operator != "not" {
			return val{}, false
		}
		v, ok := c.value(n.Node)
		if !ok || v.k != kindBool {
			return val{}, false
		}
		if v.isConst {
			return val{k: kindBool, isConst: true, b: !v.b}, true
		}
		p := v.fb
		return boolVal(func(e *detect.Event) bool { return !p(e) }), true
	case *ast.BinaryNode:
		return c.binary(n)
	case *ast.CallNode:
		return c.call(n)
	case *ast.BuiltinNode:
		// expr parses lower() as its own builtin, with the same meaning.
		if n.Name == "lower" {
			return c.call(&ast.CallNode{Callee: &ast.IdentifierNode{Value: n.Name}, Arguments: n.Arguments})
		}
	}
	return val{}, false
}

// asBool makes a predicate of a bool value.
func asBool(v val) pred {
	if v.isConst {
		b := v.b
		return func(*detect.Event) bool { return b }
	}
	return v.fb
}

// asString reads a value as a string: addresses as their canonical text.
func asString(v val) (func(*detect.Event) string, bool) {
	switch v.k {
	case kindString:
		if v.isConst {
			s := v.s
			return func(*detect.Event) string { return s }, true
		}
		return v.fs, true
	case kindAddr:
		fa := v.fa
		return func(e *detect.Event) string {
			if a := fa(e); a.IsValid() {
				return a.String()
			}
			return ""
		}, true
	}
	return nil, false
}

func (c *native) binary(n *ast.BinaryNode) (val, bool) {
	l, ok1 := c.value(n.Left)
	r, ok2 := c.value(n.Right)
	if !ok1 || !ok2 {
		return val{}, false
	}
	switch n.Operator {
	case "&&", "and", "||", "or":
		if l.k != kindBool || r.k != kindBool {
			return val{}, false
		}
		a, b := asBool(l), asBool(r)
		if n.Operator == "&&" || n.Operator == "and" {
			return boolVal(func(e *detect.Event) bool { return a(e) && b(e) }), true
		}
		return boolVal(func(e *detect.Event) bool { return a(e) || b(e) }), true
	case "==", "!=":
		p, ok := equal(l, r)
		if !ok {
			return val{}, false
		}
		if n.Operator == "!=" {
			q := p
			p = func(e *detect.Event) bool { return !q(e) }
		}
		return boolVal(p), true
	case "<", "<=", ">", ">=":
		return compareInts(n.Operator, l, r)
	case "+", "-", "*":
		return arith(n.Operator, l, r)
	case "in", "not in":
		p, ok := c.in(l, r)
		if !ok {
			return val{}, false
		}
		if n.Operator == "not in" {
			q := p
			p = func(e *detect.Event) bool { return !q(e) }
		}
		return boolVal(p), true
	case "startsWith", "endsWith", "contains":
		fs, ok := asString(l)
		if !ok || r.k != kindString || !r.isConst {
			return val{}, false
		}
		return boolVal(stringTest(n.Operator, fs, r.s)), true
	case "matches":
		fs, ok := asString(l)
		if !ok || r.k != kindString || !r.isConst {
			return val{}, false
		}
		re, err := c.h.re.get(r.s)
		if err != nil {
			return val{}, false // expr reports the error
		}
		return boolVal(func(e *detect.Event) bool { return re.MatchString(fs(e)) }), true
	}
	return val{}, false
}

func stringTest(op string, fs func(*detect.Event) string, s string) pred {
	switch op {
	case "startsWith":
		return func(e *detect.Event) bool { return strings.HasPrefix(fs(e), s) }
	case "endsWith":
		return func(e *detect.Event) bool { return strings.HasSuffix(fs(e), s) }
	}
	return func(e *detect.Event) bool { return strings.Contains(fs(e), s) }
}

// equal compiles l == r for a field and a constant, or two fields of one
// kind.
func equal(l, r val) (pred, bool) {
	if l.isConst && !r.isConst {
		l, r = r, l
	}
	switch {
	case l.isConst || l.k == kindBool || r.k == kindBool:
		return nil, false
	case !r.isConst:
		if l.k != r.k {
			return nil, false
		}
		switch l.k {
		case kindString:
			a, b := l.fs, r.fs
			return func(e *detect.Event) bool { return a(e) == b(e) }, true
		case kindInt:
			a, b := l.fn, r.fn
			return func(e *detect.Event) bool { return a(e) == b(e) }, true
		default:
			a, b := l.fa, r.fa
			return func(e *detect.Event) bool { return a(e) == b(e) }, true
		}
	}
	switch l.k {
	case kindString:
		if r.k != kindString {
			return nil, false
		}
		f, s := l.fs, r.s
		return func(e *detect.Event) bool { return f(e) == s }, true
	case kindInt:
		if r.k != kindInt {
			return nil, false
		}
		f, n := l.fn, r.n
		return func(e *detect.Event) bool { return f(e) == n }, true
	default:
		if r.k != kindString {
			return nil, false
		}
		f := l.fa
		if r.s == "" {
			return func(e *detect.Event) bool { return !f(e).IsValid() }, true
		}
		a, err := netip.ParseAddr(r.s)
		if err != nil || a.String() != r.s {
			// Not canonical text: equal to no address, as in expr.
			return func(*detect.Event) bool { return false }, true
		}
		return func(e *detect.Event) bool { return f(e) == a }, true
	}
}

func compareInts(op string, l, r val) (val, bool) {
	if l.k != kindInt || r.k != kindInt {
		return val{}, false
	}
	a, b := intGetter(l), intGetter(r)
	switch op {
	case "<":
		return boolVal(func(e *detect.Event) bool { return a(e) < b(e) }), true
	case "<=":
		return boolVal(func(e *detect.Event) bool { return a(e) <= b(e) }), true
	case ">":
		return boolVal(func(e *detect.Event) bool { return a(e) > b(e) }), true
	}
	return boolVal(func(e *detect.Event) bool { return a(e) >= b(e) }), true
}

// intGetter reads an int value, constant or not.
func intGetter(v val) func(*detect.Event) int64 {
	if v.isConst {
		n := v.n
		return func(*detect.Event) int64 { return n }
	}
	return v.fn
}

// arith compiles integer +, - and *.
func arith(op string, l, r val) (val, bool) {
	if l.k != kindInt || r.k != kindInt {
		return val{}, false
	}
	a, b := intGetter(l), intGetter(r)
	var f func(*detect.Event) int64
	switch op {
	case "+":
		f = func(e *detect.Event) int64 { return a(e) + b(e) }
	case "-":
		f = func(e *detect.Event) int64 { return a(e) - b(e) }
	default:
		f = func(e *detect.Event) int64 { return a(e) * b(e) }
	}
	return val{k: kindInt, fn: f}, true
}

// in compiles a field in a list of constants.
func (c *native) in(l, r val) (pred, bool) {
	if r.list == nil || l.isConst || l.k == kindBool {
		return nil, false
	}
	switch l.k {
	case kindInt:
		set := make(map[int64]struct{}, len(r.list))
		for _, n := range r.list {
			i, ok := n.(*ast.IntegerNode)
			if !ok {
				return nil, false
			}
			set[int64(i.Value)] = struct{}{}
		}
		f := l.fn
		if len(set) <= 8 {
			list := make([]int64, 0, len(set))
			for n := range set {
				list = append(list, n)
			}
			return func(e *detect.Event) bool {
				v := f(e)
				for _, n := range list {
					if v == n {
						return true
					}
				}
				return false
			}, true
		}
		return func(e *detect.Event) bool { _, ok := set[f(e)]; return ok }, true
	case kindString:
		set, ok := stringSet(r.list)
		if !ok {
			return nil, false
		}
		f := l.fs
		if len(set) <= 8 {
			// A few comparisons beat hashing the string.
			list := make([]string, 0, len(set))
			for s := range set {
				list = append(list, s)
			}
			return func(e *detect.Event) bool {
				v := f(e)
				for _, s := range list {
					if v == s {
						return true
					}
				}
				return false
			}, true
		}
		return func(e *detect.Event) bool { _, ok := set[f(e)]; return ok }, true
	default:
		strs, ok := stringSet(r.list)
		if !ok {
			return nil, false
		}
		set := make(map[netip.Addr]struct{}, len(strs))
		for s := range strs {
			if a, err := netip.ParseAddr(s); err == nil && a.String() == s {
				set[a] = struct{}{}
			}
		}
		f := l.fa
		return func(e *detect.Event) bool { _, ok := set[f(e)]; return ok }, true
	}
}

func stringSet(nodes []ast.Node) (map[string]struct{}, bool) {
	set := make(map[string]struct{}, len(nodes))
	for _, n := range nodes {
		s, ok := n.(*ast.StringNode)
		if !ok {
			return nil, false
		}
		set[s.Value] = struct{}{}
	}
	return set, true
}

func (c *native) call(n *ast.CallNode) (val, bool) {
	id, ok := n.Callee.(*ast.IdentifierNode)
	if !ok {
		return val{}, false
	}
	args := make([]val, len(n.Arguments))
	for i, a := range n.Arguments {
		v, ok := c.value(a)
		if !ok {
			return val{}, false
		}
		args[i] = v
	}
	h := c.h
	switch id.Value {
	case "cidr":
		if len(args) != 2 || args[0].k != kindAddr || args[0].isConst || !args[1].isConst || args[1].k != kindString {
			return val{}, false
		}
		pfx, err := netip.ParsePrefix(args[1].s)
		if err != nil {
			return val{}, false // expr reports it
		}
		f := args[0].fa
		return boolVal(func(e *detect.Event) bool { return pfx.Contains(f(e)) }), true
	case "internal", "trusted":
		if len(args) != 1 || args[0].k != kindAddr || args[0].isConst {
			return val{}, false
		}
		f := args[0].fa
		if id.Value == "internal" {
			return boolVal(func(e *detect.Event) bool {
				l := h.lists()
				return l != nil && l.Internal(f(e))
			}), true
		}
		return boolVal(func(e *detect.Event) bool {
			l := h.lists()
			return l != nil && l.Trusted.ContainsAddr(f(e))
		}), true
	case "in_list":
		if len(args) != 2 || !args[0].isConst || args[0].k != kindString || args[1].isConst {
			return val{}, false
		}
		name := args[0].s
		if args[1].k == kindAddr {
			f := args[1].fa
			return boolVal(func(e *detect.Event) bool {
				l := h.lists()
				return l != nil && l.Named[name].ContainsAddr(f(e))
			}), true
		}
		fs, ok := asString(args[1])
		if !ok {
			return val{}, false
		}
		return boolVal(func(e *detect.Event) bool {
			l := h.lists()
			return l != nil && l.Named[name].Contains(fs(e))
		}), true
	case matchFunc, "has_prefix", "has_suffix", containsFunc:
		if len(args) != 2 || !args[1].isConst || args[1].k != kindString {
			return val{}, false
		}
		fs, ok := asString(args[0])
		if !ok {
			return val{}, false
		}
		s := args[1].s
		switch id.Value {
		case matchFunc:
			re, err := h.re.get(s)
			if err != nil {
				return val{}, false
			}
			return boolVal(matcher(re, fs)), true
		case "has_prefix":
			return boolVal(stringTest("startsWith", fs, s)), true
		case "has_suffix":
			return boolVal(stringTest("endsWith", fs, s)), true
		}
		return boolVal(stringTest("contains", fs, s)), true
	case "lower":
		if len(args) != 1 {
			return val{}, false
		}
		fs, ok := asString(args[0])
		if !ok {
			return val{}, false
		}
		return val{k: kindString, fs: func(e *detect.Event) string { return strings.ToLower(fs(e)) }}, true
	}
	return val{}, false
}

func matcher(re *regexp.Regexp, fs func(*detect.Event) string) pred {
	return func(e *detect.Event) bool { return re.MatchString(fs(e)) }
}
