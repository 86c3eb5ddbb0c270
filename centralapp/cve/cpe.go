package cve

import (
	"fmt"
	"strings"
)

// A CPE is a CPE 2.3 name: a part (a application, o operating system, h
// hardware) and ten attributes, held unescaped. Any marks an attribute as
// "*" (any value), NA as "-" (not applicable).
type CPE struct {
	attr [11]value
}

// The attributes of a CPE 2.3 name, in the order of its formatted string.
const (
	attrPart = iota
	attrVendor
	attrProduct
	attrVersion
	attrUpdate
	attrEdition
	attrLanguage
	attrSWEdition
	attrTargetSW
	attrTargetHW
	attrOther
)

var attrNames = [11]string{"part", "vendor", "product", "version", "update", "edition",
	"language", "sw_edition", "target_sw", "target_hw", "other"}

// value is one attribute. s is unescaped and lower case; wild marks the
// bytes of s that were unescaped '*' (any run) or '?' (one byte) inside
// a value, which CPE 2.3 allows at either end.
type value struct {
	kind byte // 0: a value, '*': any, '-': not applicable
	s    string
	wild []bool
}

func (v value) any() bool { return v.kind == '*' }

// ParseCPE parses a CPE 2.3 formatted string ("cpe:2.3:a:apache:http_server:
// 2.4.49:*:*:*:*:*:*:*"). Trailing attributes left out are ANY, as NVD's
// match strings leave them.
func ParseCPE(s string) (CPE, error) {
	var c CPE
	rest, ok := strings.CutPrefix(s, "cpe:2.3:")
	if !ok {
		return c, fmt.Errorf("cpe %q: not a CPE 2.3 formatted string (cpe:2.3:...)", s)
	}
	for i := range c.attr {
		c.attr[i].kind = '*'
	}
	var fields []string
	for {
		raw, more, found := cutUnescaped(rest)
		fields = append(fields, raw)
		if !found {
			break
		}
		rest = more
	}
	if len(fields) > len(c.attr) {
		return c, fmt.Errorf("cpe %q: more than %d attributes", s, len(c.attr))
	}
	for i, raw := range fields {
		v, err := parseValue(raw)
		if err != nil {
			return c, fmt.Errorf("cpe %q: %s: %w", s, attrNames[i], err)
		}
		c.attr[i] = v
	}
	switch p := c.attr[attrPart]; {
	case p.any():
	case p.kind == 0 && (p.s == "a" || p.s == "o" || p.s == "h") && p.wild == nil:
	default:
		return c, fmt.Errorf("cpe %q: part must be a, o or h", s)
	}
	if c.attr[attrVendor].kind != 0 || c.attr[attrProduct].kind != 0 {
		return c, fmt.Errorf("cpe %q: no vendor and product", s)
	}
	return c, nil
}

// cutUnescaped splits s at its first ':' that no backslash escapes.
func cutUnescaped(s string) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case ':':
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func parseValue(raw string) (value, error) {
	switch raw {
	case "*", "":
		return value{kind: '*'}, nil
	case "-":
		return value{kind: '-'}, nil
	}
	var b strings.Builder
	var wild []bool
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '\\':
			if i+1 == len(raw) {
				return value{}, fmt.Errorf("%q ends in a backslash", raw)
			}
			i++
			c = raw[i]
		case c == '*' || c == '?':
			if wild == nil {
				wild = make([]bool, b.Len(), len(raw))
			}
			b.WriteByte(c)
			wild = append(wild, true)
			continue
		case c < 0x21 || c > 0x7e:
			return value{}, fmt.Errorf("%q holds a byte CPE does not allow (%#x)", raw, c)
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
		if wild != nil {
			wild = append(wild, false)
		}
	}
	return value{s: b.String(), wild: wild}, nil
}

// String returns c as a formatted string, escaping as CPE 2.3 does.
func (c CPE) String() string {
	var b strings.Builder
	b.WriteString("cpe:2.3")
	for _, v := range c.attr {
		b.WriteByte(':')
		switch v.kind {
		case '*', '-':
			b.WriteByte(v.kind)
			continue
		}
		for i := 0; i < len(v.s); i++ {
			ch := v.s[i]
			if !(isAlnum(ch) || ch == '_' || ch == '.' || ch == '-') && (v.wild == nil || !v.wild[i]) {
				b.WriteByte('\\')
			}
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// Vendor, Product, Version and Update return those attributes: unescaped,
// lower case, "*" for any and "-" for not applicable.
func (c CPE) Vendor() string  { return c.attr[attrVendor].text() }
func (c CPE) Product() string { return c.attr[attrProduct].text() }
func (c CPE) Version() string { return c.attr[attrVersion].text() }
func (c CPE) Update() string  { return c.attr[attrUpdate].text() }

func (v value) text() string {
	if v.kind != 0 {
		return string(v.kind)
	}
	return v.s
}

// matches reports whether the criterion c covers the name n, attribute by
// attribute as CPE name matching does: ANY in c covers everything, NA
// covers only NA, and a value covers the equal value. An ANY in n is not
// covered by a narrower c: a banner that does not say it is NGINX Plus is
// not matched by NGINX Plus's criteria. Versions compare with
// CompareVersions, so 2.4.049 is 2.4.49; withVersion false leaves the
// version to the caller (ranges).
func (c CPE) matches(n CPE, withVersion bool) bool {
	for i := range c.attr {
		if i == attrVersion && !withVersion {
			continue
		}
		cv, nv := c.attr[i], n.attr[i]
		switch {
		case cv.kind == '*':
		case cv.kind == '-' || nv.kind != 0:
			if cv.kind != nv.kind {
				return false
			}
		case cv.wild != nil:
			if !glob(cv, nv.s) {
				return false
			}
		case i == attrVersion:
			if CompareVersions(cv.s, nv.s) != 0 {
				return false
			}
		case cv.s != nv.s:
			return false
		}
	}
	return true
}

// glob matches s against a value with wildcards.
func glob(p value, s string) bool {
	i := 0
	for i < len(p.s) {
		if !p.wild[i] {
			if s == "" || s[0] != p.s[i] {
				return false
			}
			s, i = s[1:], i+1
			continue
		}
		if p.s[i] == '?' {
			if s == "" {
				return false
			}
			s, i = s[1:], i+1
			continue
		}
		rest := value{s: p.s[i+1:], wild: p.wild[i+1:]}
		for k := 0; k <= len(s); k++ {
			if glob(rest, s[k:]) {
				return true
			}
		}
		return false
	}
	return s == ""
}
