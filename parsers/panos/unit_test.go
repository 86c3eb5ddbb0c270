package panos

import (
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

func TestSplitThreatID(t *testing.T) {
	for _, c := range []struct{ in, name, id string }{
		{"SSH2 Login Attempt(31914)", "SSH2 Login Attempt", "31914"},
		{"Windows Executable (EXE)(52020)", "Windows Executable (EXE)", "52020"},
		{"(9999)", "", "9999"},
		{"Eicar Test File", "Eicar Test File", ""},
		{"Odd Name(abc)", "Odd Name(abc)", ""},
		{"generic:bad.example.com(109001001)", "generic", "109001001"},
		{"Suspicious DNS Query (generic:bad.example.com)(109000002)", "Suspicious DNS Query", "109000002"},
		{"HTTP: Suspicious Header(30000)", "HTTP: Suspicious Header", "30000"},
		{"", "", ""},
	} {
		name, id := splitThreatID([]byte(c.in))
		if string(name) != c.name || string(id) != c.id {
			t.Errorf("splitThreatID(%q) = %q, %q; want %q, %q", c.in, name, id, c.name, c.id)
		}
	}
}

func TestURLPath(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"www.example.com/a/b.php?x=1", "/a/b.php"},
		{"https://www.example.com/a#frag", "/a"},
		{"www.example.com", ""},
		{"www.example.com/", "/"},
		{"-/", "/"},
		{"host/with space", ""},
		{"host/?q", "/"},
	} {
		if got := string(urlPath([]byte(c.in))); got != c.want {
			t.Errorf("urlPath(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestStamp(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	if got, want := stamp([]byte("2026/11/27 10:00:00"), berlin), time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("stamp in CET = %v, want %v", got, want)
	}
	if got, want := stamp([]byte("2021-10-22T16:10:05.000000Z"), time.UTC), time.Date(2021, 10, 22, 16, 10, 5, 0, time.UTC); !got.Equal(want) {
		t.Errorf("ISO stamp = %v, want %v", got, want)
	}
	for _, bad := range []string{"2026/02/30 10:00:00", "2026/11/27 24:00:00", "2026/1/27 10:00:00", "", "2026/11/27*10:00:00"} {
		if got := stamp([]byte(bad), time.UTC); !got.IsZero() {
			t.Errorf("stamp(%q) = %v, want zero", bad, got)
		}
	}
}

func TestSniff(t *testing.T) {
	yes := []string{
		"<14>Nov 27 10:00:00 PA-3220 1,2026/11/27 10:00:00,012801000000,TRAFFIC,end,2561,2026/11/27 10:00:00,192.0.2.1",
		"1,2026/11/27 10:00:00,012801000000,THREAT,url,2561,2026/11/27 10:00:00,192.0.2.1",
		"<14>1 2026-11-27T10:00:00Z PA-3220 - - - - ,2026/11/27 10:00:00,,SYSTEM,general,0",
		"931201168,2021-10-22T16:10:10.000000Z,no-serial,GLOBALPROTECT,globalprotect,9.1,",
	}
	no := []string{
		"Nov 27 10:00:00 gw kernel: DROP IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2",
		"<134>Nov 27 10:00:00 host CEF:0|Vendor|Product|1.0|100|name|5|src=192.0.2.1",
		`date=2026-11-27 time=10:00:00 devname="fgt" type="traffic"`,
		"1,2,3,4,5,6,7,8",
		"2026/11/27 10:00:00,012801000000,TRAFFIC,end",
		"1,2026/11/27 10:00:00,012801000000,traffic,end",
		"",
	}
	var rec detect.Record
	for _, s := range yes {
		rec = detect.Record{Raw: []byte(s)}
		syslog.Parse(&rec)
		if !Sniff(&rec) {
			t.Errorf("Sniff(%q) = false", s)
		}
	}
	for _, s := range no {
		rec = detect.Record{Raw: []byte(s)}
		syslog.Parse(&rec)
		if Sniff(&rec) {
			t.Errorf("Sniff(%q) = true", s)
		}
	}
}

func TestSplitMatchesLex(t *testing.T) {
	for _, s := range []string{
		"", ",", "a", "a,", ",a", "a,b,c", `"a,b",c`, `"a""b",c`, `"unterminated`, `"x"junk,y`, `a,"",b`, `"",`, `a,"b"`,
		`1,2026/11/27 10:00:00,0128,THREAT,url,1,2,"q,r",,`,
	} {
		for _, max := range []int{1, 2, 3, 100} {
			got := split(nil, []byte(s), max)
			want := lex.Fields(nil, []byte(s), ',', max)
			if len(got) != len(want) {
				t.Errorf("split(%q, %d): %d fields %q, lex.Fields %d %q", s, max, len(got), got, len(want), want)
				continue
			}
			for i := range got {
				if string(got[i]) != string(want[i]) {
					t.Errorf("split(%q, %d)[%d] = %q, lex.Fields %q", s, max, i, got[i], want[i])
				}
			}
		}
	}
}
