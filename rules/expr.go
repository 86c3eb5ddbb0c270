package rules

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"

	"github.com/cyberalarm/cyberalarm/detect"
)

// maxNodes bounds the size of a rule's condition.
const maxNodes = 500

// flattener is an expr patcher that turns field access written with dots,
// source.ip, into the one flat name source_ip, so that expr evaluates it on
// a flat map, its fast path.
type flattener struct{ fields *fieldTable }

func (f flattener) Visit(node *ast.Node) {
	name, ok := dotted(*node)
	if !ok || !strings.Contains(name, ".") {
		return
	}
	if _, ok := f.fields.byName[name]; ok {
		ast.Patch(node, &ast.IdentifierNode{Value: ident(name)})
	}
}

// dotted returns the dotted name that a chain of member accesses spells.
func dotted(n ast.Node) (string, bool) {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		return n.Value, true
	case *ast.MemberNode:
		if n.Optional || n.Method {
			return "", false
		}
		prop, ok := n.Property.(*ast.StringNode)
		if !ok {
			return "", false
		}
		base, ok := dotted(n.Node)
		if !ok {
			return "", false
		}
		return base + "." + prop.Value, true
	}
	return "", false
}

// exprEnv is the typed, flat environment rules are checked against.
func exprEnv(t *fieldTable) map[string]any {
	env := make(map[string]any, len(t.list))
	for _, f := range t.list {
		switch f.kind {
		case kindInt:
			env[f.id] = 0
		default:
			env[f.id] = ""
		}
	}
	return env
}

// helpers is what rules' helper functions consult: the lists of the
// collector that runs them, and compiled regexps.
type helpers struct {
	lists func() *detect.Lists
	re    *regexCache
}

// regexCache compiles each pattern once. It is filled at compile time
// only: patterns given as constants are compiled while the rule compiles.
type regexCache struct{ m map[string]*regexp.Regexp }

func (c *regexCache) get(pat string) (*regexp.Regexp, error) {
	if re, ok := c.m[pat]; ok {
		return re, nil
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, err
	}
	c.m[pat] = re
	return re, nil
}

func str(a any) string { s, _ := a.(string); return s }

func parseIP(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// exprOptions are the options every rule compiles with: the flat typed
// environment, bool results, a node limit and the helper functions.
func (h *helpers) exprOptions(t *fieldTable) []expr.Option {
	lists := func() *detect.Lists {
		if l := h.lists(); l != nil {
			return l
		}
		return detect.NewLists(nil)
	}
	return []expr.Option{
		expr.Env(exprEnv(t)),
		expr.AsBool(),
		expr.MaxNodes(maxNodes),
		expr.Patch(flattener{t}),
		expr.Function("cidr", func(p ...any) (any, error) {
			pfx, err := netip.ParsePrefix(str(p[1]))
			if err != nil {
				return nil, fmt.Errorf("cidr: %v", err)
			}
			a := parseIP(str(p[0]))
			return a.IsValid() && pfx.Contains(a), nil
		}, new(func(string, string) bool)),
		expr.Function("internal", func(p ...any) (any, error) {
			return lists().Internal(parseIP(str(p[0]))), nil
		}, new(func(string) bool)),
		expr.Function("trusted", func(p ...any) (any, error) {
			return lists().Trusted.Contains(str(p[0])), nil
		}, new(func(string) bool)),
		expr.Function("in_list", func(p ...any) (any, error) {
			return lists().Named[str(p[0])].Contains(str(p[1])), nil
		}, new(func(string, string) bool)),
		expr.Function(matchFunc, func(p ...any) (any, error) {
			re, err := h.re.get(str(p[1]))
			if err != nil {
				return nil, err
			}
			return re.MatchString(str(p[0])), nil
		}, new(func(string, string) bool)),
		expr.Function("lower", func(p ...any) (any, error) {
			return strings.ToLower(str(p[0])), nil
		}, new(func(string) string)),
		expr.Function("has_prefix", func(p ...any) (any, error) {
			return strings.HasPrefix(str(p[0]), str(p[1])), nil
		}, new(func(string, string) bool)),
		expr.Function("has_suffix", func(p ...any) (any, error) {
			return strings.HasSuffix(str(p[0]), str(p[1])), nil
		}, new(func(string, string) bool)),
		expr.Function(containsFunc, func(p ...any) (any, error) {
			return strings.Contains(str(p[0]), str(p[1])), nil
		}, new(func(string, string) bool)),
	}
}

// flatEnv is a reused flat environment for expr evaluation, filled with the
// fields the fallback rules read.
type flatEnv struct {
	m     map[string]any
	addrs map[netip.Addr]string // text of recent addresses, to spare allocations
}

func (e *flatEnv) fill(fields []*field, ev *detect.Event) map[string]any {
	if e.m == nil {
		e.m = make(map[string]any, len(fields))
		e.addrs = make(map[netip.Addr]string)
	}
	for _, f := range fields {
		k := f.id
		switch f.kind {
		case kindString:
			e.m[k] = f.str(ev)
		case kindInt:
			e.m[k] = int(f.num(ev))
		default:
			a := f.addr(ev)
			if !a.IsValid() {
				e.m[k] = ""
				continue
			}
			s, ok := e.addrs[a]
			if !ok {
				if len(e.addrs) > 4096 {
					clear(e.addrs)
				}
				s = a.String()
				e.addrs[a] = s
			}
			e.m[k] = s
		}
	}
	return e.m
}

// runExpr evaluates a compiled fallback program.
func runExpr(machine *vm.VM, p *vm.Program, env map[string]any) (bool, error) {
	out, err := machine.Run(p, env)
	if err != nil {
		return false, err
	}
	b, _ := out.(bool)
	return b, nil
}
