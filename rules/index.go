package rules

import (
	"github.com/expr-lang/expr/ast"
	exprparser "github.com/expr-lang/expr/parser"

	"github.com/cyberalarm/cyberalarm/detect"
)

// indexFields are the fields rules are indexed by, most selective first.
// A rule whose condition is a conjunction with `field == constant` or
// `field in [constants]` for one of them is only evaluated on events with
// one of those values; most rules then never run for most events.
var indexFields = [...]string{"destination.port", "event.dataset", "event.category", "network.transport", "event.type"}

type index struct {
	always []int // rules with no indexed predicate
	fields []*field
	str    []map[string][]int // per field, for string fields
	num    []map[int64][]int  // per field, for int fields
}

func buildIndex(s *Set, off bool) index {
	ix := index{str: make([]map[string][]int, len(indexFields)), num: make([]map[int64][]int, len(indexFields))}
	for _, name := range indexFields {
		f, _ := s.fields.lookup(name)
		ix.fields = append(ix.fields, f)
	}
	for _, c := range s.rules {
		fi, values := -1, []any(nil)
		if !off {
			tree, err := exprparser.Parse(c.When)
			if err == nil {
				fi, values = ix.pick(s, tree.Node)
			}
		}
		if fi < 0 {
			ix.always = append(ix.always, c.idx)
			continue
		}
		for _, v := range values {
			switch v := v.(type) {
			case string:
				if ix.str[fi] == nil {
					ix.str[fi] = map[string][]int{}
				}
				ix.str[fi][v] = append(ix.str[fi][v], c.idx)
			case int64:
				if ix.num[fi] == nil {
					ix.num[fi] = map[int64][]int{}
				}
				ix.num[fi][v] = append(ix.num[fi][v], c.idx)
			}
		}
	}
	return ix
}

// pick finds the most selective indexed predicate among the top-level
// conjuncts of a condition.
func (ix *index) pick(s *Set, n ast.Node) (int, []any) {
	best, bestVals := -1, []any(nil)
	for _, conj := range conjuncts(n) {
		b, ok := conj.(*ast.BinaryNode)
		if !ok || (b.Operator != "==" && b.Operator != "in") {
			continue
		}
		name, ok := dotted(b.Left)
		if !ok {
			continue
		}
		if i, ok := s.fields.byIdent[name]; ok {
			name = s.fields.list[i].name
		}
		fi := -1
		for i, f := range indexFields {
			if f == name {
				fi = i
			}
		}
		if fi < 0 || (best >= 0 && fi >= best) {
			continue
		}
		vals, ok := constants(b.Operator, b.Right, ix.fields[fi].kind)
		if !ok {
			continue
		}
		best, bestVals = fi, vals
	}
	return best, bestVals
}

func conjuncts(n ast.Node) []ast.Node {
	if b, ok := n.(*ast.BinaryNode); ok && (b.Operator == "&&" || b.Operator == "and") {
		return append(conjuncts(b.Left), conjuncts(b.Right)...)
	}
	return []ast.Node{n}
}

func constants(op string, n ast.Node, k kind) ([]any, bool) {
	one := func(n ast.Node) (any, bool) {
		switch n := n.(type) {
		case *ast.StringNode:
			return n.Value, k == kindString
		case *ast.IntegerNode:
			return int64(n.Value), k == kindInt
		}
		return nil, false
	}
	if op == "==" {
		v, ok := one(n)
		return []any{v}, ok
	}
	arr, ok := n.(*ast.ArrayNode)
	if !ok {
		return nil, false
	}
	var out []any
	for _, e := range arr.Nodes {
		v, ok := one(e)
		if !ok {
			return nil, false
		}
		out = append(out, v)
	}
	return out, true
}

// candidates appends the rules that may match ev.
func (ix *index) candidates(ev *detect.Event, dst []int) []int {
	dst = append(dst, ix.always...)
	for i, f := range ix.fields {
		switch {
		case ix.str[i] != nil:
			dst = append(dst, ix.str[i][f.str(ev)]...)
		case ix.num[i] != nil:
			dst = append(dst, ix.num[i][f.num(ev)]...)
		}
	}
	return dst
}
