package fortigate

import (
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
)

func TestTZOffset(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"+0100", time.Hour, true},
		{"-0500", -5 * time.Hour, true},
		{"+05:30", 5*time.Hour + 30*time.Minute, true},
		{"UTC+2:00", 2 * time.Hour, true},
		{"GMT-5", -5 * time.Hour, true},
		{"UTC", 0, true},
		{"+0000", 0, true},
		{"", 0, false},
		{"+99:99", 0, false},
		{"+1", time.Hour, true},
		{"Europe/Paris", 0, false},
		{"+01:0", 0, false},
	} {
		got, ok := tzOffset([]byte(c.in))
		if got != c.want || ok != c.ok {
			t.Errorf("tzOffset(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestEpoch(t *testing.T) {
	want := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for _, in := range []string{"1795773600", "1795773600000", "1795773600000000", "1795773600000000000"} {
		got, ok := epoch([]byte(in))
		if !ok || !got.Equal(want) {
			t.Errorf("epoch(%s) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "12", "abc", "99999999999999999999", "9999999999999999999", "-1795773600"} {
		if got, ok := epoch([]byte(in)); ok {
			t.Errorf("epoch(%q) = %v, want failure", in, got)
		}
	}
}

func TestSeparator(t *testing.T) {
	for in, want := range map[string]byte{
		`date=2026-11-27 time=10:00:00`:     ' ',
		`date=2026-11-27,time=10:00:00`:     ',',
		`devname="FGT, 60F",devid="x"`:      ',',
		`devname="FGT, 60F" devid="x"`:      ' ',
		`logid="0000000013",type="traffic"`: ',',
		`msg="a \" quote, comma" , x=1`:     ' ',
		`no pairs here`:                     ' ',
		`x="unterminated`:                   ' ',
	} {
		if got := separator([]byte(in)); got != want {
			t.Errorf("separator(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestScanQuotes(t *testing.T) {
	var f fields
	n := f.scan([]byte(`DF type="a \"quoted\" value" bare user="x\\" action=deny srcip= tz="+0100" tz="+0200"`))
	if n != 6 {
		t.Errorf("scan counted %d pairs, want 6", n)
	}
	if got := string(f.v[kType]); got != `a \"quoted\" value` {
		t.Errorf("type = %q", got)
	}
	if got := string(f.v[kUser]); got != `x\\` {
		t.Errorf("user = %q", got)
	}
	if got := string(f.v[kAction]); got != "deny" {
		t.Errorf("action = %q", got)
	}
	if got := f.v[kSrcip]; got == nil || len(got) != 0 {
		t.Errorf("srcip = %q, want empty", got)
	}
	if got := string(f.v[kTz]); got != "+0100" {
		t.Errorf("tz = %q, want the first", got)
	}
}

func TestSniff(t *testing.T) {
	for in, want := range map[string]bool{
		`date=2026-11-27 time=10:00:00 devname="FGT60F" logid="0000000013" type="traffic"`:       true,
		`date=2026-11-27,time=10:00:00,devname="FGT60F",logid="0000000013",type="traffic"`:       true,
		`logid="0000000013" type="traffic" subtype="forward"`:                                    true,
		`logver=702071577 timestamp=1795773600 devname="FGT60F" logid="0419016384"`:              true,
		`eventtime=1795773600 tz="+0100" logid="0000000013" type="traffic"`:                      true,
		`devname=firewall device_id= date=2026-11-27 time=10:00:00 logid="0000000013"`:           true,
		`date=2026-11-27 time=10:00:00 device_id=FE100C3909600504 log_id=0003000006 type=x`:      false,
		`date=2026-11-27 time=10:00:00 msg="hello"`:                                              false,
		`IN=eth0 OUT= SRC=198.51.100.7 DST=192.0.2.10 logid=1`:                                   false,
		`CEF:0|Fortinet|Fortigate|v6.2.9|32102|event:system|7|FortinetFortiGatelogid=0100032102`: false,
		`logid=`: false,
	} {
		rec := detect.Record{Msg: []byte(in)}
		if got := Sniff(&rec); got != want {
			t.Errorf("Sniff(%s) = %v, want %v", in, got, want)
		}
	}
}

func TestIsMsg(t *testing.T) {
	for _, c := range []struct {
		logid string
		want  bool
	}{
		{"0100032002", true},
		{"32002", true},
		{"0101032002", false},
		{"0100032001", false},
		{"010003200", false},
		{"", false},
	} {
		if got := isMsg([]byte(c.logid), "0100", "32002"); got != c.want {
			t.Errorf("isMsg(%q) = %v, want %v", c.logid, got, c.want)
		}
	}
}

// TestDateWithoutZone checks that date= and time= without tz= are read in
// the stream's zone.
func TestDateWithoutZone(t *testing.T) {
	loc := time.FixedZone("X", 3*3600)
	rec := detect.Record{
		Msg: []byte(`date=2026-11-27 time=13:00:00 devname="FGT60F" logid="0000000013" type="traffic" subtype="forward" srcip=203.0.113.9 dstip=192.168.1.10 proto=6 action="deny"`),
		Loc: loc,
	}
	var ev detect.Event
	if err := new(Parser).Parse(&rec, &ev); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC); !ev.Timestamp.Equal(want) {
		t.Errorf("@timestamp = %v, want %v", ev.Timestamp, want)
	}
}
