package leef

import "github.com/cyberalarm/cyberalarm/parsers/lex"

// fields collects the attributes the event is made from, as slices of the
// line. Keys that are not listed here (free text among them) are never
// read.
type fields struct {
	src, dst, srcPreNAT, dstPreNAT, srcPostNAT, dstPostNAT []byte
	srcPort, dstPort, service, proto, altTime              []byte
	srcBytes, dstBytes, srcPackets, dstPackets             []byte
	totalPackets                                           []byte
	action, outcome, cat, subtype, sev                     []byte
	devTime, devTimeFormat, devname, dvchost               []byte
	usrName, accountName, suser, duser, vendorUser         []byte
	fullUser, ruleName                                     []byte
	url, method, userAgent, status, cn1, cn1Label          []byte
	policyName, policyID, sigName, sigID, sigCat           []byte
}

// set stores v in *dst unless a preferred key already gave a value.
func set(dst *[]byte, v []byte) {
	if len(*dst) == 0 {
		*dst = v
	}
}

// pair files one attribute. The predefined LEEF keys come first, then the
// keys real vendors use for the same things (Palo Alto Networks, Check
// Point, Fortinet, Imperva, Symantec, Trend Micro, CEF names inside LEEF).
func (f *fields) pair(key, val []byte) {
	switch string(key) {
	// Addresses and ports.
	case "src":
		f.src = val
	case "srcip", "srcIP", "SrcIP", "sourceAddress", "SourceIP", "SourceIp", "sip", "src_ip":
		set(&f.src, val)
	case "dst":
		f.dst = val
	case "dstip", "dstIP", "DstIP", "destinationAddress", "DestinationIP", "DestinationIp", "dip", "dst_ip":
		set(&f.dst, val)
	case "srcPreNAT":
		f.srcPreNAT = val
	case "dstPreNAT":
		f.dstPreNAT = val
	case "srcPostNAT":
		f.srcPostNAT = val
	case "dstPostNAT":
		f.dstPostNAT = val
	case "xlatesrc", "sourceTranslatedAddress", "transip", "NATSourceIP":
		set(&f.srcPostNAT, val)
	case "xlatedst", "destinationTranslatedAddress", "tranip", "NATDestinationIP":
		set(&f.dstPostNAT, val)
	case "srcPort":
		f.srcPort = val
	case "spt", "sourcePort", "SourcePort", "srcport", "sport", "s_port", "src_port", "cpt":
		set(&f.srcPort, val)
	case "dstPort":
		f.dstPort = val
	case "dpt", "destinationPort", "DestinationPort", "dstport", "dport", "d_port", "dst_port":
		set(&f.dstPort, val)
	case "service":
		f.service = val // Check Point: the destination port
	case "proto":
		f.proto = val
	case "protocol", "Protocol", "transportProtocol":
		set(&f.proto, val)

	// Counters.
	case "srcBytes":
		f.srcBytes = val
	case "sentbyte", "bytesSent", "BytesSent", "sent_bytes":
		set(&f.srcBytes, val)
	case "dstBytes":
		f.dstBytes = val
	case "rcvdbyte", "bytesReceived", "BytesReceived", "received_bytes":
		set(&f.dstBytes, val)
	case "srcPackets":
		f.srcPackets = val
	case "sentpkt", "PacketsSent":
		set(&f.srcPackets, val)
	case "dstPackets":
		f.dstPackets = val
	case "rcvdpkt", "PacketsReceived":
		set(&f.dstPackets, val)
	case "totalPackets":
		f.totalPackets = val

	// Verdict and classification.
	case "action":
		f.action = val
	case "act", "Action", "deviceAction", "ActionTaken", "actionTaken", "Immediate Action":
		set(&f.action, val)
	case "outcome", "login_status", "Outcome", "eventOutcome", "auth_status", "status":
		set(&f.outcome, val)
	case "cat":
		f.cat = val
	case "Subtype", "SubType", "subtype", "subType", "Alert type":
		set(&f.subtype, val)
	case "sev":
		f.sev = val
	case "severity", "Severity", "Alert Severity":
		set(&f.sev, val)

	// Time and device.
	case "devTime":
		f.devTime = val
	case "devTimeFormat":
		f.devTimeFormat = val
	case "rt", "deviceReceiptTime", "start", "startTime":
		set(&f.altTime, val)
	case "devname", "DeviceName", "deviceName":
		set(&f.devname, val)
	case "dvchost", "deviceHostName":
		set(&f.dvchost, val)

	// Users.
	case "usrName":
		f.usrName = val
	case "accountName":
		f.accountName = val
	case "suser", "sourceUserName", "SourceUser":
		set(&f.suser, val)
	case "duser", "destinationUserName", "DestinationUser":
		set(&f.duser, val)
	case "user", "User", "userName", "UserName", "username":
		set(&f.vendorUser, val)
	case "src_user_name":
		set(&f.fullUser, val) // Check Point: "Full Name (login)"

	// Web.
	case "url", "URL":
		f.url = val
	case "request", "requestUrl", "uri", "URI":
		set(&f.url, val)
	case "method", "requestMethod", "http_method", "httpMethod", "HTTPMethod":
		set(&f.method, val)
	case "userAgent", "UserAgent", "useragent", "requestClientApplication", "http_user_agent", "user_agent":
		set(&f.userAgent, val)
	case "cn1":
		f.cn1 = val
	case "cn1Label":
		f.cn1Label = val
	case "responseCode", "ResponseCode", "response_code", "httpStatus", "http_status", "statusCode", "HTTPStatus":
		set(&f.status, val)

	// Rules and signatures.
	case "RuleName", "ruleName", "Rule", "rule_name", "Rule Name", "FirewallRule", "AccessControlRule":
		set(&f.ruleName, val)
	case "policy", "policyName", "PolicyName", "policyname", "policy_name", "Policy Name",
		"AccessControlPolicy":
		set(&f.policyName, val)
	case "policyid", "policyId", "policyID", "PolicyID", "policy_id", "ruleId", "ruleID", "RuleID", "rule_id",
		"rule_uid", "Policy ID":
		set(&f.policyID, val)
	case "rule":
		// Check Point's rule is its number; others name the rule.
		if isDigitsTrim(val) {
			set(&f.policyID, val)
		} else {
			set(&f.ruleName, val)
		}
	case "signature", "signatureName", "SignatureName", "Signature", "sigName", "attack", "attackName",
		"AttackName", "attack_name", "virus", "virusName", "VirusName", "virus_name", "malwareName",
		"MalwareName", "malware_name", "threatName", "ThreatName", "threat_name", "protection_name",
		"Violation", "Signature Name":
		set(&f.sigName, val)
	case "signatureId", "signatureID", "SignatureID", "sigId", "sigID", "attackid", "attackId", "AttackID",
		"virusid", "virusId", "ThreatID", "threatId", "threat_id", "protection_id":
		set(&f.sigID, val)
	case "signatureCategory", "SignatureCategory", "ThreatCategory", "threatCategory", "attack_category",
		"protection_type":
		set(&f.sigCat, val)
	}
}

func isDigitsTrim(b []byte) bool {
	b = lex.Trim(b)
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
