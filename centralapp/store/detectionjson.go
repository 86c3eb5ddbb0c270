package store

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// wireFields holds a §3.2 detection as read off the wire, before
// validation. A has* flag is false when the field is absent or null, as a
// nil pointer is for encoding/json.
type wireFields struct {
	ruleID, ruleName string
	severity         int
	hasSeverity      bool
	kind             string

	threat     bool
	techniques []string // nil when absent or null, empty for []

	source   bool
	sourceIP string

	destination   bool
	destinationIP string
	port          uint16
	hasPort       bool

	related   bool
	relatedIP []string

	count          int64
	hasCount       bool
	firstSeen      string
	hasFirstSeen   bool
	lastSeen       string
	hasLastSeen    bool
	distinct       int
	hasDistinct    bool
	sampleIsObject bool

	member   bool
	memberID string
}

// maxDepth is encoding/json's nesting limit, kept so that the two accept
// the same deeply nested samples.
const maxDepth = 10000

// scanner is a single-pass strict JSON reader over one detection. It
// decodes as encoding/json does into wireDetection with
// DisallowUnknownFields: keys match field names case-insensitively (with
// encoding/json's folding), null leaves a field unset, invalid UTF-8 in a
// string becomes U+FFFD. It differs in one way, on purpose: a key repeated
// in one object (outside detection.sample) is refused rather than merged,
// since a detection with two rule ids is ambiguous, not a last-wins case.
type scanner struct {
	b      []byte
	i      int
	prefix string // of every error: what is being read
}

// decodeWire reads raw, which must be one JSON object and nothing else.
func decodeWire(raw []byte, w *wireFields) error {
	s := scanner{b: raw, prefix: "detection: "}
	if s.peek() != '{' {
		if s.i == len(s.b) {
			return errors.New("detection: no JSON value")
		}
		if err := s.skip(1); err != nil {
			return err
		}
		return errors.New("detection: not a JSON object")
	}
	names := [...]string{"rule", "event", "threat", "tags", "source", "destination", "related", "detection", "member"}
	err := s.fields("", names[:], func(k int) error {
		switch k {
		case 0:
			return s.rule(w)
		case 1:
			return s.event(w)
		case 2:
			return s.threat(w)
		case 3:
			_, _, err := s.readStrings("tags", false) // checked, not kept
			return err
		case 4:
			return s.source(w)
		case 5:
			return s.destination(w)
		case 6:
			return s.related(w)
		case 7:
			return s.detection(w)
		default:
			return s.member(w)
		}
	})
	if err != nil {
		return err
	}
	if s.ws(); s.i != len(s.b) {
		return errors.New("detection: data after the JSON object")
	}
	return nil
}

func (s *scanner) rule(w *wireFields) error {
	if ok, err := s.object("rule"); !ok {
		return err
	}
	names := [...]string{"id", "name"}
	return s.fields("rule", names[:], func(k int) error {
		var err error
		if k == 0 {
			w.ruleID, _, err = s.readString("rule.id")
		} else {
			w.ruleName, _, err = s.readString("rule.name")
		}
		return err
	})
}

func (s *scanner) event(w *wireFields) error {
	if ok, err := s.object("event"); !ok {
		return err
	}
	names := [...]string{"severity", "kind"}
	return s.fields("event", names[:], func(k int) error {
		var err error
		if k == 0 {
			var n int64
			n, w.hasSeverity, err = s.readInt("event.severity", intBits)
			w.severity = int(n)
		} else {
			w.kind, _, err = s.readString("event.kind")
		}
		return err
	})
}

func (s *scanner) threat(w *wireFields) error {
	var err error
	if w.threat, err = s.object("threat"); !w.threat {
		return err
	}
	names := [...]string{"technique"}
	return s.fields("threat", names[:], func(int) error {
		if ok, err := s.object("threat.technique"); !ok {
			return err
		}
		names := [...]string{"id"}
		return s.fields("threat.technique", names[:], func(int) error {
			var err error
			w.techniques, _, err = s.readStrings("threat.technique.id", true)
			return err
		})
	})
}

func (s *scanner) source(w *wireFields) error {
	var err error
	if w.source, err = s.object("source"); !w.source {
		return err
	}
	names := [...]string{"ip"}
	return s.fields("source", names[:], func(int) error {
		var err error
		w.sourceIP, _, err = s.readString("source.ip")
		return err
	})
}

func (s *scanner) destination(w *wireFields) error {
	var err error
	if w.destination, err = s.object("destination"); !w.destination {
		return err
	}
	names := [...]string{"ip", "port"}
	return s.fields("destination", names[:], func(k int) error {
		var err error
		if k == 0 {
			w.destinationIP, _, err = s.readString("destination.ip")
			return err
		}
		lit, ok, err := s.readNumber("destination.port")
		if !ok {
			return err
		}
		n, ok := parseUint16(lit)
		if !ok {
			return fmt.Errorf("detection: destination.port: %s is not a port number", lit)
		}
		w.port, w.hasPort = n, true
		return nil
	})
}

func (s *scanner) related(w *wireFields) error {
	var err error
	if w.related, err = s.object("related"); !w.related {
		return err
	}
	names := [...]string{"ip"}
	return s.fields("related", names[:], func(int) error {
		var err error
		w.relatedIP, _, err = s.readStrings("related.ip", true)
		return err
	})
}

func (s *scanner) detection(w *wireFields) error {
	if ok, err := s.object("detection"); !ok {
		return err
	}
	names := [...]string{"count", "first_seen", "last_seen", "distinct_sources", "sample"}
	return s.fields("detection", names[:], func(k int) error {
		var err error
		switch k {
		case 0:
			w.count, w.hasCount, err = s.readInt("detection.count", 64)
		case 1:
			w.firstSeen, w.hasFirstSeen, err = s.readString("detection.first_seen")
		case 2:
			w.lastSeen, w.hasLastSeen, err = s.readString("detection.last_seen")
		case 3:
			var n int64
			n, w.hasDistinct, err = s.readInt("detection.distinct_sources", intBits)
			w.distinct = int(n)
		default:
			// The sample is kept raw, so it is only checked to be JSON;
			// the top object and detection are the two levels above it.
			w.sampleIsObject = s.peek() == '{'
			err = s.skip(3)
		}
		return err
	})
}

func (s *scanner) member(w *wireFields) error {
	var err error
	if w.member, err = s.object("member"); !w.member {
		return err
	}
	names := [...]string{"id"}
	return s.fields("member", names[:], func(int) error {
		var err error
		w.memberID, _, err = s.readString("member.id")
		return err
	})
}

// fields reads the object that is next, calling value with the index in
// names of each key, the scanner at the key's value. Other keys and
// repeated keys are refused.
func (s *scanner) fields(path string, names []string, value func(k int) error) error {
	var seen uint32
	return s.members(func(key []byte) error {
		k := lookup(key, names)
		if k < 0 {
			return s.errorf("unknown field %q", join(path, string(key)))
		}
		if seen&(1<<k) != 0 {
			return s.errorf("%s: repeated key", join(path, names[k]))
		}
		seen |= 1 << k
		return value(k)
	})
}

// members reads the object that is next, the scanner at its '{', calling
// member with each key, the scanner at the key's value, which member
// reads.
func (s *scanner) members(member func(key []byte) error) error {
	s.i++ // {
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		if s.peek() != '"' {
			return s.syntaxError("want an object key")
		}
		key, err := s.str()
		if err != nil {
			return err
		}
		if s.peek() != ':' {
			return s.syntaxError("want ':' after an object key")
		}
		s.i++
		if err := member(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.syntaxError("want ',' or '}' after an object value")
		}
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// lookup returns the index of the name that key matches, or -1. Like
// encoding/json it prefers an exact match and then compares under
// Unicode simple folding, so "Rule" and "rule" with a Kelvin sign
// match as well.
func lookup(key []byte, names []string) int {
	for i, n := range names {
		if string(key) == n {
			return i
		}
	}
	for i, n := range names {
		if foldEqual(key, n) {
			return i
		}
	}
	return -1
}

// foldEqual reports whether key folds to name, an ASCII field name.
func foldEqual(key []byte, name string) bool {
	j := 0
	for i := 0; i < len(key); j++ {
		if j == len(name) {
			return false
		}
		r, n := rune(key[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRune(key[i:])
			r = foldRune(r)
		}
		i += n
		if upper(r) != upper(rune(name[j])) {
			return false
		}
	}
	return j == len(name)
}

func upper(r rune) rune {
	if 'a' <= r && r <= 'z' {
		return r - ('a' - 'A')
	}
	return r
}

// foldRune returns the smallest rune in r's fold orbit, as encoding/json does.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// object reports whether an object is next (leaving its brace unread);
// a null is read and reported as absent, anything else is refused.
func (s *scanner) object(path string) (bool, error) {
	switch s.peek() {
	case '{':
		return true, nil
	case 'n':
		return false, s.null()
	}
	return false, s.typeError(path, "an object")
}

// readString reads a string or null.
func (s *scanner) readString(path string) (string, bool, error) {
	switch s.peek() {
	case '"':
		b, err := s.str()
		return string(b), err == nil, err
	case 'n':
		return "", false, s.null()
	}
	return "", false, s.typeError(path, "a string")
}

// readStrings reads an array of strings or null, returning it when keep is
// set. A null element stays "", and [] gives an empty, non-nil slice, as
// with encoding/json.
func (s *scanner) readStrings(path string, keep bool) ([]string, bool, error) {
	switch s.peek() {
	case '[':
	case 'n':
		return nil, false, s.null()
	default:
		return nil, false, s.typeError(path, "an array")
	}
	s.i++
	out := []string{}
	if s.peek() == ']' {
		s.i++
		return out, true, nil
	}
	for {
		switch s.peek() {
		case '"':
			b, err := s.str()
			if err != nil {
				return nil, false, err
			}
			if keep {
				out = append(out, string(b))
			}
		case 'n':
			if err := s.null(); err != nil {
				return nil, false, err
			}
			if keep {
				out = append(out, "")
			}
		default:
			return nil, false, s.typeError(path, "a string")
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return out, true, nil
		default:
			return nil, false, s.syntaxError("want ',' or ']' after an array element")
		}
	}
}

// intBits is the size of int, the Go type of severity and distinct_sources.
const intBits = 32 << (^uint(0) >> 63)

// readInt reads an integer of the given size or null. A fraction or exponent
// is refused even when the value is whole, as encoding/json does.
func (s *scanner) readInt(path string, bits uint) (int64, bool, error) {
	lit, ok, err := s.readNumber(path)
	if !ok {
		return 0, false, err
	}
	n, ok := parseInt(lit, bits)
	if !ok {
		return 0, false, s.errorf("%s: %s is not an integer of %d bits", path, lit, bits)
	}
	return n, true, nil
}

// readNumber reads a number or null, returning the number's text.
func (s *scanner) readNumber(path string) ([]byte, bool, error) {
	switch c := s.peek(); {
	case c == 'n':
		return nil, false, s.null()
	case c == '-' || '0' <= c && c <= '9':
		start := s.i
		if err := s.skipNumber(); err != nil {
			return nil, false, err
		}
		return s.b[start:s.i], true, nil
	}
	return nil, false, s.typeError(path, "a number")
}

func parseInt(lit []byte, bits uint) (int64, bool) {
	neg := lit[0] == '-'
	if neg {
		lit = lit[1:]
	}
	limit := uint64(1) << (bits - 1) // magnitude of the smallest value
	var n uint64
	for _, c := range lit {
		if c < '0' || c > '9' || n > limit/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > limit || !neg && n == limit {
		return 0, false
	}
	if neg {
		return -int64(n), true // wraps to the minimum for n == limit
	}
	return int64(n), true
}

func parseUint16(lit []byte) (uint16, bool) {
	var n uint32
	for _, c := range lit {
		if c < '0' || c > '9' {
			return 0, false // also refuses "-0", as strconv.ParseUint does
		}
		if n = n*10 + uint32(c-'0'); n > 0xffff {
			return 0, false
		}
	}
	return uint16(n), true
}

func (s *scanner) typeError(path, want string) error {
	if s.i == len(s.b) {
		return s.syntaxError("unexpected end")
	}
	return s.errorf("%s: want %s", path, want)
}

func (s *scanner) syntaxError(what string) error {
	if s.i >= len(s.b) {
		return s.errorf("invalid JSON: unexpected end (%s)", what)
	}
	return s.errorf("invalid JSON at offset %d: %s", s.i, what)
}

func (s *scanner) errorf(format string, args ...any) error {
	return errors.New(s.prefix + fmt.Sprintf(format, args...))
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek skips white space and returns the next byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) null() error { return s.literal("null") }

func (s *scanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.syntaxError("invalid literal")
	}
	s.i += len(lit)
	return nil
}

// str reads a string, the scanner at its opening quote, and returns its
// decoded bytes: a slice of the input when nothing needs decoding.
func (s *scanner) str() ([]byte, error) {
	s.i++
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c == '"' {
			s.i++
			return s.b[start : s.i-1], nil
		}
		if c == '\\' || c < ' ' {
			break
		}
		if c < utf8.RuneSelf {
			s.i++
			continue
		}
		r, n := utf8.DecodeRune(s.b[s.i:])
		if r == utf8.RuneError && n == 1 {
			break
		}
		s.i += n
	}
	return s.decodeStr(start)
}

// decodeStr finishes a string that holds escapes, control characters or
// invalid UTF-8, decoding as encoding/json does: bad UTF-8 and unpaired
// surrogates become U+FFFD.
func (s *scanner) decodeStr(start int) ([]byte, error) {
	out := make([]byte, s.i-start, s.i-start+16)
	copy(out, s.b[start:s.i])
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return out, nil
		case c < ' ':
			return nil, s.syntaxError("control character in a string")
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return nil, s.syntaxError("unterminated escape")
			}
			e := s.b[s.i+1]
			switch e {
			case '"', '\\', '/':
			case 'b':
				e = '\b'
			case 'f':
				e = '\f'
			case 'n':
				e = '\n'
			case 'r':
				e = '\r'
			case 't':
				e = '\t'
			case 'u':
				r := s.hex4()
				if r < 0 {
					return nil, s.syntaxError(`invalid \u escape`)
				}
				s.i += 6
				if utf16.IsSurrogate(r) {
					if dec := utf16.DecodeRune(r, s.hex4()); dec != unicode.ReplacementChar {
						s.i += 6
						r = dec
					} else {
						r = unicode.ReplacementChar
					}
				}
				out = utf8.AppendRune(out, r)
				continue
			default:
				return nil, s.syntaxError("invalid escape")
			}
			out = append(out, e)
			s.i += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			s.i++
		default:
			r, n := utf8.DecodeRune(s.b[s.i:])
			out = utf8.AppendRune(out, r)
			s.i += n
		}
	}
	return nil, s.syntaxError("unterminated string")
}

// hex4 returns the rune of the \uXXXX escape at the scanner, or -1.
func (s *scanner) hex4() rune {
	if len(s.b)-s.i < 6 || s.b[s.i] != '\\' || s.b[s.i+1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s.b[s.i+2 : s.i+6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// skip checks and passes over any JSON value; depth is the nesting level a
// container there would have.
func (s *scanner) skip(depth int) error {
	switch c := s.peek(); {
	case c == '{' || c == '[':
		if depth > maxDepth {
			return s.syntaxError("nested too deeply")
		}
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		s.i++
		if s.peek() == end {
			s.i++
			return nil
		}
		for {
			if c == '{' {
				if s.peek() != '"' {
					return s.syntaxError("want an object key")
				}
				if err := s.skipStr(); err != nil {
					return err
				}
				if s.peek() != ':' {
					return s.syntaxError("want ':' after an object key")
				}
				s.i++
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			switch s.peek() {
			case ',':
				s.i++
			case end:
				s.i++
				return nil
			default:
				return s.syntaxError("want ',' or the end of the container")
			}
		}
	case c == '"':
		return s.skipStr()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.null()
	case c == '-' || '0' <= c && c <= '9':
		return s.skipNumber()
	}
	return s.syntaxError("want a value")
}

// skipStr checks and passes over a string, the scanner at its quote.
func (s *scanner) skipStr() error {
	s.i++
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return nil
		case c < ' ':
			return s.syntaxError("control character in a string")
		case c == '\\':
			if s.i+1 < len(s.b) && s.b[s.i+1] == 'u' {
				if s.hex4() < 0 {
					return s.syntaxError(`invalid \u escape`)
				}
				s.i += 6
				continue
			}
			if s.i+1 >= len(s.b) {
				return s.syntaxError("unterminated escape")
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			default:
				return s.syntaxError("invalid escape")
			}
		default:
			s.i++
		}
	}
	return s.syntaxError("unterminated string")
}

// skipNumber checks and passes over a number per RFC 8259.
func (s *scanner) skipNumber() error {
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.digits() == 0:
		return s.syntaxError("invalid number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return s.syntaxError("invalid number")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return s.syntaxError("invalid number")
		}
	}
	return nil
}

func (s *scanner) digits() int {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}
