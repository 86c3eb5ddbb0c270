package lex

import (
	"bytes"
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// JSONKind is the kind of a JSON value.
type JSONKind uint8

// JSON value kinds.
const (
	JSONInvalid JSONKind = iota
	JSONString
	JSONNumber
	JSONObject
	JSONArray
	JSONTrue
	JSONFalse
	JSONNull
)

var kindNames = [...]string{"invalid", "string", "number", "object", "array", "true", "false", "null"}

func (k JSONKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// JSONMaxDepth is how deeply the objects and arrays inside one member's
// value may nest; deeper input is an error (ErrJSONDepth), never a stack
// overflow, because skipping uses no recursion.
const JSONMaxDepth = 512

// Errors of the JSON walker. They carry no offset, so that returning one
// never allocates.
var (
	ErrJSONSyntax = errors.New("json: syntax error")
	ErrJSONEOF    = errors.New("json: unexpected end of input")
	ErrJSONDepth  = errors.New("json: nested too deeply")
	ErrJSONEscape = errors.New("json: invalid escape in string")
)

// JSON walks the members of one JSON object (NewJSON) or the elements of
// one array (NewJSONArray) without allocating. Next yields each member's
// key, kind and raw value; values the caller is not interested in are
// skipped, and skipping still checks their syntax, so truncated or broken
// JSON ends the walk with an error:
//
//	it := lex.NewJSON(line)
//	for {
//		key, kind, val, ok := it.Next()
//		if !ok {
//			break
//		}
//		switch string(key) {
//		case "alert":
//			sub := lex.NewJSON(val) // descend: kind == lex.JSONObject
//			...
//		}
//	}
//	if err := it.Err(); err != nil { ... }
//
// The raw value of a string is its text between the quotes, still escaped
// (decode it with AppendJSONText); of a number, its digits as written
// (JSONInt, JSONFloat); of an object or array, its whole text including the
// brackets, ready for NewJSON or NewJSONArray. Keys are given as written
// between their quotes, escapes not decoded.
//
// The walker checks structure, not content: raw control characters and
// invalid UTF-8 inside strings are let through (a writer escapes them on
// output), and duplicate keys are all yielded, in order. Next reads a
// nested value once to find its end, and a walker over it reads it again,
// so descending k levels reads the deepest bytes k+1 times: fine for the
// two or three levels of a log record.
type JSON struct {
	b     []byte
	i     int
	state uint8
	array bool
	err   error
}

const (
	jsonStart uint8 = iota
	jsonMore
	jsonDone
	jsonFailed
)

// NewJSON returns a walker over the members of the object that b holds,
// after optional white space.
func NewJSON(b []byte) JSON { return JSON{b: b} }

// NewJSONArray returns a walker over the elements of the array that b
// holds; Next yields them with a nil key.
func NewJSONArray(b []byte) JSON { return JSON{b: b, array: true} }

// Err returns the error that ended the walk, or nil.
func (j *JSON) Err() error { return j.err }

// Rest returns what follows the object's closing brace once Next has
// returned false without an error.
func (j *JSON) Rest() []byte {
	if j.state != jsonDone {
		return nil
	}
	return j.b[j.i:]
}

func (j *JSON) fail(err error) (key []byte, kind JSONKind, val []byte, ok bool) {
	j.state = jsonFailed
	j.err = err
	return nil, JSONInvalid, nil, false
}

// Next returns the next member, or ok == false at the end of the object or
// on an error (see Err).
func (j *JSON) Next() (key []byte, kind JSONKind, val []byte, ok bool) {
	b, i := j.b, j.i
	closer := byte('}')
	if j.array {
		closer = ']'
	}
	switch j.state {
	case jsonDone, jsonFailed:
		return nil, JSONInvalid, nil, false
	case jsonStart:
		i = skipWS(b, i)
		if i >= len(b) {
			return j.fail(ErrJSONEOF)
		}
		if b[i] != closer-2 { // '{' is '}'-2, '[' is ']'-2
			return j.fail(ErrJSONSyntax)
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == closer {
			j.i, j.state = i+1, jsonDone
			return nil, JSONInvalid, nil, false
		}
	default:
		i = skipWS(b, i)
		if i >= len(b) {
			return j.fail(ErrJSONEOF)
		}
		if b[i] == closer {
			j.i, j.state = i+1, jsonDone
			return nil, JSONInvalid, nil, false
		}
		if b[i] != ',' {
			return j.fail(ErrJSONSyntax)
		}
		i = skipWS(b, i+1)
	}
	if !j.array {
		var err error
		if key, i, err = memberKey(b, i); err != nil {
			return j.fail(err)
		}
	}
	if i >= len(b) {
		return j.fail(ErrJSONEOF)
	}
	start := i
	switch c := b[i]; c {
	case '"':
		end, err := scanString(b, i)
		if err != nil {
			return j.fail(err)
		}
		kind, val, i = JSONString, b[start+1:end-1], end
	case '{', '[':
		end, err := skipContainer(b, i)
		if err != nil {
			return j.fail(err)
		}
		kind, val, i = JSONArray, b[start:end], end
		if c == '{' {
			kind = JSONObject
		}
	case 't', 'f', 'n':
		end, k, err := scanLiteral(b, i)
		if err != nil {
			return j.fail(err)
		}
		kind, val, i = k, b[start:end], end
	default:
		end, err := scanNumber(b, i)
		if err != nil {
			return j.fail(err)
		}
		kind, val, i = JSONNumber, b[start:end], end
	}
	j.i, j.state = i, jsonMore
	return key, kind, val, true
}

// memberKey reads `"key"` and the colon after it at b[i], and returns the
// key's text and the index of the value after white space.
func memberKey(b []byte, i int) (key []byte, next int, err error) {
	if i >= len(b) {
		return nil, 0, ErrJSONEOF
	}
	if b[i] != '"' {
		return nil, 0, ErrJSONSyntax
	}
	end, err := scanString(b, i)
	if err != nil {
		return nil, 0, err
	}
	key = b[i+1 : end-1]
	i = skipWS(b, end)
	if i >= len(b) {
		return nil, 0, ErrJSONEOF
	}
	if b[i] != ':' {
		return nil, 0, ErrJSONSyntax
	}
	return key, skipWS(b, i+1), nil
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString returns the index after the closing quote of the string that
// starts at b[i] (a quote). It checks escapes but not content.
func scanString(b []byte, i int) (int, error) {
	j := i + 1
	// Keys and short values end within a few bytes, where a plain loop
	// beats a call to IndexByte.
	for n := min(len(b), j+16); j < n; j++ {
		if c := b[j]; c == '"' {
			return j + 1, nil
		} else if c == '\\' {
			break
		}
	}
	for {
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 {
			// Report a broken escape before the missing quote, if any.
			if _, err := checkEscapes(b[j:]); err != nil {
				return 0, err
			}
			return 0, ErrJSONEOF
		}
		q += j
		for {
			s := bytes.IndexByte(b[j:q], '\\')
			if s < 0 {
				return q + 1, nil
			}
			s += j
			n, err := escapeLen(b[s:])
			if err != nil {
				return 0, err
			}
			j = s + n
			if j > q {
				break // the quote was escaped: look for the next one
			}
		}
	}
}

// checkEscapes checks the escapes of an unterminated string's text.
func checkEscapes(b []byte) (int, error) {
	j := 0
	for {
		s := bytes.IndexByte(b[j:], '\\')
		if s < 0 {
			return j, nil
		}
		n, err := escapeLen(b[j+s:])
		if err != nil {
			return 0, err
		}
		j += s + n
	}
}

// escapeLen returns the length of the escape sequence at b[0] (a
// backslash).
func escapeLen(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, ErrJSONEOF
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
		if len(b) < 6 {
			for _, c := range b[2:] {
				if unhex(c) < 0 {
					return 0, ErrJSONEscape
				}
			}
			return 0, ErrJSONEOF
		}
		if unhex(b[2])|unhex(b[3])|unhex(b[4])|unhex(b[5]) < 0 {
			return 0, ErrJSONEscape
		}
		return 6, nil
	}
	return 0, ErrJSONEscape
}

func unhex(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// scanLiteral reads true, false or null at b[i].
func scanLiteral(b []byte, i int) (int, JSONKind, error) {
	var lit string
	var k JSONKind
	switch b[i] {
	case 't':
		lit, k = "true", JSONTrue
	case 'f':
		lit, k = "false", JSONFalse
	default:
		lit, k = "null", JSONNull
	}
	rest := b[i:]
	if len(rest) < len(lit) {
		if string(rest) == lit[:len(rest)] {
			return 0, JSONInvalid, ErrJSONEOF
		}
		return 0, JSONInvalid, ErrJSONSyntax
	}
	if string(rest[:len(lit)]) != lit {
		return 0, JSONInvalid, ErrJSONSyntax
	}
	return i + len(lit), k, nil
}

// scanNumber reads a number at b[i] by the JSON grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) (int, error) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return 0, ErrJSONEOF
	}
	switch c := b[i]; {
	case c == '0':
		i++
	case c >= '1' && c <= '9':
		i = digits(b, i+1)
	default:
		return 0, ErrJSONSyntax
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := digits(b, i)
		if j == i {
			return 0, numErr(b, j)
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return 0, numErr(b, j)
		}
		i = j
	}
	return i, nil
}

func numErr(b []byte, i int) error {
	if i >= len(b) {
		return ErrJSONEOF
	}
	return ErrJSONSyntax
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// skipContainer returns the index after the object or array that starts at
// b[i], checking its syntax. It keeps its own stack of open brackets, one
// bit each, so that deep nesting costs no recursion.
func skipContainer(b []byte, i int) (int, error) {
	var stack [JSONMaxDepth / 64]uint64 // bit set: an object; clear: an array
	depth := 0
	for {
		// A value starts at b[i].
		if i >= len(b) {
			return 0, ErrJSONEOF
		}
		switch c := b[i]; c {
		case '{', '[':
			if depth == JSONMaxDepth {
				return 0, ErrJSONDepth
			}
			if c == '{' {
				stack[depth>>6] |= 1 << (depth & 63)
			} else {
				stack[depth>>6] &^= 1 << (depth & 63)
			}
			depth++
			i = skipWS(b, i+1)
			if i >= len(b) {
				return 0, ErrJSONEOF
			}
			if b[i] == c+2 { // empty: '}' is '{'+2, ']' is '['+2
				i++
				depth--
				break
			}
			if c == '{' {
				var err error
				if _, i, err = memberKey(b, i); err != nil {
					return 0, err
				}
			}
			continue // the first member's value
		case '"':
			end, err := scanString(b, i)
			if err != nil {
				return 0, err
			}
			i = end
		case 't', 'f', 'n':
			end, _, err := scanLiteral(b, i)
			if err != nil {
				return 0, err
			}
			i = end
		default:
			end, err := scanNumber(b, i)
			if err != nil {
				return 0, err
			}
			i = end
		}
		// A value has ended: close what it ends, then find the next one.
		for {
			if depth == 0 {
				return i, nil
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return 0, ErrJSONEOF
			}
			obj := stack[(depth-1)>>6]&(1<<((depth-1)&63)) != 0
			c := b[i]
			if (c == '}' && obj) || (c == ']' && !obj) {
				i++
				depth--
				continue
			}
			if c != ',' {
				return 0, ErrJSONSyntax
			}
			i = skipWS(b, i+1)
			if obj {
				var err error
				if _, i, err = memberKey(b, i); err != nil {
					return 0, err
				}
			}
			break
		}
	}
}

// AppendJSONText appends the text of a string value (the raw value that
// Next yields, without quotes) to dst, decoding its escapes. \uXXXX
// escapes give UTF-8, surrogate pairs are joined, and a lone surrogate
// becomes U+FFFD, as encoding/json does. An invalid or cut escape is an
// error. Callers that keep the text only when it has escapes can test
// bytes.IndexByte(raw, '\\') first and use raw as it is otherwise.
func AppendJSONText(dst, raw []byte) ([]byte, error) {
	for {
		s := bytes.IndexByte(raw, '\\')
		if s < 0 {
			return append(dst, raw...), nil
		}
		dst = append(dst, raw[:s]...)
		raw = raw[s:]
		n, err := escapeLen(raw)
		if err != nil {
			return dst, err
		}
		switch c := raw[1]; c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(raw[2:6])
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if len(raw) >= 12 && raw[6] == '\\' && raw[7] == 'u' {
					if _, err := escapeLen(raw[6:]); err == nil {
						r2 = hex4(raw[8:12])
					}
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
					n = 12
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
		raw = raw[n:]
	}
}

func hex4(b []byte) rune {
	return unhex(b[0])<<12 | unhex(b[1])<<8 | unhex(b[2])<<4 | unhex(b[3])
}

// JSONInt parses the raw value of an integer number (no fraction or
// exponent) that fits in an int64.
func JSONInt(raw []byte) (int64, bool) {
	neg := len(raw) > 0 && raw[0] == '-'
	if neg {
		raw = raw[1:]
	}
	if len(raw) == 0 || len(raw) > 19 || (raw[0] == '0' && len(raw) > 1) {
		return 0, false
	}
	var n uint64
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if neg {
		if n > 1<<63 {
			return 0, false
		}
		return -int64(n), true
	}
	if n > 1<<63-1 {
		return 0, false
	}
	return int64(n), true
}

// JSONFloat parses the raw value of any number.
func JSONFloat(raw []byte) (float64, bool) {
	if n, err := scanNumber(raw, 0); err != nil || n != len(raw) {
		return 0, false
	}
	f, err := strconv.ParseFloat(String(raw), 64)
	return f, err == nil
}
