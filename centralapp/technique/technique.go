// Package technique names the MITRE ATT&CK techniques that detections are
// tagged with, in plain language, for the reports and the dashboard alike:
// their readers are office managers as much as IT contractors.
package technique

import "strings"

// names covers the ids the built-in rule pack uses, and their parents.
var names = map[string]string{
	"T1046":     "Scanning for open services",
	"T1071":     "Malware talking to its controller",
	"T1105":     "Downloading attack tools or malware",
	"T1110":     "Password guessing",
	"T1110.001": "Password guessing",
	"T1110.003": "Password spraying (one password, many accounts)",
	"T1133":     "Remote access open to the internet",
	"T1189":     "Infected websites attacking visitors",
	"T1190":     "Attacks on websites and internet-facing devices",
	"T1203":     "Attacks on computers through browsers or documents",
	"T1204":     "Someone opening a malicious file",
	"T1204.002": "Someone opening a malicious file",
	"T1210":     "Attacks on file sharing and network services",
	"T1496":     "Computers used to mine cryptocurrency",
	"T1498":     "Denial-of-service flooding",
	"T1498.002": "Denial-of-service by reflection (amplification)",
	"T1499":     "Denial-of-service against a server",
	"T1566":     "Phishing e-mail",
	"T1566.001": "Phishing e-mail with a malicious attachment",
	"T1566.002": "Phishing e-mail with a malicious link",
	"T1595":     "Scanning for weaknesses",
	"T1595.001": "Scanning address blocks",
	"T1595.002": "Scanning for known vulnerabilities",
	"T1595.003": "Guessing web pages and folders",
	"spam":      "Spam runs", // the pack's tag for spam, which ATT&CK has no id for
}

// Name is id in plain language: its own entry, else its parent's, else
// the id itself.
func Name(id string) string {
	if s, ok := names[id]; ok {
		return s
	}
	if s, ok := names[Parent(id)]; ok {
		return s
	}
	return id
}

// Parent is a sub-technique's parent (T1110.001 → T1110); any other id is
// its own.
func Parent(id string) string {
	if i := strings.IndexByte(id, '.'); i > 0 && strings.HasPrefix(id, "T") {
		return id[:i]
	}
	return id
}
