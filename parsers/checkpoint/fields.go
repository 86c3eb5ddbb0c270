package checkpoint

import (
	"time"
)

// fields collects what a line says, as slices of the line (escapes still
// in place), before the event is filled. Every format files its keys here:
// Check Point's own field names directly, CEF keys and labelled custom
// strings by meaning.
type fields struct {
	lineFields
	cefFields // only CEF lines set these: see Parser.cefSet
}

// lineFields are the fields every format may set.
type lineFields struct {
	action, product, sicName, hostname []byte
	time                               []byte

	src, dst, clientIP  []byte
	sport, dport, proto []byte
	xsrc, xdst          []byte
	sawSrc, sawDst      bool

	// Policy rule: rule_name repeats once per matched policy layer, and
	// rule_uid with it; the last named layer decided.
	ruleName   []byte
	ruleIdx    int // index of ruleName among the rule_name keys
	nRuleName  int
	nRuleUID   int
	ruleUIDs   [4][]byte
	policyRule []byte // app_rule_name, CEF Application / Threat Prevention Rule Name

	sigName, virusName, sigID []byte
	attack, protType          []byte
	malwareAction, category   []byte
	severity, cpSeverity      []byte

	user, srcUserName, admin           []byte
	authStatus, operation, auditStatus []byte

	resource, method, ua []byte
	serviceID            []byte

	cliOutBytes, srvOutBytes, sentBytes, rcvdBytes []byte
	packets, cliOutPkts, cliInPkts                 []byte

	// From a header the syslog parser did not take.
	preTime time.Time
	preHost []byte
}

// cefFields are the fields of CEF lines only.
type cefFields struct {
	// The CEF header.
	cefProduct, cefClass, cefName, cefSeverity []byte

	src6, dst6           []byte
	suser, duser         []byte
	outcome              []byte
	cefIn, cefOut        []byte
	cs, csLabel          [6][]byte
	c6a2Label, c6a3Label []byte
}

// native files one of Check Point's own fields.
func (f *fields) native(key, val []byte) {
	switch string(key) {
	case "action":
		f.action = val
	case "product", "ProductName":
		f.product = val
	case "originsicname", "origin_sic_name":
		f.sicName = val
	case "hostname":
		f.hostname = val
	case "time":
		f.time = val
	case "src":
		f.src, f.sawSrc = val, true
	case "dst":
		f.dst, f.sawDst = val, true
	case "client_ip":
		f.clientIP = val
	case "s_port", "sport_svc":
		f.sport = val
	case "service", "svc":
		f.dport = val
	case "proto":
		f.proto = val
	case "xlatesrc":
		f.xsrc = val
	case "xlatedst":
		f.xdst = val
	case "rule_name":
		if len(trim(val)) > 0 {
			f.ruleName, f.ruleIdx = val, f.nRuleName
		}
		f.nRuleName++
	case "rule_uid":
		if f.nRuleUID < len(f.ruleUIDs) {
			f.ruleUIDs[f.nRuleUID] = val
		}
		f.nRuleUID++
	case "app_rule_name":
		if f.policyRule == nil {
			f.policyRule = val
		}
	case "protection_name":
		f.sigName = val
	case "protection_id":
		f.sigID = val
	case "virus_name", "malware_name":
		f.virusName = val
	case "attack":
		f.attack = val
	case "protection_type":
		f.protType = val
	case "malware_action":
		f.malwareAction = val
	case "matched_category":
		f.category = val
	case "severity":
		f.severity = val
	case "cp_severity":
		f.cpSeverity = val
	case "user":
		f.user = val
	case "src_user_name":
		f.srcUserName = val
	case "administrator":
		f.admin = val
	case "auth_status":
		f.authStatus = val
	case "operation":
		f.operation = val
	case "audit_status":
		f.auditStatus = val
	case "resource":
		f.resource = val
	case "method":
		f.method = val
	case "user_agent":
		f.ua = val
	case "service_id":
		f.serviceID = val
	case "client_outbound_bytes":
		f.cliOutBytes = val
	case "server_outbound_bytes":
		f.srvOutBytes = val
	case "sent_bytes":
		f.sentBytes = val
	case "received_bytes":
		f.rcvdBytes = val
	case "packets":
		f.packets = val
	case "client_outbound_packets":
		f.cliOutPkts = val
	case "client_inbound_packets":
		f.cliInPkts = val
	}
}

// nativeKeys are the names native files.
var nativeKeys = [...]string{
	"action",
	"product",
	"ProductName",
	"originsicname",
	"origin_sic_name",
	"hostname",
	"time",
	"src",
	"dst",
	"client_ip",
	"s_port",
	"sport_svc",
	"service",
	"svc",
	"proto",
	"xlatesrc",
	"xlatedst",
	"rule_name",
	"rule_uid",
	"app_rule_name",
	"protection_name",
	"protection_id",
	"virus_name",
	"malware_name",
	"attack",
	"protection_type",
	"malware_action",
	"matched_category",
	"severity",
	"cp_severity",
	"user",
	"src_user_name",
	"administrator",
	"auth_status",
	"operation",
	"audit_status",
	"resource",
	"method",
	"user_agent",
	"service_id",
	"client_outbound_bytes",
	"server_outbound_bytes",
	"sent_bytes",
	"received_bytes",
	"packets",
	"client_outbound_packets",
	"client_inbound_packets",
}

// nativeFirst has, for every name in nativeKeys, bit c&63 of word n&31 set,
// where c is its first byte and n its length. A key whose bit is clear is
// none of them: the scanners skip native for most of the keys, which the
// parser does not use.
var nativeFirst = func() (m [32]uint64) {
	for _, k := range nativeKeys {
		m[len(k)&31] |= 1 << (k[0] & 63)
	}
	return m
}()

// mayBeNative reports whether key may be a name native files.
func mayBeNative(key []byte) bool {
	return len(key) > 0 && nativeFirst[len(key)&31]>>(key[0]&63)&1 != 0
}

// ruleUID returns the rule_uid of the layer whose rule_name was kept.
func (f *fields) ruleUID() []byte {
	if f.ruleName == nil || f.ruleIdx >= len(f.ruleUIDs) {
		return nil
	}
	return f.ruleUIDs[f.ruleIdx]
}

// labels files the CEF custom strings by their labels, once the whole
// extension has been read.
func (f *fields) labels() {
	for i, l := range f.csLabel {
		v := f.cs[i]
		if len(l) == 0 || len(trim(v)) == 0 {
			continue
		}
		switch labelRole(l) {
		case roleRule:
			if f.ruleName == nil {
				f.ruleName, f.ruleIdx = v, len(f.ruleUIDs)
			}
		case rolePolicy:
			if f.policyRule == nil {
				f.policyRule = v
			}
		case roleSig:
			if f.sigName == nil {
				f.sigName = v
			}
		case roleVirus:
			if f.virusName == nil {
				f.virusName = v
			}
		case roleSigID:
			if f.sigID == nil {
				f.sigID = v
			}
		case roleProtType:
			if f.protType == nil {
				f.protType = v
			}
		case roleCategory:
			if f.category == nil {
				f.category = v
			}
		}
	}
}

// Roles of CEF custom strings, by label.
const (
	roleNone = iota
	roleRule
	rolePolicy
	roleSig
	roleVirus
	roleSigID
	roleProtType
	roleCategory
)

// labelRole reads a custom string's label without regard to case. The
// labels are those of Check Point's Log Exporter CEF mapping; labels whose
// values are payload or free text (Attack Information, Malware Action,
// Email Subject) have no role and are never read.
func labelRole(label []byte) int {
	label = trim(label)
	if len(label) == 0 || len(label) > 40 {
		return roleNone
	}
	var buf [40]byte
	for i, c := range label {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(label)]) {
	case "rule name", "access rule name", "firewall rule name":
		return roleRule
	case "application rule name", "threat prevention rule name", "dlp rule name", "policy name":
		return rolePolicy
	case "protection name", "signature", "attack name":
		return roleSig
	case "virus name", "malware name":
		return roleVirus
	case "protection id", "signature id":
		return roleSigID
	case "protection type":
		return roleProtType
	case "matched category", "categories":
		return roleCategory
	}
	return roleNone
}

// trim removes spaces at both ends.
func trim(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
