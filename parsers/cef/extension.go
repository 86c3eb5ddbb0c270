package cef

import (
	"bytes"
)

// extension takes the key=value pairs of the extension apart into f. A
// value runs to the space before the next key: a run of key characters,
// starting with a letter, followed by an unescaped '='. An '=' that does
// not follow such a key (as in an unescaped query string) is part of the
// value.
func (p *Parser) extension(ext []byte, q quirk, f *fields) {
	var key []byte
	from := -1 // where the current key's value starts; -1 before the first key
	for pos := 0; ; {
		e, k := nextKey(ext, pos)
		if from >= 0 {
			end := len(ext)
			if e >= 0 {
				end = k - 1
			}
			p.pair(key, trimRight(ext[from:end]), q, f)
		}
		if e < 0 {
			break
		}
		key, from, pos = ext[k:e], e+1, e+1
	}
	f.labels(q)
}

// nextKey finds the next key at or after pos: it returns the index of its
// '=' and of its first byte, or -1, -1. Anything before the first key is
// skipped (Imperva Cloud starts the extension with a space).
func nextKey(b []byte, pos int) (eq, k int) {
	for e := nextKeyEq(b, pos); e >= 0; e = nextKeyEq(b, e+1) {
		k := keyStart(b, e)
		if k < e && isKeyStart(b[k]) && (k == 0 || b[k-1] == ' ') {
			return e, k
		}
	}
	return -1, -1
}

// nextKeyEq returns the index of the next unescaped '=' at or after from,
// or -1.
func nextKeyEq(b []byte, from int) int {
	for from < len(b) {
		i := bytes.IndexByte(b[from:], '=')
		if i < 0 {
			return -1
		}
		i += from
		// Escaped when preceded by an odd number of backslashes.
		n := 0
		for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			return i
		}
		from = i + 1
	}
	return -1
}

// keyStart returns where the key that ends at eq starts.
func keyStart(b []byte, eq int) int {
	k := eq
	for k > 0 && isKeyByte(b[k-1]) {
		k--
	}
	return k
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '-' || c == '[' || c == ']'
}

func isKeyStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func trimRight(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// pair files one key=value pair into f. Keys are the CEF short names and
// their full names, and a few vendor keys; others are ignored (msg, fname,
// filePath and the like are never read).
func (p *Parser) pair(key, val []byte, q quirk, f *fields) {
	switch string(key) {
	case "src", "sourceAddress":
		f.src = val
	case "dst", "destinationAddress":
		f.dst = val
	case "spt", "sourcePort":
		f.spt = val
	case "dpt", "destinationPort":
		f.dpt = val
	case "sourceTranslatedAddress":
		f.srcNAT = val
	case "destinationTranslatedAddress":
		f.dstNAT = val
	case "c6a2", "deviceCustomIPv6Address2", "sourceIPv6Address":
		f.src6 = val
	case "c6a2Label", "deviceCustomIPv6Address2Label":
		f.src6Label = val
	case "c6a3", "deviceCustomIPv6Address3", "destinationIPv6Address":
		f.dst6 = val
	case "c6a3Label", "deviceCustomIPv6Address3Label":
		f.dst6Label = val
	case "proto", "transportProtocol":
		f.proto = val
	case "act", "deviceAction":
		f.act = val
	case "in", "bytesIn":
		f.in = val
	case "out", "bytesOut":
		f.out = val
	case "suser", "sourceUserName":
		f.suser = val
	case "duser", "destinationUserName":
		f.duser = val
	case "request", "requestUrl":
		f.request = val
	case "requestMethod", "method":
		f.method = val
	case "requestClientApplication":
		f.ua = val
	case "outcome", "eventOutcome":
		f.outcome = val
	case "rt", "deviceReceiptTime":
		f.rt = val
	case "start", "startTime":
		f.start = val
	case "end", "endTime":
		f.end = val
	case "dvchost", "deviceHostName":
		f.dvchost = val
	case "dvc", "deviceAddress":
		f.dvc = val
	case "cat", "deviceEventCategory":
		f.cat = val
	case "app", "applicationProtocol":
		f.app = val
	case "cs1", "deviceCustomString1":
		f.cs[0] = val
	case "cs2", "deviceCustomString2":
		f.cs[1] = val
	case "cs3", "deviceCustomString3":
		f.cs[2] = val
	case "cs4", "deviceCustomString4":
		f.cs[3] = val
	case "cs5", "deviceCustomString5":
		f.cs[4] = val
	case "cs6", "deviceCustomString6":
		f.cs[5] = val
	case "cs1Label", "deviceCustomString1Label":
		f.csLabel[0] = val
	case "cs2Label", "deviceCustomString2Label":
		f.csLabel[1] = val
	case "cs3Label", "deviceCustomString3Label":
		f.csLabel[2] = val
	case "cs4Label", "deviceCustomString4Label":
		f.csLabel[3] = val
	case "cs5Label", "deviceCustomString5Label":
		f.csLabel[4] = val
	case "cs6Label", "deviceCustomString6Label":
		f.csLabel[5] = val
	case "cn1", "deviceCustomNumber1":
		f.cn[0] = val
	case "cn2", "deviceCustomNumber2":
		f.cn[1] = val
	case "cn3", "deviceCustomNumber3":
		f.cn[2] = val
	case "cn1Label", "deviceCustomNumber1Label":
		f.cnLabel[0] = val
	case "cn2Label", "deviceCustomNumber2Label":
		f.cnLabel[1] = val
	case "cn3Label", "deviceCustomNumber3Label":
		f.cnLabel[2] = val
	default:
		vendorPair(key, val, q, f)
	}
}

// labels resolves the custom fields by their labels, once the whole
// extension has been read.
func (f *fields) labels(q quirk) {
	for i, l := range f.csLabel {
		if len(l) == 0 || len(f.cs[i]) == 0 {
			continue
		}
		switch csRole(l) {
		case rolePolicyName:
			if f.policyName == nil {
				f.policyName = f.cs[i]
			}
		case rolePolicyID:
			if f.policyID == nil {
				f.policyID = f.cs[i]
			}
		case roleSigName:
			if f.sigName == nil {
				f.sigName = f.cs[i]
			}
		case roleSigID:
			if f.sigID == nil {
				f.sigID = f.cs[i]
			}
		}
	}
	for i, l := range f.cnLabel {
		if len(f.cn[i]) == 0 {
			continue
		}
		if len(l) == 0 {
			if i == 0 && q == quirkImpervaCloud && f.status == nil {
				f.status = f.cn[i] // Imperva Cloud: cn1 is the response code
			}
			continue
		}
		switch csRole(l) {
		case rolePolicyID:
			if f.policyID == nil {
				f.policyID = f.cn[i]
			}
		case roleSigID:
			if f.sigID == nil {
				f.sigID = f.cn[i]
			}
		case roleStatus:
			if f.status == nil {
				f.status = f.cn[i]
			}
		case rolePackets:
			if f.packets[0] == nil {
				f.packets[0] = f.cn[i]
			} else if f.packets[1] == nil {
				f.packets[1] = f.cn[i]
			}
		}
	}
}

// Roles of custom fields, by label.
const (
	roleNone = iota
	rolePolicyName
	rolePolicyID
	roleSigName
	roleSigID
	roleStatus
	rolePackets
)

// csRole reads a custom field's label, without regard to case.
func csRole(label []byte) int {
	label = trimRight(label)
	if len(label) == 0 || len(label) > 32 {
		return roleNone
	}
	var buf [32]byte
	for i, c := range label {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(label)]) {
	case "rule", "rule name", "rulename", "rule_name", "policy", "policy name", "policyname", "policy_name",
		"firewall rule", "firewall rule name", "access rule", "access rule name", "acl", "acl name",
		"security rule", "security policy":
		return rolePolicyName
	case "rule id", "ruleid", "rule_id", "rule uid", "rule number", "policy id", "policyid", "policy_id",
		"firewall rule id", "acl id":
		return rolePolicyID
	case "signature", "signature name", "attack", "attack name", "attackname", "threat name", "virus name",
		"virusname", "malware name", "protection name":
		return roleSigName
	case "signature id", "signatureid", "attack id", "attackid", "threat id", "virus id", "protection id":
		return roleSigID
	case "response code", "responsecode", "status code", "http status", "http status code", "http response code":
		return roleStatus
	case "packets", "packets sent", "packets received", "packets in", "packets out", "sent packets", "received packets":
		return rolePackets
	}
	return roleNone
}
