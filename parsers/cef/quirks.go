package cef

import (
	"bytes"
	"strings"
	"unsafe"

	"github.com/cyberalarm/cyberalarm/parsers/lex"
)

// quirk names a vendor whose CEF needs handling beyond the standard:
//
//   - Fortinet FortiGate writes "CEF: 0|" (a space after the colon); its
//     "out" is the bytes the source sent and "in" the bytes it received, the
//     reverse of the standard; a traffic log (cat traffic:...) is allowed
//     whatever its act (close, timeout, server-rst, ...) unless the act is a
//     deny; fields without a CEF key carry a FTNTFGT prefix, of which attack
//     and virus (the signature), attackid and virusid, policyid and
//     policyname, and sentpkt and rcvdpkt (network.packets) are read.
//   - Trend Micro Deep Security numbers its event classes by module:
//     1000000-1999999 intrusion prevention, 3000000-3999999 log inspection
//     (both intrusion_detection), 4000000-4999999 anti-malware (malware),
//     5000000-5999999 web reputation (web). In detect-only mode its act is
//     written "IDS:Reset", which is not a block.
//   - Sophos Central's Name is a sentence that quotes file paths, so it is
//     never copied; the threat's name is the "threat" key. Its event type
//     (the Device Event Class ID, "Event::Endpoint::Threat::CleanedUp")
//     gives the category (Threat: malware, Hmpa: intrusion_detection) and,
//     without an act, the action (its last part).
//   - Imperva Cloud (vendor Incapsula) logs web requests: category web; cn1
//     is the response code; request is "host/path".
//   - Check Point writes severity "Unknown" in the header and its own
//     cp_severity (Low ... Very-High, Critical) in the extension. Its Name
//     is the service ("https") for firewall logs and its event class is
//     always "Log", so neither becomes a network event's rule: only the
//     labelled custom strings ("Rule Name", "Protection Name", "Protection
//     ID") name rules and signatures. In Identity Awareness logs, act "Log
//     In" is a successful login.
type quirk uint8

const (
	quirkNone quirk = iota
	quirkFortinet
	quirkDeepSecurity
	quirkSophosCentral
	quirkImpervaCloud
	quirkCheckPoint
)

func quirkOf(vendor, product string) quirk {
	switch {
	case vendor == "Fortinet" && strings.EqualFold(product, "Fortigate"):
		return quirkFortinet
	case vendor == "Trend Micro" && strings.HasPrefix(product, "Deep Security"):
		return quirkDeepSecurity
	case strings.EqualFold(vendor, "sophos") && strings.EqualFold(product, "sophos central"):
		return quirkSophosCentral
	case vendor == "Incapsula":
		return quirkImpervaCloud
	case vendor == "Check Point":
		return quirkCheckPoint
	}
	return quirkNone
}

// vendorPair files a vendor's own extension keys.
func vendorPair(key, val []byte, q quirk, f *fields) {
	switch q {
	case quirkFortinet:
		if !bytes.HasPrefix(key, []byte("FTNTFGT")) {
			return
		}
		switch string(key[len("FTNTFGT"):]) {
		case "attack", "virus":
			f.sigName = val
		case "attackid", "virusid":
			f.sigID = val
		case "policyid":
			f.policyID = val
		case "policyname":
			f.policyName = val
		case "sentpkt":
			f.packets[0] = val
		case "rcvdpkt":
			f.packets[1] = val
		}
	case quirkSophosCentral:
		if string(key) == "threat" {
			f.sigName = val
		}
	case quirkCheckPoint:
		if string(key) == "cp_severity" {
			f.cpSeverity = val
		}
	}
}

// deepSecurityCategory maps a Deep Security event class to a category, or
// "".
func deepSecurityCategory(classID string) string {
	n, ok := lex.Uint([]byte(classID))
	if !ok {
		return ""
	}
	switch {
	case n >= 1000000 && n < 2000000, n >= 3000000 && n < 4000000:
		return "intrusion_detection"
	case n >= 4000000 && n < 5000000:
		return "malware"
	case n >= 5000000 && n < 6000000:
		return "web"
	}
	return ""
}

// sophosCategory maps a Sophos Central event type to a category, or "".
func sophosCategory(classID string) string {
	switch {
	case strings.Contains(classID, "::Threat"):
		return "malware"
	case strings.Contains(classID, "::Hmpa"):
		return "intrusion_detection"
	}
	return ""
}

// sophosAction returns the last part of a Sophos Central event type, when
// it is a verdict ("CleanedUp", "Detected", "Blocked"), as the action.
func sophosAction(classID string) []byte {
	i := strings.LastIndex(classID, "::")
	if i < 0 || !strings.Contains(classID, "::Threat") && !strings.Contains(classID, "::Hmpa") {
		return nil
	}
	s := classID[i+2:]
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s)) // read only
}
