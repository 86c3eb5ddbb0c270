// Package intern keeps one copy of the texts that repeat from row to row
// of a read (members, rules, technique lists), so that a read of millions
// of rows holds a few strings, not one per row.
package intern

import "strings"

// Strings hands out one string per distinct text.
type Strings map[string]string

// Of returns the string equal to s. The first time, it keeps a copy: s
// may be part of a larger text its caller does not keep.
func (m Strings) Of(s string) string {
	if v, ok := m[s]; ok {
		return v
	}
	s = strings.Clone(s)
	m[s] = s
	return s
}

// Lists hands out one list per distinct comma-joined text.
type Lists map[string][]string

// Of returns s split at its commas, nil for "". Every call with the same
// text returns the same slice: it must not be modified.
func (m Lists) Of(s string) []string {
	if s == "" {
		return nil
	}
	if v, ok := m[s]; ok {
		return v
	}
	s = strings.Clone(s)
	v := strings.Split(s, ",")
	m[s] = v
	return v
}
