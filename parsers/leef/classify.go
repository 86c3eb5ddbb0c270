package leef

import (
	"bytes"
	"encoding/binary"
	"strings"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
)

// quirk names a vendor whose LEEF needs handling beyond the standard:
//
//   - Palo Alto Networks: a threat's EventID is "Name(12345)", whose number
//     is the threat id (rule.id).
//   - Check Point: "rule" is the rule number and "service" the destination
//     port.
//   - Lancope / Cisco Stealthwatch: its alarms are flow-based intrusion
//     detections.
//   - Fortinet FortiGate: a traffic log (cat traffic:...) is allowed
//     whatever its action (close, timeout, server-rst, ...) unless the
//     action is a deny.
//   - Imperva Cloud (vendor Incapsula) logs web requests with CEF keys:
//     category web; cn1 labelled "Response Code" is the response status.
type quirk uint8

const (
	quirkNone quirk = iota
	quirkPaloAlto
	quirkCheckPoint
	quirkStealthwatch
	quirkFortinet
	quirkIncapsula
)

func quirkOf(vendor, product string) quirk {
	switch {
	case strings.HasPrefix(vendor, "Palo Alto"), vendor == "PaloAltoNetworks":
		return quirkPaloAlto
	case vendor == "Check Point", vendor == "CheckPoint":
		return quirkCheckPoint
	case vendor == "Lancope", containsFold(bs(product), "stealthwatch"):
		return quirkStealthwatch
	case vendor == "Fortinet" && strings.EqualFold(product, "FortiGate"):
		return quirkFortinet
	case vendor == "Incapsula":
		return quirkIncapsula
	}
	return quirkNone
}

// maxClasses bounds the class cache.
const maxClasses = 4096

// class is what a line's header and verdict keys give, cached by classify.
type class struct {
	eventID  string // the header's EventID
	category string // event.category
	action   string // event.action: the action, else a verdict EventID
	verdict  int    // the action's verdict (or the EventID's)
}

// classify returns the EventID (eid: the header field unescaped and
// trimmed), the event category, action and verdict, from a cache keyed by
// the texts they depend on: a device sends few distinct combinations. act
// is the trimmed action, nil when over 64 bytes.
func (p *Parser) classify(q quirk, vendor, product string, eid, cat, subtype, act []byte) class {
	// Each text is preceded by its length, so that no two tuples of texts
	// share a key (the texts may hold any byte).
	k := p.key[:0]
	k = append(k, byte(q))
	k = appendText(k, vendor)
	k = appendText(k, product)
	k = appendText(k, eid)
	k = appendText(k, cat)
	k = appendText(k, subtype)
	k = append(k, act...)
	p.key = k
	if c, ok := p.classes[string(k)]; ok {
		return c
	}
	var c class
	c.eventID = p.names.Bytes(eid)
	c.category = p.computeClass(q, vendor, product, c.eventID, cat, subtype, act)
	if len(act) > 0 {
		c.action = p.names.Bytes(act)
		c.verdict = actVerdict(act)
	} else if v := actVerdict(bs(c.eventID)); v != verdictNone && len(c.eventID) <= 32 {
		c.action = c.eventID
		c.verdict = v
	}
	if len(p.classes) >= maxClasses {
		clear(p.classes)
	}
	p.classes[string(k)] = c
	return c
}

// appendText appends the length of t (uvarint) and t to k.
func appendText[T string | []byte](k []byte, t T) []byte {
	k = binary.AppendUvarint(k, uint64(len(t)))
	return append(k, t...)
}

// computeClass derives the category; see the package comment.
func (p *Parser) computeClass(q quirk, vendor, product, eventID string, cat, subtype, action []byte) string {
	switch q {
	case quirkStealthwatch:
		return detect.CategoryIntrusionDetection
	case quirkIncapsula:
		return detect.CategoryWeb
	}
	if c := keywordCategory(p.lowerWords(bs(eventID), cat, subtype, action)); c != "" {
		return c
	}
	if c := keywordCategory(p.lowerWords(bs(product))); c != "" {
		return c
	}
	if c := keywordCategory(p.lowerWords(bs(vendor))); c != "" {
		return c
	}
	return detect.CategoryNetwork
}

// lowerWords returns the lower-case words (runs of letters and digits) of
// the texts, each with a space before and after (" utm ips "), in a
// scratch buffer valid until the next call.
func (p *Parser) lowerWords(texts ...[]byte) []byte {
	b := append(p.words[:0], ' ')
	for _, t := range texts {
		for _, c := range t {
			switch {
			case c >= 'A' && c <= 'Z':
				b = append(b, c+'a'-'A')
			case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
				b = append(b, c)
			default:
				if b[len(b)-1] != ' ' {
					b = append(b, ' ')
				}
			}
		}
		if b[len(b)-1] != ' ' {
			b = append(b, ' ')
		}
	}
	p.words = b
	return b
}

// Keywords by category, in the order they are tried. A keyword with a
// space at an end must stand at that end of a word.
var keywords = [...]struct {
	category string
	words    []string
}{
	{detect.CategoryMalware, []string{"virus", "malware", "trojan", "ransom", "spyware", "wildfire", " anti bot ", " antibot ", "threat emulation"}},
	{detect.CategoryEmail, []string{"mail", "spam"}},
	{detect.CategoryWeb, []string{" web", "url", " waf ", "proxy"}},
	{detect.CategoryIntrusionDetection, []string{" ids ", " ips ", " idp ", " scan ", " flood ", "intrusion", "attack", "exploit", "vulnerab", "signature", "injection", "violation", "anomaly", "smartdefense"}},
	{detect.CategoryAuthentication, []string{"auth", "login", "logon", " log on ", " log in ", "signin", " sign in ", " signed in ", " logged in ", " logged on "}},
}

func keywordCategory(w []byte) string {
	for _, k := range keywords {
		for _, s := range k.words {
			if bytes.Contains(w, []byte(s)) {
				return k.category
			}
		}
	}
	return ""
}

// nameOutcome reads an authentication outcome from words.
func nameOutcome(w []byte) string {
	for _, s := range [...]string{"fail", " denied ", " invalid ", " locked ", " rejected ", " bad password "} {
		if bytes.Contains(w, []byte(s)) {
			return detect.OutcomeFailure
		}
	}
	for _, s := range [...]string{"success", "succeeded", " accepted ", " signed in ", " logged in ", " logged on ", " log in ", " login ", " logon "} {
		if bytes.Contains(w, []byte(s)) {
			return detect.OutcomeSuccess
		}
	}
	return ""
}

// Verdicts of an action value.
const (
	verdictNone = iota
	verdictBlocked
	verdictAllowed
)

// actVerdict reads an action: whether the device blocked, let through, or
// only saw (detect, alert, log, "not blocked") the event. The first word
// that is a verdict decides; words count by their stem, so "Dropped",
// "reset-both", "block-url" and "Quarantined" are blocks.
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
		j := i
		for j < len(a) && isLetter(a[j]) {
			if j > i && isUpper(a[j]) && !isUpper(a[j-1]) {
				break
			}
			j++
		}
		if w := a[i:j]; len(w) > 0 {
			for _, s := range [...]string{"drop", "deny", "denied", "reject", "refuse", "block", "reset", "prevent",
				"quarantin", "clean", "delet", "discard", "bounce", "disinfect", "sinkhole"} {
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
