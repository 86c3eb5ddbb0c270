package config

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	yast "github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// The decoder walks go-yaml's syntax tree into the config structs itself,
// rather than through yaml.NodeToValue, so that it can go on after an error
// and report every unknown setting and wrong type at once, each at its own
// line and column, and record where each setting was written for the
// checks that follow.
type decoder struct {
	file    string
	pos     positions
	anchors map[string]yast.Node
	errs    Errors
	depth   int // of merges within merges
	work    int // values and merged keys visited, against maxWork
}

// maxDepth bounds chains of aliases and merges, which could otherwise loop,
// and
// maxWork bounds the values aliases and merge keys expand to, which could
// otherwise grow exponentially ("billion laughs").
const (
	maxDepth = 32
	maxWork  = 1 << 16
)

// spend counts one unit of work, and reports whether the budget allows it.
// The first refusal is reported at n.
func (d *decoder) spend(n yast.Node, path string) bool {
	if d.work++; d.work == maxWork {
		d.errorf(n, path, "aliases and merges expand to too many settings")
	}
	return d.work < maxWork
}

// decode parses data and fills c, which holds the values that unwritten
// settings keep. It returns where each setting was written.
func decode(file string, data []byte, c *Config) (positions, Errors) {
	d := &decoder{file: file, pos: positions{}, anchors: map[string]yast.Node{}}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return d.pos, Errors{syntaxError(file, err)}
	}
	var body yast.Node
	for _, doc := range f.Docs {
		if doc.Body == nil {
			continue
		}
		if body != nil {
			p := nodePos(doc.Body)
			return d.pos, Errors{{File: file, Line: p.line, Column: p.col, Msg: "a config file holds one YAML document"}}
		}
		body = doc.Body
	}
	if body == nil {
		return d.pos, nil
	}
	yast.Walk(d, body)
	d.value("", body, reflect.ValueOf(c).Elem())
	return d.pos, d.errs
}

// syntaxError turns a go-yaml parse error into an Error at its place.
func syntaxError(file string, err error) *Error {
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		p := ye.GetToken().Position
		return &Error{File: file, Line: p.Line, Column: p.Column, Msg: ye.GetMessage()}
	}
	return &Error{File: file, Line: 1, Column: 1, Msg: err.Error()}
}

// Visit records every anchor, so that aliases resolve wherever they are.
func (d *decoder) Visit(n yast.Node) yast.Visitor {
	if a, ok := n.(*yast.AnchorNode); ok {
		name := a.Name.GetToken().Value
		if _, dup := d.anchors[name]; dup {
			d.errorf(a, "", "anchor &%s is defined twice", name)
		}
		d.anchors[name] = a.Value
	}
	return d
}

func (d *decoder) errorf(n yast.Node, path, format string, args ...any) {
	p := nodePos(n)
	d.errs = append(d.errs, &Error{File: d.file, Line: p.line, Column: p.col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// nodePos is where a node's text starts. A block mapping's own token is the
// ":" after its first key, so it is placed at that key instead.
func nodePos(n yast.Node) pos {
	if m, ok := n.(*yast.MappingNode); ok && !m.IsFlowStyle && len(m.Values) > 0 {
		n = m.Values[0].Key
	}
	p := n.GetToken().Position
	return pos{line: p.Line, col: p.Column}
}

// resolve looks through anchors, aliases and tags to the node that holds
// the value. It returns nil, having reported why, for an unknown alias.
func (d *decoder) resolve(path string, n yast.Node) yast.Node {
	r, bad := follow(n, d.anchors)
	if r == nil {
		if a, ok := bad.(*yast.AliasNode); ok {
			d.errorf(a, path, "alias *%s names no anchor", a.Value.GetToken().Value)
		} else {
			d.errorf(bad, path, "aliases nest too deep")
		}
	}
	return r
}

// follow looks through anchors, aliases and tags. On failure it returns
// nil and the node that could not be followed. go-yaml's parser refuses an
// anchor or alias on an alias, so chains are short; the bound is there so
// that the decoder does not depend on that.
func follow(n yast.Node, anchors map[string]yast.Node) (yast.Node, yast.Node) {
	for range maxDepth {
		switch m := n.(type) {
		case *yast.AnchorNode:
			n = m.Value
		case *yast.TagNode:
			n = m.Value
		case *yast.AliasNode:
			v, ok := anchors[m.Value.GetToken().Value]
			if !ok {
				return nil, m
			}
			n = v
		default:
			return n, nil
		}
	}
	return nil, n
}

// value decodes n into v, the setting at path.
func (d *decoder) value(path string, n yast.Node, v reflect.Value) {
	if !d.spend(n, path) {
		return
	}
	at := n
	if n = d.resolve(path, n); n == nil {
		return
	}
	if _, null := n.(*yast.NullNode); null {
		return // "key:" with nothing after it leaves the setting unset
	}
	if parse := leafParser(v); parse != nil {
		s, ok := scalarText(n)
		if !ok {
			d.errorf(at, path, "want %s, got %s", describe(v.Type()), nodeKind(n))
			return
		}
		if err := parse(s); err != nil {
			d.errorf(at, path, "%v", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.mapping(path, at, n, v)
	case reflect.Slice:
		d.sequence(path, at, n, v)
	case reflect.String:
		s, ok := scalarText(n)
		if _, isBool := n.(*yast.BoolNode); !ok || isBool {
			d.errorf(at, path, "want a string, got %s", nodeKind(n))
			return
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := n.(*yast.BoolNode)
		if !ok {
			d.errorf(at, path, "want true or false, got %s", nodeKind(n))
			return
		}
		v.SetBool(b.Value)
	case reflect.Int, reflect.Int64, reflect.Int32:
		i, ok := n.(*yast.IntegerNode)
		if !ok {
			d.errorf(at, path, "want a whole number, got %s", nodeKind(n))
			return
		}
		var x int64
		switch n := i.Value.(type) {
		case int64:
			x = n
		case uint64:
			if n > math.MaxInt64 {
				d.errorf(at, path, "%s is too large", i.Token.Value)
				return
			}
			x = int64(n)
		}
		if v.OverflowInt(x) {
			d.errorf(at, path, "%s is too large", i.Token.Value)
			return
		}
		v.SetInt(x)
	default:
		// A Config field of a kind the decoder does not know is a bug
		// here, not in the file.
		panic(fmt.Sprintf("config: setting %s has unsupported type %s", path, v.Type()))
	}
}

// mapping decodes a YAML mapping into the struct v. Keys merged in with
// "<<" come first, so that the mapping's own keys override them.
func (d *decoder) mapping(path string, at, n yast.Node, v reflect.Value) {
	m, ok := n.(*yast.MappingNode)
	if !ok {
		d.errorf(at, path, "want a mapping of settings, got %s", nodeKind(n))
		return
	}
	entries := d.entries(path, m)
	t := v.Type()
	for _, kv := range entries {
		key := kv.Key.GetToken().Value
		sub := key
		if path != "" {
			sub = path + "." + key
		}
		i := fieldIndex(t, key)
		if i < 0 {
			msg := "unknown setting"
			if near := nearest(key, yamlNames(t)); near != "" {
				msg += "; did you mean " + near + "?"
			}
			d.errorf(kv.Key, sub, "%s", msg)
			continue
		}
		d.record(sub, kv.Key, kv.Value)
		d.value(sub, kv.Value, v.Field(i))
	}
}

// entries returns a mapping's key-value pairs with merge keys expanded:
// merged pairs first, each key once, the last writing of it winning.
func (d *decoder) entries(path string, m *yast.MappingNode) []*yast.MappingValueNode {
	var out []*yast.MappingValueNode
	index := map[string]int{}
	add := func(kv *yast.MappingValueNode) {
		if !d.spend(kv, path) {
			return
		}
		key := kv.Key.GetToken().Value
		if i, ok := index[key]; ok {
			out[i] = kv
			return
		}
		index[key] = len(out)
		out = append(out, kv)
	}
	var own []*yast.MappingValueNode
	if !d.spend(m, path) || !d.enter(m, path) {
		return nil
	}
	defer d.leave()
	for _, kv := range m.Values {
		if _, merge := kv.Key.(*yast.MergeKeyNode); !merge {
			own = append(own, kv) // a key that is not a string is an unknown setting
			continue
		}
		for _, src := range d.mergeSources(path, kv.Value) {
			for _, e := range d.entries(path, src) {
				add(e)
			}
		}
	}
	for _, kv := range own {
		add(kv)
	}
	return out
}

// mergeSources returns the mappings a "<<" key merges: one mapping, or a
// sequence of them.
func (d *decoder) mergeSources(path string, n yast.Node) []*yast.MappingNode {
	if !d.enter(n, path) {
		return nil
	}
	defer d.leave()
	at := n
	if n = d.resolve(path, n); n == nil {
		return nil
	}
	switch m := n.(type) {
	case *yast.MappingNode:
		return []*yast.MappingNode{m}
	case *yast.SequenceNode:
		var out []*yast.MappingNode
		for _, e := range m.Values {
			out = append(out, d.mergeSources(path, e)...)
		}
		return out
	}
	d.errorf(at, path, "<< merges a mapping or a list of mappings, not %s", nodeKind(n))
	return nil
}

// enter goes one level deeper into merges, and reports whether that is
// allowed: merges of themselves would loop.
func (d *decoder) enter(n yast.Node, path string) bool {
	if d.depth++; d.depth > maxDepth {
		d.errorf(n, path, "merges nest too deep")
		d.depth--
		return false
	}
	return true
}

func (d *decoder) leave() { d.depth-- }

// sequence decodes a YAML sequence into the slice v.
func (d *decoder) sequence(path string, at, n yast.Node, v reflect.Value) {
	s, ok := n.(*yast.SequenceNode)
	if !ok {
		d.errorf(at, path, "want a list, got %s", nodeKind(n))
		return
	}
	v.Set(reflect.MakeSlice(v.Type(), len(s.Values), len(s.Values)))
	for i, e := range s.Values {
		sub := fmt.Sprintf("%s[%d]", path, i)
		d.record(sub, nil, e)
		d.value(sub, e, v.Index(i))
	}
}

// record notes where the setting at path was written: at its value when
// that is a scalar, else at its key, which is where a reader looks for a
// section. A sequence item has no key and is placed at its value.
func (d *decoder) record(path string, key, value yast.Node) {
	r, _ := follow(value, d.anchors)
	p := nodePos(value)
	if key != nil && (r == nil || !isScalar(r)) {
		p = nodePos(key)
	}
	_, p.null = r.(*yast.NullNode)
	d.pos[path] = p
}

func isScalar(n yast.Node) bool {
	switch n.(type) {
	case *yast.MappingNode, *yast.SequenceNode, *yast.NullNode:
		return false
	}
	return true
}

// scalarText is the text of a scalar as written, without quotes. Numbers
// keep their spelling, so member: 0042 stays "0042".
func scalarText(n yast.Node) (string, bool) {
	switch s := n.(type) {
	case *yast.StringNode:
		return s.Value, true
	case *yast.LiteralNode:
		return s.Value.Value, true
	case *yast.IntegerNode, *yast.FloatNode, *yast.BoolNode, *yast.InfinityNode, *yast.NanNode:
		return s.GetToken().Value, true
	}
	return "", false
}

// nodeKind names what was written, for "want X, got Y".
func nodeKind(n yast.Node) string {
	switch s := n.(type) {
	case *yast.MappingNode:
		return "a mapping"
	case *yast.SequenceNode:
		return "a list"
	case *yast.BoolNode:
		return strconv.FormatBool(s.Value)
	case *yast.StringNode:
		return strconv.Quote(s.Value)
	case *yast.LiteralNode:
		return "a block of text"
	case *yast.NullNode:
		return "nothing"
	}
	return n.GetToken().Value
}

// leafParser returns the parser for a setting written as a string that has
// its own syntax (durations, sizes, CIDR ranges), or nil.
func leafParser(v reflect.Value) func(string) error {
	switch p := v.Addr().Interface().(type) {
	case *time.Duration:
		return func(s string) error {
			x, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("%q is not a duration like 30s, 5m or 1h", s)
			}
			*p = x
			return nil
		}
	case *Size:
		return func(s string) (err error) {
			*p, err = ParseSize(s)
			return err
		}
	case *netip.Prefix:
		return func(s string) error {
			x, err := netip.ParsePrefix(strings.TrimSpace(s))
			if err != nil {
				if a, aerr := netip.ParseAddr(s); aerr == nil {
					x, err = a.Prefix(a.BitLen())
				}
			}
			if err != nil {
				return fmt.Errorf("%q is not a CIDR range like 10.0.0.0/8 or fd00::/8", s)
			}
			*p = x
			return nil
		}
	}
	return nil
}

// describe names what a leaf type wants, for "want X, got Y".
func describe(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[time.Duration]():
		return "a duration like 30s"
	case reflect.TypeFor[Size]():
		return "a size like 64KiB"
	case reflect.TypeFor[netip.Prefix]():
		return "a CIDR range"
	}
	return t.String()
}

// fieldIndex returns the index of t's field whose yaml tag is name, or -1.
func fieldIndex(t reflect.Type, name string) int {
	for i := range t.NumField() {
		if tagName(t.Field(i)) == name {
			return i
		}
	}
	return -1
}

// yamlNames returns the setting names of t's fields.
func yamlNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if n := tagName(t.Field(i)); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// tagName is the name a field is written under, or "" for a field that is
// not written (yaml:"-" or unexported).
func tagName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// nearest returns the name in names closest to s, if it is close enough to
// be a typing slip.
func nearest(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(s, n); d < bestD && d <= len(n)/3+1 {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
