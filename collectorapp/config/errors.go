package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem in a config file: where it is, which setting it is
// about, and what is wrong.
type Error struct {
	File   string
	Line   int
	Column int
	// Path names the setting, like inputs[2].listen; empty for an error
	// in the YAML syntax.
	Path string
	Msg  string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", e.File, e.Line, e.Column, e.Path, e.Msg)
}

// Errors is every problem found in a config file, in the order of their
// positions.
type Errors []*Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// sort orders errors by position, then by setting and message.
func (es Errors) sort() {
	slices.SortFunc(es, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Path, b.Path), cmp.Compare(a.Msg, b.Msg))
	})
}

// err returns the errors as an error, sorted and without repeats (a
// setting merged into many places fails in each), or nil when there are
// none.
func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	es.sort()
	return Errors(slices.CompactFunc(es, func(a, b *Error) bool { return *a == *b }))
}

// pos is a place in a config file. null marks a setting written with no
// value ("key:" or "key: ~"), which keeps its default.
type pos struct {
	line, col int
	null      bool
}

// positions maps each setting written in the file, by path ("inputs[2].tls",
// "lists.internal[0]"), to where its value starts: a scalar's first
// character, or the first key of a block mapping, or the "-" of a block
// sequence.
type positions map[string]pos

// at returns the position of the setting at path, or of its nearest written
// parent: a missing setting is reported where its section is.
func (p positions) at(path string) pos {
	for {
		if q, ok := p[path]; ok {
			return q
		}
		if path == "" {
			return pos{line: 1, col: 1}
		}
		path = parent(path)
	}
}

// set reports whether the setting at path was written with a value.
func (p positions) set(path string) bool {
	q, ok := p[path]
	return ok && !q.null
}

// parent returns the path of the setting that holds the one at path.
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}
