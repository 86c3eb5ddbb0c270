package cef

import (
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

var ref = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func TestParseTime(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	for _, tt := range []struct {
		in   string
		loc  *time.Location
		want time.Time // zero: not a time
	}{
		{"1795773600000", nil, time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)},
		{"1795773600", nil, time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)},
		{"0", nil, time.Time{}},
		{"Nov 27 2026 10:00:00", cet, time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)},
		{"Nov 27 10:00:00.5", cet, time.Date(2026, 11, 27, 9, 0, 0, 500e6, time.UTC)},
		{"Nov 27 2026 10:00:00 UTC", cet, time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)},
		{"Nov 27 2026 10:00:00 PST", cet, time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC)},
		{"Nov 27 2026 10:00:00 -0330", nil, time.Date(2026, 11, 27, 13, 30, 0, 0, time.UTC)},
		{"Nov 27 2026 10:00:00 UTC+02:00", nil, time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)},
		{"Nov 27 2026 10:00:00 Mars/Olympus", nil, time.Time{}},
		{"Jan  2 10:00:00", nil, time.Date(2027, 1, 2, 10, 0, 0, 0, time.UTC)}, // the year nearest to ref
		{"2026-11-27T10:00:00Z", cet, time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)},
		{"2026-11-27 10:00:00", cet, time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)},
		{"2026-11-27 10:00:00.25 GMT", cet, time.Date(2026, 11, 27, 10, 0, 0, 250e6, time.UTC)},
		{"Fri Nov 27 10:00:00 2026", cet, time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)},
		{"Fri Nov 27 10:00:00 2026 UTC", cet, time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)},
		{"Feb 30 2026 10:00:00", nil, time.Time{}},
		{"yesterday", nil, time.Time{}},
	} {
		got, ok := parseTime([]byte(tt.in), ref, tt.loc)
		if ok != !tt.want.IsZero() || (ok && !got.Equal(tt.want)) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", tt.in, got.UTC(), ok, tt.want)
		}
	}
}

func TestURLPath(t *testing.T) {
	for in, want := range map[string]string{
		"https://www.example.com/a/b?c=d":      "/a/b",
		"http://www.example.com":               "",
		"/index.html#top":                      "/index.html",
		"shop.example.com/admin/x.php?p=1":     "/admin/x.php",
		"example.com":                          "",
		"example.com?x=/etc/passwd":            "",
		"":                                     "",
		"ftp://files.example.org/pub/x.tar.gz": "/pub/x.tar.gz",
	} {
		if got := string(urlPath([]byte(in))); got != want {
			t.Errorf("urlPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestActVerdict(t *testing.T) {
	for in, want := range map[string]int{
		"deny": verdictBlocked, "Drop": verdictBlocked, "REQ_BLOCKED": verdictBlocked,
		"Access Denied": verdictBlocked, "Quarantined": verdictBlocked, "CleanedUp": verdictBlocked,
		"HmpaExploitPrevented": verdictBlocked, "Reset": verdictBlocked, "BOUNCED": verdictBlocked,
		"accept": verdictAllowed, "REQ_PASSED": verdictAllowed, "passthrough": verdictAllowed, "Permit": verdictAllowed,
		"IDS:Reset": verdictNone, "not blocked": verdictNone, "detectOnly": verdictNone, "Detected": verdictNone,
		"CleanupFailed": verdictNone, "close": verdictNone, "Log": verdictNone, "None": verdictNone, "": verdictNone,
	} {
		if got := actVerdict([]byte(in)); got != want {
			t.Errorf("actVerdict(%q) = %d, want %d", in, got, want)
		}
	}
}

// The extension splits on " key=", keeps spaces and unescaped '=' that do
// not start a key inside values, and skips junk before the first key.
func TestExtension(t *testing.T) {
	p := New()
	var f fields
	p.extension([]byte(` junk src=198.51.100.1 act=Deny Access request=/a?b=c&d=e  msg=x\=y z=w dvchost=fw 1 cs1Label=Rule Name cs1=R1 =bad`), quirkNone, &f)
	for name, tt := range map[string]struct{ got, want string }{
		"src":        {string(f.src), "198.51.100.1"},
		"act":        {string(f.act), "Deny Access"},
		"request":    {string(f.request), "/a?b=c&d=e"},
		"dvchost":    {string(f.dvchost), "fw 1"},
		"policyName": {string(f.policyName), "R1 =bad"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", name, tt.got, tt.want)
		}
	}
}

func TestSniff(t *testing.T) {
	for line, want := range map[string]bool{
		"CEF:0|Acme|FW|1|100|x|5|src=192.0.2.1":                           true,
		"<134>Nov 27 10:00:00 fw CEF:0|Acme|FW|1|100|x|5|src=192.0.2.1":   true,
		"<134>Nov 27 10:00:00 fw CEF: 0|Fortinet|Fortigate|v6|13|x|3|":    true,
		"Fri Nov 27 10:30:00 2026: CEF:0|Cisco|ESA|15|E|x|5|":             true,
		"Nov 27 10:00:00 fw KSMG: CEF:1|AO Kaspersky Lab|KSMG|2|X|y|Low|": true,
		"LEEF:2.0|Trend Micro|Deep Security Manager|11|851|cat=System":    false,
		"Nov 27 10:00:00 host sshd[1]: CEF: lookup failed":                false,
		"Nov 27 10:00:00 host app: user=CEF:x":                            false,
	} {
		rec := detect.Record{Raw: []byte(line)}
		syslog.Parse(&rec)
		if got := Sniff(&rec); got != want {
			t.Errorf("Sniff(%q) = %v, want %v", line, got, want)
		}
	}
}

// Lines that share a header reuse what it gave, but not what the extension
// says: a new cat is classified anew.
func TestHeaderReuse(t *testing.T) {
	p := New()
	parse := func(line string) *detect.Event {
		t.Helper()
		rec := detect.Record{Raw: []byte(line), Ref: ref}
		syslog.Parse(&rec)
		ev := new(detect.Event)
		if err := p.Parse(&rec, ev); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		return ev
	}
	const h = "CEF:0|Fortinet|Fortigate|v6.2.0|16384|x \\| y|3|src=198.51.100.1 dst=192.0.2.1 "
	for _, tt := range []struct{ ext, category, typ string }{
		{"cat=traffic:forward act=close", detect.CategoryNetwork, detect.TypeAllowed},
		{"cat=utm:ips act=detected", detect.CategoryIntrusionDetection, detect.TypeInfo},
		{"cat=utm:ips act=dropped", detect.CategoryIntrusionDetection, detect.TypeDenied},
		{"act=deny", detect.CategoryNetwork, detect.TypeDenied},
		{"cat=utm:virus act=blocked", detect.CategoryMalware, detect.TypeDenied},
	} {
		ev := parse(h + tt.ext)
		if ev.Category != tt.category || ev.Type != tt.typ || ev.Rule.Name != "x | y" || ev.Severity != 3 {
			t.Errorf("%s: got %s %s %q %d", tt.ext, ev.Category, ev.Type, ev.Rule.Name, ev.Severity)
		}
	}
	if ev := parse("CEF:0|Acme|Bastion|1.0|auth-fail|Authentication failure|6|src=203.0.113.40 duser=root outcome=failure"); ev.Category != detect.CategoryAuthentication || ev.Observer.Vendor != "Acme" || ev.Severity != 6 {
		t.Errorf("new header: got %+v", ev)
	}
}
