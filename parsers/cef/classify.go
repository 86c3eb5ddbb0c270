package cef

import (
	"strings"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
)

// class is what the header and cat say about an event: its category and,
// for authentication events, the outcome that Name's words suggest.
type class struct {
	category string
	outcome  string
}

// maxClasses bounds the class cache.
const maxClasses = 4096

// classify returns the class of an event, from a cache keyed by the fields
// it depends on: a device sends few distinct combinations.
func (p *Parser) classify(q quirk, vendor, product, classID string, cat []byte, name string) class {
	k := p.key[:0]
	k = append(k, vendor...)
	k = append(k, 0)
	k = append(k, product...)
	k = append(k, 0)
	k = append(k, classID...)
	k = append(k, 0)
	k = append(k, cat...)
	k = append(k, 0)
	k = append(k, name...)
	p.key = k
	if c, ok := p.classes[string(k)]; ok {
		return c
	}
	c := computeClass(q, product, classID, cat, name)
	if len(p.classes) >= maxClasses {
		clear(p.classes)
	}
	p.classes[string(k)] = c
	return c
}

// computeClass derives the class; see the package comment for the rules.
func computeClass(q quirk, product, classID string, cat []byte, name string) class {
	var c class
	switch q {
	case quirkDeepSecurity:
		c.category = deepSecurityCategory(classID)
	case quirkSophosCentral:
		c.category = sophosCategory(classID)
	case quirkImpervaCloud:
		c.category = detect.CategoryWeb
	}
	nameWords := words([]byte(name))
	if c.category == "" {
		c.category = keywordCategory(words([]byte(classID), cat))
	}
	if c.category == "" {
		c.category = keywordCategory(nameWords)
	}
	if c.category == "" {
		c.category = keywordCategory(words([]byte(product)))
	}
	if c.category == "" {
		c.category = detect.CategoryNetwork
	}
	if c.category == detect.CategoryAuthentication {
		c.outcome = nameOutcome(nameWords)
	}
	return c
}

// words returns the lower-case words (runs of letters and digits) of the
// texts, each with a space before and after: " utm ips ".
func words(texts ...[]byte) string {
	var b strings.Builder
	b.WriteByte(' ')
	for _, t := range texts {
		for _, c := range t {
			switch {
			case c >= 'A' && c <= 'Z':
				b.WriteByte(c + 'a' - 'A')
			case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
				b.WriteByte(c)
			default:
				if s := b.String(); s[len(s)-1] != ' ' {
					b.WriteByte(' ')
				}
			}
		}
		if s := b.String(); s[len(s)-1] != ' ' {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// Keywords by category, in the order they are tried. A keyword with a
// space at an end must stand at that end of a word.
var keywords = [...]struct {
	category string
	words    []string
}{
	{detect.CategoryMalware, []string{"virus", "malware", "trojan", "ransom", "spyware", " anti bot ", " antibot ", "threat emulation"}},
	{detect.CategoryEmail, []string{"mail", "spam"}},
	{detect.CategoryWeb, []string{" web", "url", " waf ", "proxy"}},
	{detect.CategoryIntrusionDetection, []string{" ids ", " ips ", " idp ", "intrusion", "attack", "exploit", "signature", "injection", "violation", "anomaly", "smartdefense"}},
	{detect.CategoryAuthentication, []string{"auth", "login", "logon", " log on ", " log in ", "signin", " sign in ", " signed in ", " logged in ", " logged on "}},
}

func keywordCategory(w string) string {
	for _, k := range keywords {
		for _, s := range k.words {
			if strings.Contains(w, s) {
				return k.category
			}
		}
	}
	return ""
}

// nameOutcome reads an authentication outcome from Name's words.
func nameOutcome(w string) string {
	for _, s := range [...]string{"fail", " denied ", " invalid ", " locked ", " rejected ", " bad password "} {
		if strings.Contains(w, s) {
			return detect.OutcomeFailure
		}
	}
	for _, s := range [...]string{"success", "succeeded", " signed in ", " logged in ", " logged on "} {
		if strings.Contains(w, s) {
			return detect.OutcomeSuccess
		}
	}
	return ""
}

// Verdicts of an act value.
const (
	verdictNone = iota
	verdictBlocked
	verdictAllowed
)

// actVerdict reads an act value: whether the device blocked, let through,
// or only saw (detect, alert, log, "IDS:Reset", "not blocked") the event.
// The first word that is a verdict decides; words count by their stem, so
// "Dropped", "REQ_BLOCKED" and "Quarantined" are blocks.
func actVerdict(a []byte) int {
	a = lex.Trim(a)
	if lex.HasPrefixFold(a, "ids:") || lex.HasPrefixFold(a, "not ") || lex.HasPrefixFold(a, "no ") ||
		lex.HasPrefixFold(a, "detect") || lex.HasPrefixFold(a, "would") || containsFold(a, "fail") {
		return verdictNone
	}
	for len(a) > 0 {
		i := 0
		for i < len(a) && !isLetter(a[i]) {
			i++
		}
		// A word ends at a non-letter or where camel case starts a new
		// one: "HmpaExploitPrevented", "CleanedUp".
		j := i
		for j < len(a) && isLetter(a[j]) {
			if j > i && isUpper(a[j]) && !isUpper(a[j-1]) {
				break
			}
			j++
		}
		if w := a[i:j]; len(w) > 0 {
			for _, s := range [...]string{"drop", "deny", "denied", "reject", "refuse", "block", "reset", "prevent",
				"quarantin", "clean", "delet", "discard", "bounce", "disinfect"} {
				if lex.HasPrefixFold(w, s) {
					return verdictBlocked
				}
			}
			for _, s := range [...]string{"accept", "allow", "permit", "pass"} {
				if lex.HasPrefixFold(w, s) {
					return verdictAllowed
				}
			}
		}
		a = a[j:]
	}
	return verdictNone
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

// isLoginAct reports whether an act value says no more than that a user
// logged in (Check Point Identity Awareness: "Log In"), which is a success.
func isLoginAct(a []byte) bool {
	a = lex.Trim(a)
	for _, s := range [...]string{"log in", "login", "logon", "log on", "logged in", "sign in", "signin", "signed in"} {
		if lex.EqualFold(a, s) {
			return true
		}
	}
	return false
}

// containsFold reports whether b contains the lower-case ASCII s, without
// regard to case.
func containsFold(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if lex.EqualFold(b[i:i+len(s)], s) {
			return true
		}
	}
	return false
}

// severity maps the header's Severity: 0-10 as written, the words to
// 3/6/8/10; anything else is absent.
func severity(b []byte) int {
	if n, ok := lex.Uint(b); ok {
		if n <= 10 {
			return int(n)
		}
		return 0
	}
	switch {
	case lex.EqualFold(b, "low"):
		return 3
	case lex.EqualFold(b, "medium"):
		return 6
	case lex.EqualFold(b, "high"):
		return 8
	case lex.EqualFold(b, "very-high"), lex.EqualFold(b, "very high"), lex.EqualFold(b, "veryhigh"),
		lex.EqualFold(b, "very_high"), lex.EqualFold(b, "critical"):
		return 10
	}
	return 0
}
