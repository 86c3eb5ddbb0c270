package scan

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// TargetKind says how a target's ownership is proven.
type TargetKind string

// Target kinds.
const (
	// A domain is proven by the member: a DNS TXT record or a token served
	// under /.well-known/. Its addresses are resolved at each scan.
	TargetDomain TargetKind = "domain"
	// An IP range needs an analyst's approval.
	TargetRange TargetKind = "range"
)

// MaxRangeAddrs bounds the addresses of one range target: a scan of a
// range is a connect scan of every address in it.
const MaxRangeAddrs = 256

// Target is something a member asks central to scan.
type Target struct {
	ID       string // ULID
	MemberID string
	Kind     TargetKind
	Value    string // the domain (lower case, no final dot) or the prefix (canonical)
	// Token is what the member publishes to prove a domain (see
	// TXTRecord and WellKnownPath).
	Token   string
	Created time.Time

	// The latest successful proof or approval, and when it lapses. Zero
	// until there is one.
	ProvenBy string // "dns-txt", "well-known" or "approved:NAME"
	Proven   time.Time
	Expires  time.Time
}

// ProvenAt reports whether t's proof or approval holds at now.
func (t *Target) ProvenAt(now time.Time) bool {
	return !t.Proven.IsZero() && now.Before(t.Expires)
}

// Proof is one check of a target's ownership, successful or not: kept so
// an analyst can see when and how each target was proven.
type Proof struct {
	TargetID string
	Method   string // dns-txt, well-known, approved
	By       string // who asked for the check: an account, or "schedule"
	Checked  time.Time
	OK       bool
	Detail   string // what was found, or why it failed
	Expires  time.Time
}

// Approval is an analyst's approval of a range target.
type Approval struct {
	TargetID string
	By       string
	At       time.Time
	Expires  time.Time
	Note     string
}

// TXTName is the DNS name whose TXT record proves domain, beside the
// domain itself.
func TXTName(domain string) string { return "_cyberalarm." + domain }

// TXTRecord is the TXT record value that proves a domain with token.
func TXTRecord(token string) string { return "cyberalarm-verification=" + token }

// WellKnownPath is where a domain's web server may serve its token.
const WellKnownPath = "/.well-known/cyberalarm-verification"

// NewToken returns a fresh verification token.
func NewToken() string {
	b := make([]byte, 20)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// ParseTarget checks a target value of kind and returns it in canonical
// form.
func ParseTarget(kind TargetKind, value string) (string, error) {
	switch kind {
	case TargetDomain:
		d := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(value), "."))
		if err := checkDomain(d); err != nil {
			return "", err
		}
		return d, nil
	case TargetRange:
		p, err := netip.ParsePrefix(strings.TrimSpace(value))
		if err != nil {
			a, aerr := netip.ParseAddr(strings.TrimSpace(value))
			if aerr != nil {
				return "", fmt.Errorf("%q is not an address or CIDR prefix", value)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Zone() != "" {
			return "", fmt.Errorf("%q: zoned addresses are not scanned", value)
		}
		p = p.Masked()
		if n := p.Addr().BitLen() - p.Bits(); n > 8 {
			return "", fmt.Errorf("%s holds more than %d addresses: approve it in parts", p, MaxRangeAddrs)
		}
		return p.String(), nil
	}
	return "", fmt.Errorf("%q is not a target kind: want domain or range", kind)
}

func checkDomain(d string) error {
	if len(d) == 0 || len(d) > 253 {
		return fmt.Errorf("%q is not a domain name", d)
	}
	if _, err := netip.ParseAddr(d); err == nil {
		return fmt.Errorf("%q is an address: add it as a range, which an analyst approves", d)
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return fmt.Errorf("%q is not a fully qualified domain name", d)
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("%q is not a domain name", d)
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("%q is not a domain name", d)
			}
		}
	}
	return nil
}
