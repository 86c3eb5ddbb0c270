// Package amavis parses the verdict lines of amavisd-new (amavis), the
// content filter between an MTA and its virus scanners and SpamAssassin,
// under the syslog tags amavis, amavisd and amavisd-new (or the program's
// path, "/usr/sbin/amavisd", when amavis writes its own log file):
//
//	amavis[1234]: (01234-05) Blocked SPAM {DiscardedInbound,Quarantined}, [198.51.100.7]:51514 [198.51.100.7] <a@b> -> <c@d>, quarantine: spam-abc.gz, Queue-ID: 4ABC123, Message-ID: <x@y>, mail_id: abc, Hits: 12.3, size: 4567, queued_as: 5DEF, 1234 ms, Tests: [BAYES_99=3.5,URIBL_BLACK=1.7]
//	amavis[1234]: (01234-06) Blocked INFECTED (Eicar-Signature) {DiscardedInbound,Quarantined}, ...
//	amavis[1234]: (01234-07) SPAM, <a@b> -> <c@d>, Yes, score=17.7 tag=-10 tag2=6.31 kill=6.31 tests=[AWL=-0.678, BAYES_99=4], autolearn=spam, quarantine ...
//
// # Mapping
//
// The main line, "Passed|Blocked CLASS[ (DETAIL)][ {ACTIONS}], ...", is
// one event per message: event.action is "Blocked" or "Passed" as
// written; Blocked is event.type denied (the mail was discarded, bounced
// or rejected), Passed is info (it was delivered, perhaps tagged).
// rule.category is the content class as written: SPAM, SPAMMY, INFECTED,
// BANNED, BAD-HEADER (amavis 2.7 and later add the minor code,
// "BAD-HEADER-0"), UNCHECKED (or "UNCHECKED-ENCRYPTED") and OVERSIZED.
// INFECTED is event.category malware with the (first) virus name as
// rule.name; every other class is email.
//
// CLEAN mail (and the older "Passed, <...>" form, which is the same) is
// delivered mail, not a threat signal, and gives ErrNotEvent, as do the
// operational classes MTA-BLOCKED, TEMPFAIL and OTHER (the next hop
// refused or failed, not the content).
//
// SpamAssassin's tests are metadata and are kept in one way: when the line
// lists them with their scores ("Tests: [NAME=score,...]", enabled by %T
// in $log_templ, or tests=[...] on the old SPAM line), rule.name of a SPAM
// or SPAMMY verdict is the test that scored highest (the first one on a
// tie), the test most responsible for the verdict. Names that are not
// SpamAssassin test names (letters, digits, '_', and the ':', '.' and '-'
// of amavis' "AV:Sanesecurity.Foo" pseudo-tests) are ignored.
//
// source.ip and source.port are the client that handed the message to
// the MTA in front of amavis: the first bracketed address,
// "[198.51.100.7]:51514", which amavis takes from the MTA's XFORWARD and
// which is the client that sent the mail to us. The second bracketed
// address is amavis' guess of the originating client, read from the
// Received: header fields, which the sender controls; it is not used.
// network.transport is tcp and network.protocol smtp when there is a
// client. source.bytes is the message size ("size: 4567").
//
// Old forms: amavisd-new before 2.3 logged "SPAM, <a> -> <b>, Yes,
// score=..." and "INFECTED (name), <a> -> <b>, ..." without a verdict
// word; these are events of type info without event.action (rule.category
// SPAM or INFECTED). Note that later versions, at $log_level 1 and above,
// write the same SPAM line beside the Passed/Blocked line of the same
// message. "SPAM, ..., No, ..." and the SPAM-TAG/Spam-tag lines of log
// level 2 and 3 give ErrNotEvent, as does every other amavis line
// (Checking:, p.path, ESMTP chatter, warnings).
//
// Privacy: envelope addresses, Message-ID, Subject, From, policy bank
// names, quarantine names, mail_id and Queue-ID are never copied; the
// detail of a BANNED verdict ("(multipart/mixed | application/x-msdownload,.exe,invoice.exe)")
// can hold the attachment's file name and is skipped whole: only the class
// BANNED is kept.
package amavis

import (
	"bytes"
	"errors"
	"net/netip"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
)

// Name is the parser's name and event.dataset.
const Name = "amavis"

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "amavisd-new (amavis) content filter: Blocked/Passed SPAM, SPAMMY, INFECTED (virus name), BANNED, BAD-HEADER verdicts with client address and SpamAssassin tests",
		New:         func() detect.Parser { return new(Parser) },
		Tags:        []string{"amavis", "amavisd", "amavisd-new"},
		Sniff:       Sniff,
	}
}

// Sniff reports whether rec comes from amavis: its tag, or the base name
// of the program path amavis writes into its own log file, is amavis,
// amavisd or amavisd-new.
func Sniff(rec *detect.Record) bool {
	app := rec.App
	if i := bytes.LastIndexByte(app, '/'); i >= 0 {
		app = app[i+1:]
	}
	switch string(app) {
	case "amavis", "amavisd", "amavisd-new":
		return true
	}
	return false
}

// Parser parses amavis lines. Not safe for concurrent use.
type Parser struct {
	names lex.Interner // virus and test names, classes
}

var _ detect.Parser = (*Parser)(nil)

var (
	errNoClass   = errors.New("amavis: verdict without a content class")
	errBadClient = errors.New("amavis: bad client address")
	errBadPort   = errors.New("amavis: bad client port")
)

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	m := lex.Trim(rec.Msg)
	m = skipLogID(m)
	if len(m) == 0 {
		return detect.ErrNotEvent
	}
	switch m[0] {
	case 'B':
		if b, ok := cut(m, "Blocked"); ok {
			return p.verdict(ev, b, "Blocked", detect.TypeDenied)
		}
	case 'P':
		if b, ok := cut(m, "Passed"); ok {
			return p.verdict(ev, b, "Passed", detect.TypeInfo)
		}
	case 'S':
		if b, ok := cut(m, "SPAM, "); ok {
			return p.oldSpam(ev, b)
		}
	case 'I':
		if b, ok := cut(m, "INFECTED ("); ok {
			return p.oldInfected(ev, b)
		}
	}
	return detect.ErrNotEvent
}

// skipLogID removes amavis' per-message log id, "(01234-05) " or
// "(01234-05-2) ", from the start of m.
func skipLogID(m []byte) []byte {
	if len(m) < 4 || m[0] != '(' {
		return m
	}
	i := 1
	for i < len(m) && i < 32 && (m[i] >= '0' && m[i] <= '9' || m[i] == '-') {
		i++
	}
	if i == 1 || i >= len(m) || m[i] != ')' {
		return m
	}
	return lex.Trim(m[i+1:])
}

func cut(b []byte, prefix string) ([]byte, bool) {
	if len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix {
		return b[len(prefix):], true
	}
	return b, false
}

// Content classes.
const (
	classSkip = iota
	classEmail
	classMalware
	classSpam // email, with the top test as rule.name
)

// classify returns the kind of a content class as written.
func classify(c []byte) int {
	major := c
	if i := bytes.IndexByte(c, '-'); i > 0 {
		major = c[:i]
	}
	switch string(major) {
	case "SPAM", "SPAMMY":
		return classSpam
	case "INFECTED":
		return classMalware
	case "BANNED", "UNCHECKED", "OVERSIZED":
		return classEmail
	case "BAD":
		if bytes.HasPrefix(c, []byte("BAD-HEADER")) {
			return classEmail
		}
	}
	return classSkip // CLEAN, MTA-BLOCKED, TEMPFAIL, OTHER and the unknown
}

// classWord returns the content class at the start of b: upper-case
// letters, digits and '-'.
func classWord(b []byte) []byte {
	i := 0
	for i < len(b) && i < 32 && (b[i] >= 'A' && b[i] <= 'Z' || b[i] >= '0' && b[i] <= '9' || b[i] == '-') {
		i++
	}
	return b[:i]
}

// verdict parses what follows "Passed" or "Blocked".
func (p *Parser) verdict(ev *detect.Event, b []byte, action, typ string) error {
	if len(b) == 0 || b[0] == ',' {
		return detect.ErrNotEvent // "Passed, <a> -> <b>": old CLEAN
	}
	if b[0] != ' ' {
		return detect.ErrNotEvent
	}
	b = b[1:]
	class := classWord(b)
	if len(class) == 0 {
		return errNoClass
	}
	if len(class) < len(b) && b[len(class)] != ' ' && b[len(class)] != ',' {
		return detect.ErrNotEvent // not a class word: "Passed through ..."
	}
	kind := classify(class)
	if kind == classSkip {
		return detect.ErrNotEvent
	}
	rest := b[len(class):]

	ev.Category = detect.CategoryEmail
	ev.Type = typ
	ev.Action = action
	ev.Observer.Vendor = "Amavis"
	ev.Observer.Product = "amavisd-new"
	ev.Rule.Category = p.names.Bytes(class)

	// The detail in parentheses: virus names, or the banned part.
	if len(rest) > 1 && rest[0] == ' ' && rest[1] == '(' {
		detail := rest[2:]
		var end int
		if kind == classMalware {
			end = bytes.IndexByte(detail, ')')
		} else {
			end = detailEnd(detail)
		}
		if end < 0 {
			// Truncated: keep the verdict, the rest is unknown.
			if kind == classMalware {
				ev.Category = detect.CategoryMalware
			}
			return nil
		}
		if kind == classMalware {
			ev.Category = detect.CategoryMalware
			if v := virusName(detail[:end]); v != nil {
				ev.Rule.Name = p.names.Bytes(v)
			}
		}
		rest = detail[end+1:]
	} else if kind == classMalware {
		ev.Category = detect.CategoryMalware
	}
	// The actions performed: " {DiscardedInbound,Quarantined}".
	if len(rest) > 1 && rest[0] == ' ' && rest[1] == '{' {
		end := bytes.IndexByte(rest, '}')
		if end < 0 {
			return nil
		}
		rest = rest[end+1:]
	}
	if r, ok := cut(rest, ","); ok {
		rest = r
		a, port, found, err := clientAddr(rest)
		if err != nil {
			return err
		}
		if found {
			ev.Source.IP, ev.Source.Port = a, port
			ev.Network.Transport = detect.TransportTCP
			ev.Network.Protocol = "smtp"
		}
	}
	sz, tests := fields(rest)
	if n, ok := lex.Uint(sz); ok {
		ev.Source.Bytes = detect.SetCount(n)
	}
	if kind == classSpam {
		if t := topTest(tests); t != nil {
			ev.Rule.Name = p.names.Bytes(t)
		}
	}
	return nil
}

// detailEnd returns the index of the ')' that closes a BANNED detail: the
// first one followed by " {" or ",", or -1. File names in the detail may
// hold parentheses of their own.
func detailEnd(b []byte) int {
	off := 0
	for {
		i := bytes.IndexByte(b[off:], ')')
		if i < 0 {
			return -1
		}
		j := off + i
		r := b[j+1:]
		if len(r) == 0 || r[0] == ',' || (len(r) > 1 && r[0] == ' ' && r[1] == '{') {
			return j
		}
		off = j + 1
	}
}

// virusName returns the first virus name of an INFECTED detail
// ("Eicar-Signature" or "Exploit.HTML.IFrame, Worm.SomeFool.P"), or nil
// when it does not look like one.
func virusName(b []byte) []byte {
	if i := bytes.IndexByte(b, ','); i >= 0 {
		b = b[:i]
	}
	b = lex.Trim(b)
	if len(b) == 0 || len(b) > 128 {
		return nil
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '-' || c == '_' || c == '/' || c == ':' || c == '!' || c == '@' || c == '#' || c == '+' || c == '~' || c == '=') {
			return nil
		}
	}
	return b
}

// clientAddr parses the client part after the verdict's comma:
// "[ POLICY-BANKS][ LOCAL] [IP]:PORT [IP] <sender> -> ...". It returns the
// first bracketed address, or found == false when there is none: the
// words before it are policy bank names, and a '<' ends the search (the
// envelope sender follows). A bracketed token that is not an address, or
// a bad port, is an error.
func clientAddr(b []byte) (a netip.Addr, port uint16, found bool, err error) {
	for n := 0; n < 8; n++ {
		for len(b) > 0 && b[0] == ' ' {
			b = b[1:]
		}
		if len(b) == 0 || b[0] == '<' || b[0] == '(' {
			return a, 0, false, nil
		}
		sp := bytes.IndexByte(b, ' ')
		tok := b
		if sp >= 0 {
			tok = b[:sp]
			b = b[sp:]
		} else {
			b = nil
		}
		if tok[0] != '[' {
			continue
		}
		end := bytes.IndexByte(tok, ']')
		if end < 0 {
			return a, 0, false, errBadClient
		}
		addr := tok[1:end]
		if lex.HasPrefixFold(addr, "ipv6:") {
			addr = addr[5:]
		}
		var ok bool
		if a, ok = lex.Addr(addr); !ok {
			return a, 0, false, errBadClient
		}
		if r := tok[end+1:]; len(r) > 0 {
			if r[0] != ':' {
				return a, 0, false, errBadClient
			}
			if port, ok = lex.Port(r[1:]); !ok {
				return a, 0, false, errBadPort
			}
		}
		return a, port, true, nil
	}
	return a, 0, false, nil
}

// special marks the bytes fields stops at.
var special = [256]bool{'<': true, '"': true, ',': true}

// fields finds, in the comma-separated fields after the envelope
// addresses, the first ", size: N" (or the "Size: N" of amavisd-new 2.2)
// and the last ", Tests: [...]" list. Text inside <...> (addresses,
// Message-ID) and "..." (Subject, From) is skipped, so that what a sender
// writes there cannot pose as a field.
func fields(b []byte) (size []byte, tests []byte) {
	for i := 0; i < len(b); i++ {
		for i < len(b) && !special[b[i]] {
			i++
		}
		if i >= len(b) {
			break
		}
		switch b[i] {
		case '<':
			j := bytes.IndexByte(b[i:], '>')
			if j < 0 {
				return size, tests
			}
			i += j
		case '"':
			j := bytes.IndexByte(b[i+1:], '"')
			if j < 0 {
				return size, tests
			}
			i += j + 1
		case ',':
			r := b[i+1:]
			switch {
			case size == nil && (bytes.HasPrefix(r, []byte(" size: ")) || bytes.HasPrefix(r, []byte(" Size: "))):
				r = r[len(" size: "):]
				j := 0
				for j < len(r) && r[j] >= '0' && r[j] <= '9' {
					j++
				}
				if j > 0 && (j == len(r) || r[j] == ',' || r[j] == ' ') {
					size = r[:j]
				}
			case bytes.HasPrefix(r, []byte(" Tests: [")):
				r = r[len(" Tests: ["):]
				if j := bytes.IndexByte(r, ']'); j >= 0 {
					tests = r[:j]
					i += len(" Tests: [") + j
				}
			}
		}
	}
	return size, tests
}

// topTest returns the name of the highest-scoring test in a list,
// "NAME=score,NAME=score" or "NAME=score, NAME=score" (the first one on a
// tie), or nil.
func topTest(list []byte) []byte {
	var best []byte
	var bestScore float64
	for len(list) > 0 {
		var item []byte
		if j := bytes.IndexByte(list, ','); j >= 0 {
			item, list = list[:j], list[j+1:]
		} else {
			item, list = list, nil
		}
		item = lex.Trim(item)
		eq := bytes.LastIndexByte(item, '=')
		if eq <= 0 {
			continue
		}
		name := item[:eq]
		score, ok := parseScore(item[eq+1:])
		if !ok || !testName(name) {
			continue
		}
		if best == nil || score > bestScore {
			best, bestScore = name, score
		}
	}
	return best
}

// testName reports whether b is a SpamAssassin test name, or one of
// amavis' "AV:Sanesecurity.Foo.UNOFFICIAL" pseudo-tests.
func testName(b []byte) bool {
	if len(b) == 0 || len(b) > 100 {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '.' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// parseScore parses a test score: an optional sign, digits and an
// optional fraction ("3.5", "-0.678", "4").
func parseScore(b []byte) (float64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var v, scale float64
	digits := 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			d := float64(c - '0')
			if scale == 0 {
				v = v*10 + d
			} else {
				v += d * scale
				scale /= 10
			}
			digits++
		case c == '.' && scale == 0:
			scale = 0.1
		default:
			return 0, false
		}
	}
	if digits == 0 {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

// oldSpam parses the SPAM line of amavisd-new before 2.3 (and of later
// versions at log level 1): "<a> -> <b>, Yes, score=S ... tests=[...]".
func (p *Parser) oldSpam(ev *detect.Event, b []byte) error {
	i := bytes.LastIndex(b, []byte(", Yes, "))
	if i < 0 || bytes.LastIndex(b, []byte(", No, ")) > i {
		return detect.ErrNotEvent // ", No, score=": not spam
	}
	r := b[i+len(", Yes, "):]
	if !bytes.HasPrefix(r, []byte("score=")) && !bytes.HasPrefix(r, []byte("hits=")) {
		return detect.ErrNotEvent
	}
	ev.Category = detect.CategoryEmail
	ev.Type = detect.TypeInfo
	ev.Observer.Vendor = "Amavis"
	ev.Observer.Product = "amavisd-new"
	ev.Rule.Category = "SPAM"
	if i := bytes.LastIndex(r, []byte(" tests=[")); i >= 0 {
		list := r[i+len(" tests=["):]
		if j := bytes.IndexByte(list, ']'); j >= 0 {
			if t := topTest(list[:j]); t != nil {
				ev.Rule.Name = p.names.Bytes(t)
			}
		}
	}
	return nil
}

// oldInfected parses the INFECTED line of amavisd-new 2003 and 2004,
// after "INFECTED (": "NAME[, NAME]), <a> -> <b>, quarantine ...".
func (p *Parser) oldInfected(ev *detect.Event, b []byte) error {
	end := bytes.IndexByte(b, ')')
	if end < 0 {
		return errors.New("amavis: INFECTED without its closing parenthesis")
	}
	ev.Category = detect.CategoryMalware
	ev.Type = detect.TypeInfo
	ev.Observer.Vendor = "Amavis"
	ev.Observer.Product = "amavisd-new"
	ev.Rule.Category = "INFECTED"
	if v := virusName(b[:end]); v != nil {
		ev.Rule.Name = p.names.Bytes(v)
	}
	rest := b[end+1:]
	if r, ok := cut(rest, ","); ok {
		a, port, found, err := clientAddr(r)
		if err != nil {
			return err
		}
		if found {
			ev.Source.IP, ev.Source.Port = a, port
			ev.Network.Transport = detect.TransportTCP
			ev.Network.Protocol = "smtp"
		}
	}
	return nil
}
