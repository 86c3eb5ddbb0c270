package scan

import (
	"fmt"
	"net/netip"
	"strings"
)

// Severity ranks a finding. The zero value is Info.
type Severity int

// Severities, lowest first.
const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"Info", "Low", "Medium", "High", "Critical"}

func (s Severity) String() string {
	if s < Info || s > Critical {
		return fmt.Sprintf("Severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads a severity name as String writes it (any case); NVD's
// "None" reads as Info.
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	if strings.EqualFold(s, "none") {
		return Info, nil
	}
	return 0, fmt.Errorf("%q is not a severity", s)
}

// SeverityOf maps a CVSS base score to its qualitative rating (CVSS v3/v4).
func SeverityOf(cvss float64) Severity {
	switch {
	case cvss >= 9:
		return Critical
	case cvss >= 7:
		return High
	case cvss >= 4:
		return Medium
	case cvss > 0:
		return Low
	}
	return Info
}

// Kind groups findings by the check that made them.
type Kind string

// Kinds of finding.
const (
	KindPort    Kind = "port"    // an open TCP port
	KindService Kind = "service" // a banner naming the software behind a port
	KindTLS     Kind = "tls"     // protocol versions, cipher suites, certificate
	KindHeader  Kind = "header"  // a missing HTTP security header
	KindPath    Kind = "path"    // an exposed sensitive file or page
	KindCVE     Kind = "cve"     // a known vulnerability of the announced version
)

// Finding is one result of a scan.
type Finding struct {
	// Check names the check and what it found, stably across scans
	// ("tls.version.tls1.0", "path./.git/HEAD", "cve.CVE-2021-41773"):
	// with Host and Port it is the finding's identity (see Key).
	Check    string
	Kind     Kind
	Host     string // the name scanned, or the address for a range target
	Addr     netip.Addr
	Port     uint16 // 0 for findings about a host
	Service  string // what answers on the port: http, https, ssh, smtp, ...
	Title    string
	Severity Severity
	Evidence string // what was seen, quoted from the wire where possible
	Advice   string

	// For KindCVE: the CVE, its CVSS base score and version, whether CISA
	// lists it as exploited, and the software and version the banner named.
	// Banner matches are always potential: distributions backport fixes
	// without changing the version they announce.
	CVE         string
	CVSS        float64
	CVSSVersion string
	KEV         bool
	Software    string
	Version     string
	Description string
}

// Key identifies a finding across scans, for the comparison with the last
// one.
func (f *Finding) Key() string {
	return fmt.Sprintf("%s|%s|%d|%s", f.Host, f.Addr, f.Port, f.Check)
}
