package syslog

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cyberalarm/cyberalarm/detect"
)

var ref = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

type header struct {
	Syslog   detect.SyslogFormat
	Priority int
	Time     string
	Host     string
	App      string
	ProcID   string
	MsgID    string
	SD       string
	Msg      string
}

func parseHeader(line string, loc *time.Location) header {
	rec := detect.Record{Raw: []byte(line), Ref: ref, Loc: loc}
	Parse(&rec)
	h := header{
		Syslog: rec.Syslog, Priority: rec.Priority,
		Host: string(rec.Host), App: string(rec.App), ProcID: string(rec.ProcID),
		MsgID: string(rec.MsgID), SD: string(rec.SD), Msg: string(rec.Msg),
	}
	if !rec.Time.IsZero() {
		h.Time = rec.Time.UTC().Format(time.RFC3339Nano)
	}
	return h
}

func TestParse(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		berlin = time.FixedZone("CET", 3600)
	}
	tests := []struct {
		name string
		line string
		loc  *time.Location
		want header
	}{
		{"3164", "<34>Nov 27 10:00:00 host1 sshd[123]: Failed password",
			nil, header{detect.SyslogRFC3164, 34, "2026-11-27T10:00:00Z", "host1", "sshd", "123", "", "", "Failed password"}},
		{"3164 no pri", "Nov 27 10:00:00 host1 kernel: IN=eth0 OUT=",
			nil, header{detect.SyslogRFC3164, -1, "2026-11-27T10:00:00Z", "host1", "kernel", "", "", "", "IN=eth0 OUT="}},
		{"3164 padded day", "Nov  3 09:01:09 gw kernel: x",
			nil, header{detect.SyslogRFC3164, -1, "2026-11-03T09:01:09Z", "gw", "kernel", "", "", "", "x"}},
		{"3164 nearest year", "Dec 31 23:59:59 gw app: x",
			nil, header{detect.SyslogRFC3164, -1, "2026-12-31T23:59:59Z", "gw", "app", "", "", "", "x"}},
		{"3164 zone", "Nov 27 10:00:00 host1 app: x",
			berlin, header{detect.SyslogRFC3164, -1, "2026-11-27T09:00:00Z", "host1", "app", "", "", "", "x"}},
		{"3164 no host", "<13>Nov 27 10:00:00 sshd[99]: Accepted publickey",
			nil, header{detect.SyslogRFC3164, 13, "2026-11-27T10:00:00Z", "", "sshd", "99", "", "", "Accepted publickey"}},
		{"3164 with year", "<166>Nov 27 2026 10:00:00 asa01 : %ASA-6-302013: Built",
			nil, header{detect.SyslogRFC3164, 166, "2026-11-27T10:00:00Z", "asa01", "", "", "", "", "%ASA-6-302013: Built"}},
		{"cisco stamp colon", "<166>Nov 27 2026 10:00:00: %ASA-4-106023: Deny",
			nil, header{detect.SyslogRFC3164, 166, "2026-11-27T10:00:00Z", "", "", "", "", "", "%ASA-4-106023: Deny"}},
		{"iso stamp", "2026-11-27T10:00:00.250+01:00 gw01 kernel: x",
			nil, header{detect.SyslogRFC3164, -1, "2026-11-27T09:00:00.25Z", "gw01", "kernel", "", "", "", "x"}},
		{"iso stamp pri", "<30>2026-11-27T10:00:00Z gw01 dnsmasq[5]: query",
			nil, header{detect.SyslogRFC3164, 30, "2026-11-27T10:00:00Z", "gw01", "dnsmasq", "5", "", "", "query"}},
		{"tag only", "<134>filterlog[12345]: 5,,,1000",
			nil, header{detect.SyslogRFC3164, 134, "", "", "filterlog", "12345", "", "", "5,,,1000"}},
		{"postfix tag", "Nov 27 10:00:00 mx postfix/smtpd[77]: NOQUEUE: reject",
			nil, header{detect.SyslogRFC3164, -1, "2026-11-27T10:00:00Z", "mx", "postfix/smtpd", "77", "", "", "NOQUEUE: reject"}},
		{"fortigate bare kv", "<189>date=2026-11-27 time=10:00:00 devname=\"FGT\"",
			nil, header{detect.SyslogRFC3164, 189, "", "", "", "", "", "", "date=2026-11-27 time=10:00:00 devname=\"FGT\""}},
		{"no header", "2026-11-27 10:00:00 DROP TCP 1.2.3.4",
			nil, header{detect.SyslogNone, -1, "", "", "", "", "", "", "2026-11-27 10:00:00 DROP TCP 1.2.3.4"}},
		{"cef bare", "CEF:0|Vendor|Product|1|100|Name|5|src=1.2.3.4",
			nil, header{detect.SyslogNone, -1, "", "", "", "", "", "", "CEF:0|Vendor|Product|1|100|Name|5|src=1.2.3.4"}},
		{"json", `{"timestamp":"2026"}`,
			nil, header{detect.SyslogNone, -1, "", "", "", "", "", "", `{"timestamp":"2026"}`}},
		{"5424", `<165>1 2026-11-27T10:00:00.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application"] An application event`,
			nil, header{detect.SyslogRFC5424, 165, "2026-11-27T10:00:00.003Z", "mymachine.example.com", "evntslog", "", "ID47", `[exampleSDID@32473 iut="3" eventSource="Application"]`, "An application event"}},
		{"5424 nil sd and bom", "<34>1 2026-11-27T10:00:00+02:00 host app 42 - - \xef\xbb\xbfhello",
			nil, header{detect.SyslogRFC5424, 34, "2026-11-27T08:00:00Z", "host", "app", "42", "", "", "hello"}},
		{"5424 no msg", "<34>1 - - - - - -",
			nil, header{detect.SyslogRFC5424, 34, "", "", "", "", "", "", ""}},
		{"5424 escaped sd", `<14>1 2026-11-27T10:00:00Z fw RT_FLOW - RT_FLOW_SESSION_DENY [junos@2636.1.1.1.2.129 source-address="1.2.3.4" reason="a \"quoted\\\] one"] msg`,
			nil, header{detect.SyslogRFC5424, 14, "2026-11-27T10:00:00Z", "fw", "RT_FLOW", "", "RT_FLOW_SESSION_DENY", `[junos@2636.1.1.1.2.129 source-address="1.2.3.4" reason="a \"quoted\\\] one"]`, "msg"}},
		{"bad pri", "<999>Nov 27 10:00:00 host app: x",
			nil, header{detect.SyslogNone, -1, "", "", "", "", "", "", "<999>Nov 27 10:00:00 host app: x"}},
		{"bad date", "Feb 30 10:00:00 host app: x",
			nil, header{detect.SyslogNone, -1, "", "", "", "", "", "", "Feb 30 10:00:00 host app: x"}},
		{"stamp then kv", "Nov 27 10:00:00 IN=eth0 OUT= SRC=1.2.3.4",
			nil, header{detect.SyslogRFC3164, -1, "2026-11-27T10:00:00Z", "", "", "", "", "", "IN=eth0 OUT= SRC=1.2.3.4"}},
		{"fraction", "Nov 27 10:00:00.123456 host app: x",
			nil, header{detect.SyslogRFC3164, -1, "2026-11-27T10:00:00.123456Z", "host", "app", "", "", "", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, parseHeader(tt.line, tt.loc)); diff != "" {
				t.Errorf("%q (-want +got):\n%s", tt.line, diff)
			}
		})
	}
}

func TestSDParams(t *testing.T) {
	sd := []byte(`[junos@2636 source-address="1.2.3.4" reason="a \"b\" \] c"][meta sequenceId="7"]`)
	type kv struct{ ID, Name, Value string }
	var got []kv
	SDParams(sd, func(id, name, value []byte) bool {
		got = append(got, kv{string(id), string(name), string(UnescapeSD(nil, value))})
		return true
	})
	want := []kv{
		{"junos@2636", "source-address", "1.2.3.4"},
		{"junos@2636", "reason", `a "b" ] c`},
		{"meta", "sequenceId", "7"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
	if v, ok := SDParam(sd, "meta", "sequenceId"); !ok || string(v) != "7" {
		t.Errorf("SDParam = %q, %v", v, ok)
	}
	if _, ok := SDParam(sd, "junos", "missing"); ok {
		t.Error("SDParam found a missing name")
	}
}

func TestNearestYear(t *testing.T) {
	for _, tt := range []struct {
		ref  time.Time
		m    time.Month
		d    int
		want int
	}{
		{time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), time.December, 31, 2025},
		{time.Date(2026, 12, 30, 0, 0, 0, 0, time.UTC), time.January, 1, 2027},
		{time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC), time.January, 1, 2026},
		{time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC), time.December, 1, 2026},
	} {
		if got := NearestYear(tt.ref, tt.m, tt.d, 0, 0, 0, 0, time.UTC).Year(); got != tt.want {
			t.Errorf("NearestYear(%v, %v %d) = %d, want %d", tt.ref, tt.m, tt.d, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"<34>Nov 27 10:00:00 host1 sshd[123]: Failed password",
		"<166>Nov 27 2026 10:00:00: %ASA-4-106023: Deny",
		`<165>1 2026-11-27T10:00:00.003Z h app - ID47 [a b="c\"d"][e f="g"] msg`,
		"2026-11-27T10:00:00.250+01:00 gw01 kernel: x",
		"<134>filterlog[12345]: 5,,,1000",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		rec := detect.Record{Raw: line, Ref: ref}
		Parse(&rec)
		if len(rec.Msg) > len(line) {
			t.Fatalf("message longer than the line")
		}
		SDParams(rec.SD, func(id, name, value []byte) bool { _ = UnescapeSD(nil, value); return true })
	})
}

// sdEndRef is the plain byte-by-byte reading of structured data that sdEnd
// must agree with.
func sdEndRef(b []byte, i int) int {
	for i < len(b) && b[i] == '[' {
		i++
		inQuote := false
		for {
			if i >= len(b) {
				return -1
			}
			c := b[i]
			if inQuote {
				if c == '\\' {
					i += 2
					continue
				}
				if c == '"' {
					inQuote = false
				}
			} else if c == '"' {
				inQuote = true
			} else if c == ']' {
				i++
				break
			}
			i++
		}
	}
	if i > len(b) {
		return -1
	}
	return i
}

func FuzzSDEnd(f *testing.F) {
	f.Add([]byte(`[a b="c\"]d" e="\\"][f g="h"] msg`))
	f.Add([]byte(`[x y="\\\"]"]`))
	f.Add([]byte(`[junos@2636 source-address="1.2.3.4" reason="a \"b\" \] c"][meta sequenceId="7"]`))
	f.Add([]byte(`[action:"Accept"; note:"a ] b"; x:"]"][y z="w"] msg`))
	f.Add([]byte(`[a b="unterminated ]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 || b[0] != '[' {
			return
		}
		if got, want := sdEnd(b, 0), sdEndRef(b, 0); got != want {
			t.Fatalf("sdEnd(%q) = %d, reference says %d", b, got, want)
		}
	})
}
