// Package watchguard parses WatchGuard Firebox logs (Fireware OS 11.x and
// 12.x) in the two shapes they reach a collector.
//
// The syslog shape, which the Firebox sends to a syslog server: after the
// syslog header come the Firebox serial number, optionally the Firebox's
// own time stamp in parentheses and a cluster member name, then the
// process as a tag and the message id:
//
//	<142>Nov 27 10:00:00 FB-M270 801002AB12345 firewall: msg_id="3000-0148" Deny 1-Trusted 0-External 52 tcp 20 128 198.51.100.7 192.0.2.10 51514 22 offset 10 S 123456 win 64240 (Unhandled External Packet-00)
//	<142>Nov 27 10:00:00 FB-M270 801002AB12345 (2026-11-27T10:00:00) http-proxy[2033]: msg_id="1AFF-0024" Allow 1-Trusted 0-External tcp 10.0.1.10 203.0.113.9 51514 80 msg="HTTP request" op="GET" arg="/index.html" (HTTP-proxy-00)
//
// Packet filter lines give the packet length, protocol, IP header length
// and TTL before the addresses; connection and proxy lines give only the
// protocol. Interface names may hold spaces ("WAN - Aruba"), so the
// addresses are found as the first two consecutive address tokens.
//
// The Traffic Monitor shape, which Traffic Monitor, WatchGuard Cloud and
// Dimension exports write (and some forwarders relay): the Firebox time
// stamp and optional FireCluster member first, the addresses before the
// service, and the message id among the key=value details:
//
//	2026-11-27 10:00:00 Member2 Allow 10.0.1.10 203.0.113.9 https/tcp 51514 443 1-Trusted 0-External Allowed 60 63 (Outgoing-00) proc_id="firewall" rc="100" msg_id="3000-0148" src_ip_nat="198.51.100.1"
//
// Mapping (DESIGN.md §3.1): observer WatchGuard Firebox; event.code is the
// msg_id; event.action the disposition as written (Allow, Deny, Drop,
// Reject...), Allow being allowed and the others denied. The category is
// intrusion_detection for IPS lines (signature_name, or msg_id 3000-0150),
// with rule.name, rule.id and rule.category from signature_name,
// signature_id and signature_cat and event.severity from severity; malware
// for Gateway AntiVirus (virus=, which becomes rule.name) and APT Blocker
// (threat_level=) lines; web for WebBlocker denials (cats=, "Request
// categories") and HTTP/HTTPS proxy lines, with url.path from arg (without
// its query) and http.request.method from op; email for SMTP, POP3 and
// IMAP proxy lines; network otherwise. IDS, malware and e-mail lines are
// denied when the disposition (or ips_action, which then is the
// event.action) blocks and info otherwise.
// Without a signature or virus, rule.name is the policy named in the
// final parentheses ("Unhandled External Packet-00"). src_ip_nat and
// dst_ip_nat go to source.nat.ip and destination.nat.ip (the positional
// addresses are the ones the initiator used); sent_bytes and rcvd_bytes
// are source.bytes and destination.bytes, and sent_pkts plus rcvd_pkts
// network.packets. Free-text values (msg, line, question, file names,
// URLs' queries) are never copied.
//
// Authentication: "Authentication of ... user [bob@Firebox-DB] from
// 198.51.100.7 was accepted/rejected" (msg_id 1100-0004/0005, and the same
// wording for other clients), "Management user admin@Firebox-DB from
// 198.51.100.7 logged in" or "... log in attempt was rejected" (3E00-0002/
// 0003), "User bob is locked out ..." (1100-0007) and "Mobile VPN with SSL
// user bob logged in ... Real IP address is 198.51.100.7" (2500-0000) are
// authentication events; user.name is the user without its
// "@authentication-server" suffix. Attack alarms ("SYN flood attack
// against 192.0.2.10 from 198.51.100.7 detected.", "DDOS from client ...
// detected.") are intrusion_detection events named after the attack,
// denied when the message says packets were dropped. Other messages
// (configuration, VPN, networking, daemon chatter) are not events.
//
// Time: the syslog shape's parenthesised stamp is the Firebox's clock in
// UTC (the header carries its local time) and becomes @timestamp; without
// it the header's time is used. The Traffic Monitor stamp is the Firebox's
// local time and is read in the record's zone.
package watchguard

import (
	"bytes"
	"errors"
	"net/netip"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

// Name is the parser's name and event.dataset.
const Name = "watchguard"

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "WatchGuard Firebox (Fireware) syslog and Traffic Monitor logs: packet filter and proxy traffic, IPS, Gateway AntiVirus, APT Blocker, WebBlocker, authentication and attack alarms",
		New:         func() detect.Parser { return new(Parser) },
		Tags: []string{"firewall", "http-proxy", "https-proxy", "smtp-proxy", "pop3-proxy", "imap-proxy",
			"ftp-proxy", "dns-proxy", "tcp-udp-proxy", "sessiond", "admd", "sslvpn"},
		Sniff: Sniff,
	}
}

const (
	msgIDKey = `msg_id="`
	// headLimit bounds where "proc: msg_id=" may start in the syslog shape.
	headLimit = 160
)

// Sniff reports whether rec looks like a WatchGuard log line: a msg_id
// right after the process tag, or a Traffic Monitor line (a date, a
// disposition and a msg_id among its details).
func Sniff(rec *detect.Record) bool {
	if _, _, _, ok := syslogShape(rec); ok {
		return true
	}
	return trafficShape(rec.Msg)
}

// syslogShape finds the syslog shape's process, the text before it and the
// message id's position: rest starts at `msg_id="`.
func syslogShape(rec *detect.Record) (proc, prefix, rest []byte, ok bool) {
	m := rec.Msg
	if bytes.HasPrefix(m, []byte(msgIDKey)) {
		return rec.App, nil, m, validID(m[len(msgIDKey):])
	}
	lim := m
	if len(lim) > headLimit {
		lim = lim[:headLimit]
	}
	i := bytes.Index(lim, []byte(": "+msgIDKey))
	if i <= 0 {
		return nil, nil, nil, false
	}
	rest = m[i+2:]
	if !validID(rest[len(msgIDKey):]) {
		return nil, nil, nil, false
	}
	// The process tag is the word before ": ", with an optional [pid].
	j := bytes.LastIndexByte(m[:i], ' ')
	proc = m[j+1 : i]
	if k := bytes.IndexByte(proc, '['); k > 0 {
		proc = proc[:k]
	}
	if j < 0 {
		return proc, nil, rest, true
	}
	return proc, m[:j], rest, true
}

// validID reports whether b starts with a message id and its closing
// quote: "3000-0148" or "1AFF-0021".
func validID(b []byte) bool {
	return len(b) >= 10 && b[9] == '"' && isID(b[:9])
}

// isID reports whether b[:9] is a message id such as "3000-0148".
func isID(b []byte) bool {
	if len(b) < 9 || b[4] != '-' {
		return false
	}
	for i, c := range b[:9] {
		if i == 4 {
			continue
		}
		if !isHex(c) {
			return false
		}
	}
	return true
}

// trafficShape reports whether m is a Traffic Monitor line: a
// "YYYY-MM-DD hh:mm:ss" stamp, then (after an optional member name) a
// disposition, and a msg_id.
func trafficShape(m []byte) bool {
	if !isStamp(m) {
		return false
	}
	w, rest := word(m[20:])
	if isMember(w) {
		w, _ = word(rest)
	}
	if disposition(w) == "" {
		return false
	}
	i := bytes.Index(m, []byte(" "+msgIDKey))
	return i > 0 && validID(m[i+1+len(msgIDKey):])
}

func isStamp(b []byte) bool {
	if len(b) < 21 || b[4] != '-' || b[7] != '-' || b[10] != ' ' || b[13] != ':' || b[16] != ':' || b[19] != ' ' {
		return false
	}
	for _, i := range [...]int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		if !isDigit(b[i]) {
			return false
		}
	}
	return true
}

func isMember(w []byte) bool {
	return len(w) > 6 && bytes.HasPrefix(w, []byte("Member")) && isDigits(w[6:])
}

// disposition maps a disposition word to event.type, or "" when w is none.
func disposition(w []byte) string {
	switch string(w) {
	case "Allow", "allow", "ALLOW", "Allowed":
		return detect.TypeAllowed
	case "Deny", "deny", "DENY", "Denied", "Drop", "drop", "Dropped", "Reject", "reject", "Block", "block",
		"Blocked":
		return detect.TypeDenied
	}
	return ""
}

// Parser parses WatchGuard lines. Not safe for concurrent use.
type Parser struct {
	names lex.Interner
}

var (
	errNoAddress = errors.New("watchguard: no source and destination address")
	errTruncated = errors.New("watchguard: truncated traffic line")
	errNoUser    = errors.New("watchguard: no [user] in authentication message")
)

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	proc, prefix, rest, ok := syslogShape(rec)
	if !ok {
		if trafficShape(rec.Msg) {
			return p.monitor(rec, ev)
		}
		return detect.ErrNotEvent
	}
	id := rest[len(msgIDKey) : len(msgIDKey)+9]
	body := skipSpace(rest[len(msgIDKey)+10:])
	if t, ok := parenStamp(prefix); ok {
		ev.Timestamp = t
	}
	w, after := word(body)
	if disposition(w) != "" {
		p.header(ev, id)
		return p.traffic(ev, proc, id, w, after)
	}
	if err := p.message(ev, body); err != nil {
		return err
	}
	p.header(ev, id)
	return nil
}

func (p *Parser) header(ev *detect.Event, id []byte) {
	ev.Observer.Vendor = "WatchGuard"
	ev.Observer.Product = "Firebox"
	ev.Code = p.names.Bytes(id)
}

// parenStamp reads "(2026-11-27T10:00:00)" in the text before the process.
func parenStamp(prefix []byte) (time.Time, bool) {
	i := bytes.IndexByte(prefix, '(')
	if i < 0 {
		return time.Time{}, false
	}
	t, n, ok := syslog.ParseISO(prefix[i+1:], false, time.UTC)
	if !ok || i+1+n >= len(prefix) || prefix[i+1+n] != ')' {
		return time.Time{}, false
	}
	return t, true
}

// traffic parses the syslog shape of a traffic line, after the
// disposition:
//
//	1-Trusted 0-External 52 tcp 20 128 198.51.100.7 192.0.2.10 51514 22 offset 10 S ... key="v" ... (policy)
//	1-Trusted 0-External tcp 10.0.1.10 203.0.113.9 51514 443 key="v" ... (policy)
func (p *Parser) traffic(ev *detect.Event, proc, id, disp, b []byte) error {
	var prev [3][]byte // the three words before the current one
	for len(b) > 0 {
		w, rest := word(b)
		if len(w) == 0 {
			break
		}
		if bytes.IndexByte(w, '=') >= 0 || w[0] == '(' {
			return errNoAddress // the details began before any address
		}
		if src, ok := addr(w); ok {
			w2, rest2 := word(rest)
			dst, ok := addr(w2)
			if !ok {
				return errNoAddress
			}
			// The protocol is the word before the addresses (proxy and
			// connection lines) or three words before, followed by the IP
			// header length and TTL (packet lines).
			proto := prev[2]
			if protoName(proto) == "" && isDigits(prev[2]) && isDigits(prev[1]) {
				proto = prev[0]
			}
			ev.Source.IP, ev.Destination.IP = src, dst
			rest2 = p.ports(ev, protoName(proto), rest2)
			var d details
			d.scan(rest2)
			return p.finish(ev, &d, proc, id, disp)
		}
		prev[0], prev[1], prev[2] = prev[1], prev[2], w
		b = rest
	}
	return errNoAddress
}

// ports sets the transport and, for TCP and UDP, the ports that follow the
// addresses; it returns the rest of the line.
func (p *Parser) ports(ev *detect.Event, t string, b []byte) []byte {
	ev.Network.Transport = t
	if t != detect.TransportTCP && t != detect.TransportUDP {
		return b
	}
	w1, r1 := word(b)
	w2, r2 := word(r1)
	sp, ok1 := lex.Port(w1)
	dp, ok2 := lex.Port(w2)
	if isDigits(w1) && isDigits(w2) {
		if ok1 {
			ev.Source.Port = sp
		}
		if ok2 {
			ev.Destination.Port = dp
		}
		return r2
	}
	return b
}

// monitor parses the Traffic Monitor shape:
//
//	2026-11-27 10:00:00 [Member2] Allow 10.0.1.10 203.0.113.9 https/tcp 51514 443 1-Trusted 0-External Allowed 60 63 (Outgoing-00) proc_id="firewall" rc="100" msg_id="3000-0148" ...
func (p *Parser) monitor(rec *detect.Record, ev *detect.Event) error {
	m := rec.Msg
	t, _, ok := syslog.ParseISO(m, true, rec.Location())
	if ok {
		ev.Timestamp = t
	}
	disp, b := word(m[20:])
	if isMember(disp) {
		disp, b = word(b)
	}
	w1, b := word(b)
	w2, b := word(b)
	src, ok1 := addr(w1)
	dst, ok2 := addr(w2)
	if !ok1 || !ok2 {
		return errNoAddress
	}
	ev.Source.IP, ev.Destination.IP = src, dst
	svc, b := word(b)
	if len(svc) == 0 {
		return errTruncated
	}
	proto := svc
	if i := bytes.LastIndexByte(svc, '/'); i >= 0 {
		proto = svc[i+1:]
	}
	b = p.ports(ev, protoName(proto), b)
	var d details
	d.scan(b)
	d.policy = d.firstGroup
	if len(d.id) == 0 {
		return errTruncated
	}
	return p.finish(ev, &d, d.proc, d.id, disp)
}

// details are the key=value pairs and parenthesised groups after the
// positional fields, as slices of the line.
type details struct {
	srcNAT, dstNAT, sentBytes, rcvdBytes, sentPkts, rcvdPkts []byte
	sigName, sigID, sigCat, severity, ipsAction              []byte
	virus, threatLevel, cats, op, arg, msg, proc, id         []byte
	policy, firstGroup                                       []byte
}

// scan reads key=value pairs (values may be quoted and hold spaces) and
// parenthesised groups. policy is the group that ends the line; firstGroup
// the first group.
func (d *details) scan(b []byte) {
	for {
		b = skipSpace(b)
		if len(b) == 0 {
			return
		}
		if b[0] == '(' {
			end := closeParen(b)
			if end < 0 {
				return
			}
			g := b[1:end]
			if d.firstGroup == nil {
				d.firstGroup = g
			}
			b = b[end+1:]
			if len(lex.Trim(b)) == 0 {
				d.policy = g
			}
			continue
		}
		k := 0
		for k < len(b) && isKeyByte(b[k]) {
			k++
		}
		if k == 0 || k >= len(b) || b[k] != '=' {
			// A positional word ("offset", "S", "win", "Allowed", ...).
			if i := bytes.IndexByte(b, ' '); i >= 0 {
				b = b[i:]
				continue
			}
			return
		}
		key := b[:k]
		b = b[k+1:]
		var val []byte
		if len(b) > 0 && b[0] == '"' {
			end := 1
			for end < len(b) && b[end] != '"' {
				if b[end] == '\\' {
					end++
				}
				end++
			}
			if end > len(b) {
				end = len(b)
			}
			val = b[1:end]
			if end < len(b) {
				end++
			}
			b = b[end:]
		} else {
			i := bytes.IndexByte(b, ' ')
			if i < 0 {
				i = len(b)
			}
			val, b = b[:i], b[i:]
		}
		d.pair(key, val)
	}
}

func (d *details) pair(key, val []byte) {
	switch string(key) {
	case "src_ip_nat":
		d.srcNAT = val
	case "dst_ip_nat":
		d.dstNAT = val
	case "sent_bytes":
		d.sentBytes = val
	case "rcvd_bytes":
		d.rcvdBytes = val
	case "sent_pkts":
		d.sentPkts = val
	case "rcvd_pkts":
		d.rcvdPkts = val
	case "signature_name":
		d.sigName = val
	case "signature_id":
		d.sigID = val
	case "signature_cat":
		d.sigCat = val
	case "severity":
		d.severity = val
	case "ips_action":
		d.ipsAction = val
	case "virus":
		d.virus = val
	case "threat_level":
		d.threatLevel = val
	case "cats", "category":
		d.cats = val
	case "op":
		d.op = val
	case "arg":
		d.arg = val
	case "msg":
		d.msg = val // read for the category only, never copied
	case "proc_id":
		d.proc = val
	case "msg_id":
		if len(val) == 9 && isID(val) {
			d.id = val
		}
	}
}

// finish fills the event from the details of a traffic line.
func (p *Parser) finish(ev *detect.Event, d *details, proc, id, disp []byte) error {
	ev.Observer.Vendor = "WatchGuard"
	ev.Observer.Product = "Firebox"
	ev.Code = p.names.Bytes(id)
	ev.Action = p.names.Bytes(disp)
	verdict := disposition(disp)
	if a := d.ipsAction; len(a) > 0 && len(a) <= 32 && isToken(a) {
		// The IPS's own verdict on a line the policy allowed.
		ev.Action = p.names.Bytes(a)
		if isBlock(a) {
			verdict = detect.TypeDenied
		}
	}

	ev.Source.NATIP = natAddr(d.srcNAT, ev.Source.IP)
	ev.Destination.NATIP = natAddr(d.dstNAT, ev.Destination.IP)
	if n, ok := lex.Uint(d.sentBytes); ok {
		ev.Source.Bytes = detect.SetCount(n)
	}
	if n, ok := lex.Uint(d.rcvdBytes); ok {
		ev.Destination.Bytes = detect.SetCount(n)
	}
	sp, ok1 := lex.Uint(d.sentPkts)
	rp, ok2 := lex.Uint(d.rcvdPkts)
	if ok1 || ok2 {
		ev.Network.Packets = detect.SetCount(sp + rp)
	}
	if n, ok := lex.Uint(d.severity); ok && n <= 1000 {
		ev.Severity = int(n)
	}

	kind := proxyKind(proc, id)
	switch {
	case len(d.sigName) > 0 || string(id) == "3000-0150":
		ev.Category = detect.CategoryIntrusionDetection
		ev.Rule.Name = p.value(d.sigName)
		ev.Rule.ID = p.value(d.sigID)
		ev.Rule.Category = p.value(d.sigCat)
	case len(d.virus) > 0:
		ev.Category = detect.CategoryMalware
		ev.Rule.Name = p.value(d.virus)
	case len(d.threatLevel) > 0 || bytes.Contains(d.msg, []byte(" APT ")):
		ev.Category = detect.CategoryMalware
	case len(d.cats) > 0 || bytes.Contains(d.msg, []byte("Request categories")):
		ev.Category = detect.CategoryWeb
		ev.Rule.Category = p.value(d.cats)
	case kind == kindWeb:
		ev.Category = detect.CategoryWeb
	case kind == kindMail:
		ev.Category = detect.CategoryEmail
	default:
		ev.Category = detect.CategoryNetwork
	}
	if ev.Rule.Name == "" && len(d.policy) > 0 {
		ev.Rule.Name = p.value(d.policy)
	}
	switch ev.Category {
	case detect.CategoryNetwork, detect.CategoryWeb:
		ev.Type = verdict
	default:
		if verdict == detect.TypeDenied {
			ev.Type = detect.TypeDenied
		} else {
			ev.Type = detect.TypeInfo
		}
	}
	if ev.Category == detect.CategoryWeb || kind == kindWeb {
		if path := lex.Path(d.arg); len(path) > 0 && path[0] == '/' {
			ev.URLPath = p.names.Bytes(path)
		}
		if m := d.op; len(m) > 0 && len(m) <= 16 && isUpperWord(m) {
			ev.HTTPMethod = p.names.Bytes(m)
		}
	}
	return nil
}

// Kinds of proxy, by process name or msg_id prefix.
const (
	kindOther = iota
	kindWeb
	kindMail
)

func proxyKind(proc, id []byte) int {
	switch string(proc) {
	case "http-proxy", "https-proxy":
		return kindWeb
	case "smtp-proxy", "pop3-proxy", "imap-proxy":
		return kindMail
	case "":
	default:
		return kindOther
	}
	switch {
	case bytes.HasPrefix(id, []byte("1AFF")), bytes.HasPrefix(id, []byte("2CFF")):
		return kindWeb // HTTP and HTTPS proxies
	case bytes.HasPrefix(id, []byte("1BFF")):
		return kindMail // SMTP proxy
	}
	return kindOther
}

// message parses the non-traffic messages that are events: logins and
// attack alarms.
func (p *Parser) message(ev *detect.Event, b []byte) error {
	b = lex.Trim(b)
	switch {
	case bytes.HasPrefix(b, []byte("Authentication of ")):
		// Authentication of firewall user [bob@Firebox-DB] from 198.51.100.7 was rejected, password is incorrect
		open := bytes.IndexByte(b, '[')
		cl := bytes.IndexByte(b, ']')
		if open < 0 || cl < open {
			return errNoUser
		}
		user := b[open+1 : cl]
		rest := b[cl+1:]
		ip := after(rest, " from ")
		var outcome string
		switch {
		case bytes.Contains(rest, []byte(" was accepted")):
			outcome = detect.OutcomeSuccess
		case bytes.Contains(rest, []byte(" was rejected")):
			outcome = detect.OutcomeFailure
		default:
			return detect.ErrNotEvent
		}
		p.auth(ev, user, ip, outcome, outcome)
	case bytes.HasPrefix(b, []byte("Management user ")):
		// Management user admin@Firebox-DB from 198.51.100.7 logged in
		rest := b[len("Management user "):]
		user, rest := word(rest)
		ip := after(rest, "from ")
		var outcome, action string
		switch {
		case bytes.Contains(rest, []byte("attempt was rejected")), bytes.Contains(rest, []byte("failed")):
			outcome, action = detect.OutcomeFailure, "rejected"
		case bytes.Contains(rest, []byte("logged in")):
			outcome, action = detect.OutcomeSuccess, "logged in"
		default:
			return detect.ErrNotEvent // logged out, configuration changes
		}
		p.auth(ev, user, ip, outcome, action)
	case bytes.HasPrefix(b, []byte("User ")) && bytes.Contains(b, []byte(" is locked out")):
		user, _ := word(b[len("User "):])
		p.auth(ev, user, nil, detect.OutcomeFailure, "locked out")
	case bytes.HasPrefix(b, []byte("Mobile VPN with ")) && bytes.Contains(b, []byte(" logged in")):
		// Mobile VPN with SSL user bob logged in. Virtual IP address is 10.0.5.2. Real IP address is 198.51.100.7.
		i := bytes.Index(b, []byte(" user "))
		if i < 0 {
			return detect.ErrNotEvent
		}
		user, _ := word(b[i+len(" user "):])
		p.auth(ev, user, after(b, "Real IP address is "), detect.OutcomeSuccess, "logged in")
	default:
		return p.attack(ev, b)
	}
	return nil
}

// auth fills an authentication event.
func (p *Parser) auth(ev *detect.Event, user, ip []byte, outcome, action string) {
	ev.Category = detect.CategoryAuthentication
	ev.Outcome = outcome
	if outcome == detect.OutcomeSuccess {
		ev.Type = detect.TypeAllowed
	} else {
		ev.Type = detect.TypeDenied
	}
	if action == detect.OutcomeSuccess {
		action = "accepted"
	} else if action == detect.OutcomeFailure {
		action = "rejected"
	}
	ev.Action = action
	if i := bytes.LastIndexByte(user, '@'); i > 0 {
		user = user[:i] // user@authentication-server
	}
	if len(user) > 0 && len(user) <= 128 && isToken(user) {
		ev.UserName = p.names.Bytes(user)
	}
	if a, ok := addr(ip); ok {
		ev.Source.IP = a
	}
}

// attack parses attack alarms:
//
//	SYN flood attack against 192.0.2.10 from 198.51.100.7 detected. 500 SYN packets dropped since last alarm.
//	Port scan attack from 198.51.100.7 detected.
//	DDOS from client 198.51.100.7 detected.
//	DDOS against server 192.0.2.10 detected.
func (p *Parser) attack(ev *detect.Event, b []byte) error {
	var name []byte
	var src, dst []byte
	if i := bytes.Index(b, []byte(" attack ")); i > 0 && i < 64 {
		name = b[:i+len(" attack")]
		rest := b[i+len(" attack "):]
		dst = after(rest, "against ")
		src = after(rest, "from ")
	} else if bytes.HasPrefix(b, []byte("DDOS from client ")) {
		name, src = b[:4], after(b, "client ")
	} else if bytes.HasPrefix(b, []byte("DDOS against server ")) {
		name, dst = b[:4], after(b, "server ")
	} else {
		return detect.ErrNotEvent
	}
	if !bytes.Contains(b, []byte(" detected")) {
		return detect.ErrNotEvent
	}
	s, okS := addr(src)
	d, okD := addr(dst)
	if !okS && !okD {
		return errNoAddress
	}
	if okS {
		ev.Source.IP = s
	}
	if okD {
		ev.Destination.IP = d
	}
	ev.Category = detect.CategoryIntrusionDetection
	ev.Rule.Name = p.names.Bytes(name)
	if bytes.Contains(b, []byte(" dropped")) {
		ev.Type = detect.TypeDenied
		ev.Action = "dropped"
	} else {
		ev.Type = detect.TypeInfo
		ev.Action = "detected"
	}
	return nil
}

// after returns the word after the first occurrence of s in b, without a
// trailing '.' or ','.
func after(b []byte, s string) []byte {
	i := bytes.Index(b, []byte(s))
	if i < 0 {
		return nil
	}
	w, _ := word(b[i+len(s):])
	for len(w) > 0 && (w[len(w)-1] == '.' || w[len(w)-1] == ',') {
		w = w[:len(w)-1]
	}
	return w
}

// value interns a detail value, or returns "" for an empty or overlong one.
func (p *Parser) value(b []byte) string {
	b = lex.Trim(b)
	if len(b) == 0 || len(b) > 256 {
		return ""
	}
	return p.names.Bytes(b)
}

// natAddr returns a NAT address unless it is absent, unspecified or the
// same as the address it translates.
func natAddr(b []byte, orig netip.Addr) netip.Addr {
	a, ok := addr(b)
	if !ok || a.IsUnspecified() || a == orig {
		return netip.Addr{}
	}
	return a
}

// addr parses an address, without trying words that cannot be one (a
// failed parse costs an allocation, and most words of a line are not
// addresses).
func addr(b []byte) (netip.Addr, bool) {
	if len(b) < 2 || len(b) > 45 {
		return netip.Addr{}, false
	}
	colons, dots := 0, 0
	for _, c := range b {
		switch {
		case c == ':':
			colons++
		case c == '.':
			dots++
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		default:
			return netip.Addr{}, false
		}
	}
	if colons == 0 && dots != 3 || colons == 1 {
		return netip.Addr{}, false
	}
	return lex.Addr(b)
}

func protoName(b []byte) string {
	switch {
	case lex.EqualFold(b, "tcp"):
		return detect.TransportTCP
	case lex.EqualFold(b, "udp"):
		return detect.TransportUDP
	case lex.EqualFold(b, "icmp"):
		return detect.TransportICMP
	case lex.EqualFold(b, "icmpv6"), lex.EqualFold(b, "ipv6-icmp"), lex.EqualFold(b, "icmp6"):
		return detect.TransportIPv6ICMP
	}
	return ""
}

func isBlock(b []byte) bool {
	for _, s := range [...]string{"drop", "block", "deny", "reject", "reset"} {
		if lex.HasPrefixFold(b, s) {
			return true
		}
	}
	return false
}

// closeParen returns the index of the ')' closing the '(' at b[0], or -1.
func closeParen(b []byte) int {
	depth := 0
	for i, c := range b {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// word returns the next space-separated word and what follows it.
func word(b []byte) (w, rest []byte) {
	b = skipSpace(b)
	i := bytes.IndexByte(b, ' ')
	if i < 0 {
		return b, nil
	}
	return b[:i], skipSpace(b[i+1:])
}

func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isDigits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return isDigit(c) || c >= 'A' && c <= 'F' || c >= 'a' && c <= 'f'
}

func isUpperWord(b []byte) bool {
	for _, c := range b {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// isToken reports whether b is printable ASCII without spaces.
func isToken(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

var _ detect.Parser = (*Parser)(nil)
