package lex

import "bytes"

// KV iterates over key=value pairs separated by Sep (a space when zero).
// A value may be double-quoted, in which case it may hold the separator and
// \" escapes; Next returns it without its quotes. A token without '=' is
// returned as a key with a nil value (netfilter's "DF", "SYN").
type KV struct {
	b   []byte
	i   int
	Sep byte
}

// NewKV returns a KV over b separated by sep.
func NewKV(b []byte, sep byte) KV {
	if sep == 0 {
		sep = ' '
	}
	return KV{b: b, Sep: sep}
}

// Next returns the next pair, or ok == false at the end.
func (s *KV) Next() (key, val []byte, ok bool) {
	b := s.b
	i := s.i
	for i < len(b) && (b[i] == s.Sep || b[i] == ' ') {
		i++
	}
	if i >= len(b) {
		s.i = i
		return nil, nil, false
	}
	start := i
	for i < len(b) && b[i] != '=' && b[i] != s.Sep {
		i++
	}
	key = b[start:i]
	if i >= len(b) || b[i] != '=' {
		s.i = i
		return key, nil, true
	}
	i++
	if i < len(b) && b[i] == '"' {
		i++
		vs := i
		for i < len(b) && b[i] != '"' {
			if b[i] == '\\' && i+1 < len(b) {
				i++
			}
			i++
		}
		val = b[vs:i]
		if i < len(b) {
			i++ // closing quote
		}
		s.i = i
		return key, val, true
	}
	vs := i
	if j := bytes.IndexByte(b[i:], s.Sep); j >= 0 {
		i += j
	} else {
		i = len(b)
	}
	s.i = i
	return key, b[vs:i], true
}

// Rest returns what Next has not yet read.
func (s *KV) Rest() []byte { return s.b[s.i:] }

// CSV iterates over the fields of one comma-separated line. A field in
// double quotes may hold commas; Next returns it without the quotes and
// with doubled quotes left as they are.
type CSV struct {
	b    []byte
	i    int
	done bool
	Sep  byte
}

// NewCSV returns a CSV over b with separator sep (a comma when zero).
func NewCSV(b []byte, sep byte) CSV {
	if sep == 0 {
		sep = ','
	}
	return CSV{b: b, Sep: sep}
}

// Next returns the next field, or ok == false after the last.
func (c *CSV) Next() (field []byte, ok bool) {
	if c.done {
		return nil, false
	}
	b, i := c.b, c.i
	if i < len(b) && b[i] == '"' {
		j := i + 1
		for j < len(b) {
			if b[j] == '"' {
				if j+1 < len(b) && b[j+1] == '"' {
					j += 2
					continue
				}
				break
			}
			j++
		}
		field = b[i+1 : min(j, len(b))]
		j++ // closing quote
		for j < len(b) && b[j] != c.Sep {
			j++ // junk after the quote: skip to the separator
		}
		if j >= len(b) {
			c.done = true
		}
		c.i = j + 1
		return field, true
	}
	j := bytes.IndexByte(b[i:], c.Sep)
	if j < 0 {
		c.done = true
		c.i = len(b)
		return b[i:], true
	}
	c.i = i + j + 1
	return b[i : i+j], true
}

// Fields splits one CSV line into dst, reusing its storage, and returns it.
// It stops after max fields; max <= 0 means no limit.
func Fields(dst [][]byte, line []byte, sep byte, max int) [][]byte {
	dst = dst[:0]
	c := NewCSV(line, sep)
	for {
		f, ok := c.Next()
		if !ok || (max > 0 && len(dst) == max) {
			return dst
		}
		dst = append(dst, f)
	}
}

// Interner returns one shared string for each distinct byte string it is
// given, so that host names, rule names and verdict words repeated on every
// line are allocated once. It holds at most Max entries (1024 when zero) and
// starts afresh when full, so memory stays bounded. Long strings are not
// kept. An Interner is not safe for concurrent use.
type Interner struct {
	Max int
	m   map[string]string
}

// maxInternLen is the longest string an Interner keeps.
const maxInternLen = 128

// Bytes returns b as a string, from the cache when it is there.
func (in *Interner) Bytes(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(b) > maxInternLen {
		return s
	}
	max := in.Max
	if max <= 0 {
		max = 1024
	}
	if in.m == nil {
		in.m = make(map[string]string, 64)
	} else if len(in.m) >= max {
		clear(in.m)
	}
	in.m[s] = s
	return s
}

// Unescaped returns the index of the first c at or after i that no
// backslash escapes (one after an odd run of backslashes is escaped), or
// -1. Backslashes before i do not count.
func Unescaped(b []byte, i int, c byte) int {
	for start := i; i < len(b); {
		j := bytes.IndexByte(b[i:], c)
		if j < 0 {
			return -1
		}
		j += i
		n := 0
		for k := j - 1; k >= start && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return j
		}
		i = j + 1
	}
	return -1
}
