package syslog

import (
	"os"
	"strings"
	"testing"
	"time"

	gosyslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/rfc3164"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/cyberalarm/cyberalarm/detect"
)

// The hand-written header parser is checked against go-syslog/v4 on the
// shapes both accept, and benchmarked against it.

var rfc5424Lines = []string{
	`<165>1 2026-11-27T10:00:00.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event`,
	`<34>1 2026-11-27T10:00:00+02:00 host app 42 - - hello world`,
	`<14>1 2026-11-27T10:00:00.123456+00:00 fw RT_FLOW - RT_FLOW_SESSION_DENY [junos@2636.1.1.1.2.129 source-address="198.51.100.7" source-port="51514" destination-address="192.0.2.1" destination-port="22"] session denied`,
	`<134>1 2026-11-27T10:00:00Z pfsense.example filterlog 12345 - [meta sequenceId="1"] 5,,,1000000103,igb0,match,block,in,4`,
}

var rfc3164Lines = []string{
	"<34>Nov 27 10:00:00 host1 sshd[123]: Failed password for root from 198.51.100.7 port 51514 ssh2",
	"<4>Nov 27 10:15:01 gw01 kernel: IPTABLES-DROP: IN=eth0 OUT= SRC=198.51.100.23 DST=192.0.2.10",
	"<22>Nov  3 09:01:09 mx postfix/smtpd[77]: NOQUEUE: reject: RCPT from unknown[198.51.100.9]",
}

func TestAgainstGoSyslog5424(t *testing.T) {
	m := rfc5424.NewParser()
	for _, line := range rfc5424Lines {
		msg, err := m.Parse([]byte(line))
		if err != nil {
			t.Fatalf("go-syslog: %v", err)
		}
		want := msg.(*rfc5424.SyslogMessage)
		rec := detect.Record{Raw: []byte(line), Ref: ref}
		Parse(&rec)
		if rec.Syslog != detect.SyslogRFC5424 {
			t.Fatalf("%q: not recognised as RFC 5424", line)
		}
		check(t, line, "priority", int(*want.Priority), rec.Priority)
		check(t, line, "time", want.Timestamp.UTC(), rec.Time.UTC())
		check(t, line, "host", deref(want.Hostname), string(rec.Host))
		check(t, line, "app", deref(want.Appname), string(rec.App))
		check(t, line, "procid", deref(want.ProcID), string(rec.ProcID))
		check(t, line, "msgid", deref(want.MsgID), string(rec.MsgID))
		check(t, line, "msg", deref(want.Message), string(rec.Msg))
		if want.StructuredData != nil {
			for id, params := range *want.StructuredData {
				for name, v := range params {
					got, ok := SDParam(rec.SD, id, name)
					if !ok || string(UnescapeSD(nil, got)) != v {
						t.Errorf("%q: SD %s %s = %q, want %q", line, id, name, got, v)
					}
				}
			}
		}
	}
}

func TestAgainstGoSyslog3164(t *testing.T) {
	m := rfc3164.NewParser(rfc3164.WithYear(rfc3164.Year{YYYY: 2026}))
	for _, line := range rfc3164Lines {
		msg, err := m.Parse([]byte(line))
		if err != nil {
			t.Fatalf("go-syslog: %v", err)
		}
		want := msg.(*rfc3164.SyslogMessage)
		rec := detect.Record{Raw: []byte(line), Ref: ref}
		Parse(&rec)
		check(t, line, "priority", int(*want.Priority), rec.Priority)
		check(t, line, "time", want.Timestamp.UTC(), rec.Time.UTC())
		check(t, line, "host", deref(want.Hostname), string(rec.Host))
		check(t, line, "app", deref(want.Appname), string(rec.App))
		check(t, line, "procid", deref(want.ProcID), string(rec.ProcID))
		check(t, line, "msg", deref(want.Message), string(rec.Msg))
	}
}

func check[T comparable](t *testing.T, line, what string, want, got T) {
	t.Helper()
	if want != got {
		t.Errorf("%q: %s = %v, go-syslog says %v", line, what, got, want)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func benchHeader(b *testing.B, lines []string) {
	raw := make([][]byte, len(lines))
	for i, l := range lines {
		raw[i] = []byte(l)
	}
	var rec detect.Record
	rec.Ref = ref
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rec.Raw = raw[i%len(raw)]
		Parse(&rec)
	}
}

func benchGoSyslog(b *testing.B, m gosyslog.Machine, lines []string) {
	raw := make([][]byte, len(lines))
	for i, l := range lines {
		raw[i] = []byte(l)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := m.Parse(raw[i%len(raw)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHeader3164(b *testing.B) { benchHeader(b, rfc3164Lines) }
func BenchmarkHeader5424(b *testing.B) { benchHeader(b, rfc5424Lines) }
func BenchmarkGoSyslog3164(b *testing.B) {
	benchGoSyslog(b, rfc3164.NewParser(rfc3164.WithYear(rfc3164.Year{YYYY: 2026}), rfc3164.WithTimezone(time.UTC)), rfc3164Lines)
}
func BenchmarkGoSyslog5424(b *testing.B) { benchGoSyslog(b, rfc5424.NewParser(), rfc5424Lines) }

// BenchmarkHeaderCheckPoint measures a header in front of kilobytes of
// structured data, as Check Point's Log Exporter and Juniper send.
func BenchmarkHeaderCheckPoint(b *testing.B) {
	lines, err := readLines("../../corpus/parsers/checkpoint/firewall/input.log")
	if err != nil {
		b.Fatal(err)
	}
	benchHeader(b, lines)
}

func readLines(name string) ([]string, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n"), nil
}
