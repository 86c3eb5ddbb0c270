package checkpoint

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"time"
	"unicode/utf8"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

// fill turns the collected fields into the event.
func (p *Parser) fill(rec *detect.Record, f *fields, ev *detect.Event) error {
	product := trim(f.product)
	if len(product) == 0 {
		product = trim(f.cefProduct)
	}
	action := trim(f.action)
	if len(action) == 0 && len(f.cefClass) > 0 && !lex.EqualFold(trim(f.cefClass), "log") {
		action = trim(f.cefClass) // CEF: the event class is the action when act is missing
	}
	actionName, actionKind := p.action(action)
	productName, productClass := "", uint8(bladeUnknown)
	if len(product) > 0 {
		productName, productClass = p.product(product)
	}

	// Authentication first: logins are logged by several blades.
	outcome, authAction := authOutcome(action, actionKind, f)
	category := ""
	switch {
	case outcome != "":
		category = detect.CategoryAuthentication
	case actionKind&actLogout != 0 || lex.EqualFold(trim(f.operation), "Log Out"):
		return detect.ErrNotEvent // a logout
	default:
		if len(action) == 0 && len(trim(f.ruleName)) == 0 {
			return detect.ErrNotEvent // status, update and audit logs
		}
		category = blade(productClass, f)
		if category == "" {
			return detect.ErrNotEvent
		}
	}

	ev.Category = category
	ev.Observer.Vendor = "Check Point"
	ev.Observer.Product = productName
	p.host(f, ev)
	p.timestamp(rec, f, ev)

	// Addresses and ports.
	src, err := addr(f.src, "src")
	if err != nil {
		return err
	}
	dst, err := addr(f.dst, "dst")
	if err != nil {
		return err
	}
	if !src.IsValid() && len(f.src6) > 0 && labelled(f.c6a2Label, "source") {
		src, _ = addr(f.src6, "")
	}
	if !dst.IsValid() && len(f.dst6) > 0 && labelled(f.c6a3Label, "destination") {
		dst, _ = addr(f.dst6, "")
	}
	if !src.IsValid() && category == detect.CategoryAuthentication {
		src, _ = addr(f.clientIP, "")
	}
	if !src.IsValid() && !dst.IsValid() && category != detect.CategoryAuthentication {
		return detect.ErrNotEvent // no connection: system and status logs
	}
	ev.Source.IP, ev.Destination.IP = src, dst
	ev.Source.NATIP, ev.Destination.NATIP = netip.Addr{}, netip.Addr{}
	if len(f.xsrc) > 0 {
		ev.Source.NATIP, _ = addr(f.xsrc, "")
	}
	if len(f.xdst) > 0 {
		ev.Destination.NATIP, _ = addr(f.xdst, "")
	}
	t := transport(trim(f.proto))
	ev.Network.Transport = t
	if t != detect.TransportICMP && t != detect.TransportIPv6ICMP {
		ev.Source.Port, _ = lex.Port(trim(f.sport))
		ev.Destination.Port, _ = lex.Port(trim(f.dport))
	}
	if len(f.serviceID) > 0 {
		if proto := protocol(trim(f.serviceID)); proto != "" {
			ev.Network.Protocol = proto
		}
	}

	// Counters.
	ev.Source.Bytes, ev.Destination.Bytes = detect.Count{}, detect.Count{}
	if len(f.cliOutBytes)|len(f.sentBytes)|len(f.cefIn) != 0 {
		ev.Source.Bytes = count(f.cliOutBytes, f.sentBytes, f.cefIn)
	}
	if len(f.srvOutBytes)|len(f.rcvdBytes)|len(f.cefOut) != 0 {
		ev.Destination.Bytes = count(f.srvOutBytes, f.rcvdBytes, f.cefOut)
	}
	if len(f.packets)|len(f.cliOutPkts)|len(f.cliInPkts) != 0 {
		if n, ok := lex.Uint(trim(f.packets)); ok {
			ev.Network.Packets = detect.SetCount(n)
		} else {
			a, okA := lex.Uint(trim(f.cliOutPkts))
			b, okB := lex.Uint(trim(f.cliInPkts))
			if okA || okB {
				ev.Network.Packets = detect.SetCount(a + b)
			}
		}
	}

	ev.Severity = 0
	if len(f.severity) > 0 {
		ev.Severity = severity(trim(f.severity))
	}
	if ev.Severity == 0 && len(f.cpSeverity) > 0 {
		ev.Severity = severity(trim(f.cpSeverity))
	}
	if ev.Severity == 0 && len(f.cefSeverity) > 0 {
		if s := trim(f.cefSeverity); len(s) > 0 && (s[0] < '0' || s[0] > '9') {
			ev.Severity = severity(s) // a word; the CEF 0-10 scale is not Check Point's
		}
	}

	// Verdict.
	switch category {
	case detect.CategoryAuthentication:
		ev.Outcome = outcome
		if outcome == detect.OutcomeFailure {
			ev.Type = detect.TypeDenied
		} else {
			ev.Type = detect.TypeAllowed
		}
		if authAction != nil {
			ev.Action = p.val(authAction)
		}
		ev.UserName = p.user(f)
	case detect.CategoryNetwork, detect.CategoryWeb:
		if len(action) > 0 { // a connection log without one matched a rule: no verdict
			ev.Action = actionName
			ev.Type = actionVerdict(actionKind)
		}
	default:
		ev.Action = actionName
		if actionKind&actDenied != 0 {
			ev.Type = detect.TypeDenied
		} else {
			ev.Type = detect.TypeInfo
		}
	}

	p.rule(f, category, ev)

	// Web request fields.
	if len(f.resource)|len(f.method)|len(f.ua) == 0 {
		return nil
	}
	if path := urlPath(f.resource); len(path) > 0 {
		ev.URLPath = p.val(path)
	}
	if m := trim(f.method); len(m) > 0 && len(m) <= 16 && isLetters(m) {
		ev.HTTPMethod = p.names.Bytes(m)
	}
	if ua := trim(f.ua); len(ua) > 0 && category == detect.CategoryWeb {
		ev.UserAgent = p.val(ua)
	}
	return nil
}

// authOutcome says whether the line is a login and how it ended: the
// outcome, and the word to report as event.action.
func authOutcome(action []byte, kind uint8, f *fields) (outcome string, word []byte) {
	if kind&(actLogin|actLoginFailed) == 0 && len(f.authStatus) == 0 && len(f.operation) == 0 {
		return "", nil // most lines: nothing about a login
	}
	failed := func(b []byte) bool {
		return containsFold(b, "fail") || containsFold(b, "denied") || containsFold(b, "reject")
	}
	switch {
	case kind&actLogin != 0:
		outcome, word = detect.OutcomeSuccess, action
	case kind&actLoginFailed != 0:
		outcome, word = detect.OutcomeFailure, action
	}
	if st := trim(f.authStatus); len(st) > 0 && (containsFold(st, "login") || containsFold(st, "log in") || containsFold(st, "auth")) {
		o := detect.OutcomeSuccess
		if failed(st) {
			o = detect.OutcomeFailure
		}
		if outcome == "" {
			outcome, word = o, st
		} else if o == detect.OutcomeFailure {
			outcome = o
		}
	}
	if outcome == "" {
		if op := trim(f.operation); lex.EqualFold(op, "Log In") || lex.EqualFold(op, "Login") {
			outcome, word = detect.OutcomeSuccess, op
			if failed(trim(f.auditStatus)) {
				outcome = detect.OutcomeFailure
			}
		}
	}
	if o := trim(f.outcome); outcome != "" && len(o) > 0 {
		switch {
		case lex.HasPrefixFold(o, "fail"):
			outcome = detect.OutcomeFailure
		case lex.HasPrefixFold(o, "succ"):
			outcome = detect.OutcomeSuccess
		}
	}
	return outcome, word
}

// What an action word says, as flags.
const (
	actLogin       = 1 << iota // Log In, Login, Logged In
	actLoginFailed             // Failed Log In, Failed Login, Login Failed
	actLogout                  // Log Out, Logout
	actDenied                  // verdict: denied
	actAllowed                 // verdict: allowed
)

// actionKind reads an action word.
func actionKind(action []byte) uint8 {
	var k uint8
	switch {
	case lex.EqualFold(action, "Log In") || lex.EqualFold(action, "Login") || lex.EqualFold(action, "Logged In"):
		k = actLogin
	case lex.EqualFold(action, "Failed Log In") || lex.EqualFold(action, "Failed Login") || lex.EqualFold(action, "Login Failed"):
		k = actLoginFailed
	}
	if lex.EqualFold(action, "Log Out") || lex.EqualFold(action, "Logout") {
		k |= actLogout
	}
	switch verdict(action) {
	case detect.TypeDenied:
		k |= actDenied
	case detect.TypeAllowed:
		k |= actAllowed
	}
	return k
}

// actionVerdict is the event.type of an action word's flags.
func actionVerdict(k uint8) string {
	switch {
	case k&actDenied != 0:
		return detect.TypeDenied
	case k&actAllowed != 0:
		return detect.TypeAllowed
	}
	return detect.TypeInfo
}

// action returns the action word as event.action and what it says.
func (p *Parser) action(action []byte) (string, uint8) {
	if len(action) == 0 {
		return "", actionKind(nil)
	}
	m := &p.actions[internHash(action)&(len(p.actions)-1)]
	if m.raw == string(action) {
		return m.val, m.aux
	}
	name, kind := p.val(action), actionKind(action)
	if p.remember(m, action, name) {
		m.aux = kind
	}
	return name, kind
}

// product returns the blade as observer.product and its class.
func (p *Parser) product(product []byte) (string, uint8) {
	m := &p.products[internHash(product)&(len(p.products)-1)]
	if m.raw == string(product) {
		return m.val, m.aux
	}
	name, class := p.val(product), bladeClass(product)
	if p.remember(m, product, name) {
		m.aux = class
	}
	return name, class
}

// Classes of blades.
const (
	bladeUnknown = iota // unknown or missing: go by the threat fields
	bladeNetwork
	bladeIDS
	bladeMalware
	bladeWeb
	bladeEmail
	bladeNone // logs no security events
)

// bladeCategory is the event.category of each known class of blade.
var bladeCategory = [...]string{
	bladeNetwork: detect.CategoryNetwork,
	bladeIDS:     detect.CategoryIntrusionDetection,
	bladeMalware: detect.CategoryMalware,
	bladeWeb:     detect.CategoryWeb,
	bladeEmail:   detect.CategoryEmail,
	bladeNone:    "",
}

// blade maps the class of the product (blade) that logged to a category;
// "" for blades that log no security events.
func blade(class uint8, f *fields) string {
	if class != bladeUnknown {
		return bladeCategory[class]
	}
	// Unknown or missing blade: go by the threat fields.
	switch {
	case len(f.malwareAction) > 0 || len(f.virusName) > 0:
		return detect.CategoryMalware
	case len(f.sigName) > 0 || len(f.attack) > 0 || len(f.protType) > 0:
		return detect.CategoryIntrusionDetection
	}
	return detect.CategoryNetwork
}

// bladeClass classifies a product (blade) name.
func bladeClass(product []byte) uint8 {
	switch {
	case len(product) == 0:
	case containsFold(product, "firewall"), lex.EqualFold(product, "VPN-1"), lex.EqualFold(product, "Log Update"),
		lex.EqualFold(product, "Security Gateway"), containsFold(product, "Mobile Access"), lex.EqualFold(product, "Connectra"):
		return bladeNetwork
	case lex.EqualFold(product, "SmartDefense"), lex.EqualFold(product, "IPS"), lex.EqualFold(product, "IPS-1"),
		lex.EqualFold(product, "Core Protections"), lex.EqualFold(product, "Anti-Exploit"):
		return bladeIDS
	case containsFold(product, "virus"), containsFold(product, "malware"), containsFold(product, "anti-bot"),
		containsFold(product, "anti bot"), containsFold(product, "threat emulation"), containsFold(product, "threat extraction"),
		containsFold(product, "zero phishing"), containsFold(product, "ransomware"):
		return bladeMalware
	case containsFold(product, "url filtering"), containsFold(product, "application control"),
		containsFold(product, "https inspection"), containsFold(product, "content awareness"):
		return bladeWeb
	case containsFold(product, "spam"), containsFold(product, "email security"), containsFold(product, "mta"):
		return bladeEmail
	case containsFold(product, "identity awareness"), lex.EqualFold(product, "SmartConsole"), lex.EqualFold(product, "WEB_API"),
		lex.EqualFold(product, "Web-UI"), lex.EqualFold(product, "Expert Shell"), lex.EqualFold(product, "System Monitor"),
		containsFold(product, "management"):
		return bladeNone // identity, audit and status logs: only their logins are events
	}
	return bladeUnknown
}

// verdict maps an action to event.type.
func verdict(a []byte) string {
	for _, s := range [...]string{"drop", "reject", "block", "prevent", "deny", "reset"} {
		if lex.HasPrefixFold(a, s) {
			return detect.TypeDenied
		}
	}
	for _, s := range [...]string{"accept", "allow", "bypass", "encrypt", "decrypt", "pass"} {
		if lex.HasPrefixFold(a, s) {
			return detect.TypeAllowed
		}
	}
	return detect.TypeInfo // Detect, Inform, Ask, Redirect, Key Install, ...
}

// rule fills rule.name, rule.id and rule.category: the signature wins over
// the policy rule.
func (p *Parser) rule(f *fields, category string, ev *detect.Event) {
	threat := category == detect.CategoryIntrusionDetection || category == detect.CategoryMalware || category == detect.CategoryEmail
	sig := trim(f.sigName)
	if len(sig) == 0 {
		sig = trim(f.virusName)
	}
	if len(sig) == 0 && threat {
		sig = trim(f.cefName)
	}
	switch {
	case len(sig) > 0 && category != detect.CategoryAuthentication:
		ev.Rule.Name = p.val(sig)
		ev.Rule.ID = p.val(trim(f.sigID))
	case len(trim(f.ruleName)) > 0 && category != detect.CategoryAuthentication:
		ev.Rule.Name = p.val(trim(f.ruleName))
		ev.Rule.ID = p.val(trim(f.ruleUID()))
	case len(trim(f.policyRule)) > 0 && category != detect.CategoryAuthentication:
		ev.Rule.Name = p.val(trim(f.policyRule))
	}
	switch category {
	case detect.CategoryWeb:
		ev.Rule.Category = p.val(trim(f.category))
	case detect.CategoryIntrusionDetection:
		if a := trim(f.attack); len(a) > 0 && !bytes.Equal(a, sig) {
			ev.Rule.Category = p.val(a)
		} else {
			ev.Rule.Category = p.val(trim(f.protType))
		}
	case detect.CategoryMalware:
		ev.Rule.Category = p.val(trim(f.protType))
	}
}

// user returns user.name for a login: the account, without the display
// name Check Point puts around it ("John Doe (jdoe)").
func (p *Parser) user(f *fields) string {
	for _, u := range [...][]byte{f.user, f.srcUserName, f.duser, f.suser, f.admin} {
		u = trim(u)
		if len(u) == 0 || len(u) > 256 || lex.EqualFold(u, "-") || lex.EqualFold(u, "unknown") || lex.EqualFold(u, "n/a") {
			continue
		}
		if u[len(u)-1] == ')' {
			if i := bytes.LastIndexByte(u, '('); i >= 0 && i+1 < len(u)-1 {
				u = trim(u[i+1 : len(u)-1])
			}
		}
		if len(u) > 0 {
			return p.val(u)
		}
	}
	return ""
}

// host sets observer.hostname: the splunk format's hostname, else the CN of
// the gateway's SIC name, else the host of a header found in the message.
func (p *Parser) host(f *fields, ev *detect.Event) {
	if h := trim(f.hostname); len(h) > 0 && len(h) <= 255 && isToken(h) {
		ev.Observer.Hostname = p.val(h)
		return
	}
	if sic := trim(f.sicName); len(sic) > 0 {
		if h := p.sicHost(sic); h != "" {
			ev.Observer.Hostname = h
			return
		}
	}
	if h := f.preHost; len(h) > 0 && len(h) <= 255 && isToken(h) {
		ev.Observer.Hostname = p.val(h)
	}
}

// sicHost returns the host named by the CN of a SIC name, or "".
func (p *Parser) sicHost(sic []byte) string {
	m := &p.hosts[internHash(sic)&(len(p.hosts)-1)]
	if m.raw == string(sic) {
		return m.val
	}
	raw := sic
	if bytes.IndexByte(sic, '\\') >= 0 {
		sic = p.unescape(sic)
	}
	h := ""
	if cn := commonName(sic); len(cn) > 0 && len(cn) <= 255 && isToken(cn) {
		h = p.names.Bytes(cn)
	}
	if len(raw) <= maxCached {
		m.raw, m.val = p.names.Bytes(raw), h
	}
	return h
}

// commonName returns the CN component of a distinguished name.
func commonName(dn []byte) []byte {
	for len(dn) > 0 {
		part := dn
		if i := bytes.IndexByte(dn, ','); i >= 0 {
			part, dn = dn[:i], dn[i+1:]
		} else {
			dn = nil
		}
		part = trim(part)
		if len(part) > 3 && lex.HasPrefixFold(part, "cn=") {
			return part[3:]
		}
	}
	return nil
}

// timestamp sets @timestamp from the line's own time: epoch seconds or
// milliseconds, ISO 8601, or "MMM dd yyyy HH:mm:ss".
func (p *Parser) timestamp(rec *detect.Record, f *fields, ev *detect.Event) {
	if t, ok := parseTime(trim(f.time), rec); ok {
		ev.Timestamp = t
		return
	}
	if !f.preTime.IsZero() {
		ev.Timestamp = f.preTime
	}
}

func parseTime(b []byte, rec *detect.Record) (time.Time, bool) {
	if len(b) == 0 {
		return time.Time{}, false
	}
	if n, ok := lex.Uint(b); ok {
		switch {
		case len(b) >= 12 && len(b) <= 14: // milliseconds
			return time.UnixMilli(n).UTC(), true
		case len(b) >= 9 && len(b) <= 11:
			return time.Unix(n, 0).UTC(), true
		}
		return time.Time{}, false
	}
	if t, n, ok := syslog.ParseISO(b, true, rec.Location()); ok && n == len(b) {
		return t, true
	}
	if t, n, ok := syslog.ParseBSD(b, rec.Ref, rec.Location()); ok && n == len(b) {
		return t, true
	}
	return time.Time{}, false
}

// addr parses an address, treating the unspecified address as absent. A
// present but unparseable value is an error when name is set.
func addr(b []byte, name string) (netip.Addr, error) {
	b = trim(b)
	if len(b) == 0 {
		return netip.Addr{}, nil
	}
	if a, ok := ipv4(b); ok {
		if a.IsUnspecified() {
			return netip.Addr{}, nil
		}
		return a, nil
	}
	a, ok := lex.Addr(b)
	if !ok {
		if name != "" {
			return netip.Addr{}, fmt.Errorf("checkpoint: bad %s address %q", name, clip(b))
		}
		return netip.Addr{}, nil
	}
	if a.IsUnspecified() {
		return netip.Addr{}, nil
	}
	return a, nil
}

// ipv4 parses a dotted-quad IPv4 address in the form netip.ParseAddr
// accepts: four decimal octets of at most 255, without leading zeros.
// Anything else is left to lex.Addr.
func ipv4(b []byte) (netip.Addr, bool) {
	if len(b) < 7 || len(b) > 15 {
		return netip.Addr{}, false
	}
	var ip [4]byte
	k, v, digits := 0, 0, 0
	for _, c := range b {
		if c == '.' {
			if digits == 0 || k == 3 {
				return netip.Addr{}, false
			}
			ip[k] = byte(v)
			k, v, digits = k+1, 0, 0
			continue
		}
		d := int(c) - '0'
		if d < 0 || d > 9 || digits == 1 && v == 0 {
			return netip.Addr{}, false // not a digit, or a leading zero
		}
		v = v*10 + d
		digits++
		if v > 255 {
			return netip.Addr{}, false
		}
	}
	if k != 3 || digits == 0 {
		return netip.Addr{}, false
	}
	ip[3] = byte(v)
	return netip.AddrFrom4(ip), true
}

// labelled reports whether a CEF custom address's label, if any, names
// the given side.
func labelled(label []byte, side string) bool {
	return len(label) == 0 || containsFold(label, side)
}

// transport maps proto, an IP protocol number or name.
func transport(b []byte) string {
	switch {
	case string(b) == "6" || lex.EqualFold(b, "tcp"):
		return detect.TransportTCP
	case string(b) == "17" || lex.EqualFold(b, "udp"):
		return detect.TransportUDP
	case string(b) == "1" || lex.EqualFold(b, "icmp"):
		return detect.TransportICMP
	case string(b) == "58" || lex.EqualFold(b, "icmpv6") || lex.EqualFold(b, "ipv6-icmp"):
		return detect.TransportIPv6ICMP
	}
	return ""
}

// protocol maps a Check Point service object name to the application
// protocol, for the well-known services only.
func protocol(svc []byte) string {
	if len(svc) == 0 || len(svc) > 32 {
		return ""
	}
	var buf [32]byte
	for i, c := range svc {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(svc)]) {
	case "http", "http_and_https_proxy":
		return "http"
	case "https", "https_default":
		return "https"
	case "ssh", "ssh_version_2":
		return "ssh"
	case "telnet":
		return "telnet"
	case "ftp", "ftp-port", "ftp-pasv":
		return "ftp"
	case "smtp", "smtps", "smtp-submission":
		return "smtp"
	case "domain-udp", "domain-tcp", "dns":
		return "dns"
	case "ntp", "ntp-udp", "ntp-tcp":
		return "ntp"
	case "snmp", "snmp-read", "snmp-trap":
		return "snmp"
	case "ldap":
		return "ldap"
	case "ldap-ssl", "ldaps":
		return "ldaps"
	case "imap", "imap-ssl", "imaps":
		return "imap"
	case "pop-3", "pop3", "pop3s":
		return "pop3"
	case "microsoft-ds", "smb", "nbsession":
		return "smb"
	case "remote_desktop_protocol", "rdp":
		return "rdp"
	case "syslog":
		return "syslog"
	case "sip", "sip_any":
		return "sip"
	case "kerberos", "kerberos-udp", "kerberos-tcp":
		return "kerberos"
	case "ike", "ike_nat_traversal":
		return "ike"
	}
	return ""
}

// count returns the first of the values that is a number.
func count(a, b, c []byte) detect.Count {
	if len(a)|len(b)|len(c) == 0 {
		return detect.Count{}
	}
	for _, v := range [...][]byte{a, b, c} {
		if n, ok := lex.Uint(trim(v)); ok {
			return detect.SetCount(n)
		}
	}
	return detect.Count{}
}

// severity maps Check Point's severity, a code from 0 (Informational) to
// 4 (Critical) or its name, to event.severity.
func severity(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	if n, ok := lex.Uint(b); ok {
		if n <= 4 {
			return int(n)
		}
		return 0
	}
	switch {
	case lex.EqualFold(b, "critical"), lex.EqualFold(b, "very-high"), lex.EqualFold(b, "very high"):
		return 4
	case lex.EqualFold(b, "high"):
		return 3
	case lex.EqualFold(b, "medium"):
		return 2
	case lex.EqualFold(b, "low"), lex.EqualFold(b, "very-low"), lex.EqualFold(b, "very low"):
		return 1
	}
	return 0
}

// urlPath returns the path of a URL, without scheme, host, query or
// fragment. A value without a scheme is "host/path" or a bare host.
func urlPath(b []byte) []byte {
	b = trim(b)
	if len(b) == 0 {
		return nil
	}
	if i := bytes.IndexAny(b, "?#"); i >= 0 {
		b = b[:i]
	}
	if len(b) == 0 {
		return nil
	}
	if i := bytes.Index(b, []byte("://")); i > 0 && i < 10 {
		b = b[i+3:]
	}
	if len(b) == 0 {
		return nil // a scheme alone: "https://"
	}
	if b[0] != '/' {
		j := bytes.IndexByte(b, '/')
		if j < 0 {
			return nil
		}
		b = b[j:]
	}
	return b
}

// val interns a value, undoing its escapes first. Values repeat from line
// to line: a small two-way cache, by the value as written, answers most of
// them without unescaping or the interner's map.
func (p *Parser) val(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	set := &p.vals[internHash(b)&(len(p.vals)-1)]
	if set[0].raw == string(b) {
		return set[0].val
	}
	if set[1].raw == string(b) {
		return set[1].val
	}
	return p.valMiss(set, b)
}

// valMiss interns a value that is not in its set of the cache, and puts it
// first there.
func (p *Parser) valMiss(set *[2]memo, b []byte) string {
	set[1] = set[0]
	m := &set[0]
	raw := b
	if bytes.IndexByte(b, '\\') >= 0 {
		b = p.unescape(b)
	}
	s := p.names.Bytes(b)
	p.remember(m, raw, s)
	return s
}

// memo is a slot of a cache of what the fill makes of a value.
type memo struct {
	raw string // the value as written, escapes intact
	val string // the interned value, escapes undone
	aux uint8  // what the value says, for actions and products
}

// maxCached is the longest value the caches keep, the longest the interner
// keeps.
const maxCached = 128

// remember fills m with the value raw and its string s, and reports
// whether it did: values too long to intern are not kept.
func (p *Parser) remember(m *memo, raw []byte, s string) bool {
	if len(raw) > maxCached {
		return false
	}
	r := s
	if r != string(raw) {
		r = p.names.Bytes(raw) // escaped: intern the form as written too
	}
	m.raw, m.val, m.aux = r, s, 0
	return true
}

// internHash is the slot of b in a cache: its length, first and last eight
// bytes mixed.
func internHash(b []byte) int {
	n := len(b)
	var x uint64
	if n >= 8 {
		x = binary.LittleEndian.Uint64(b) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(b[n-8:]), 29)
	} else {
		for _, c := range b {
			x = x<<8 | uint64(c)
		}
	}
	return int(((x ^ uint64(n)) * 0x9e3779b97f4a7c15) >> 48)
}

// scratch returns an empty buffer for one rewritten string of this line.
func (p *Parser) scratch() []byte {
	if p.nbuf == len(p.buf) {
		p.buf = append(p.buf, make([]byte, 0, 128))
	}
	b := p.buf[p.nbuf][:0]
	p.nbuf++
	return b
}

func (p *Parser) keep(b []byte) []byte {
	p.buf[p.nbuf-1] = b
	return b
}

// unescape undoes backslash escapes: \uXXXX is a character, and a
// backslash before any other byte stands for that byte.
func (p *Parser) unescape(b []byte) []byte {
	out := p.scratch()
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' || i+1 >= len(b) {
			out = append(out, c)
			continue
		}
		i++
		if b[i] == 'u' && i+4 < len(b) {
			if r, ok := hex4(b[i+1 : i+5]); ok {
				out = utf8.AppendRune(out, r)
				i += 4
				continue
			}
		}
		out = append(out, b[i])
	}
	return p.keep(out)
}

func hex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// containsFold reports whether b contains the lower-case ASCII string s,
// without regard to case.
func containsFold(b []byte, s string) bool {
	if len(s) == 0 {
		return true
	}
	c0 := s[0] | 0x20 // a byte that matches s[0] matches this
	for i := 0; i+len(s) <= len(b); i++ {
		if b[i]|0x20 == c0 && lex.EqualFold(b[i:i+len(s)], s) {
			return true
		}
	}
	return false
}

func isToken(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

func isLetters(b []byte) bool {
	for _, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
