package winsecurity

import (
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
)

func TestMessageSpan(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
		ok   bool
	}{
		{`{"Message":"abc","x":1}`, `abc`, true},
		{`{"Message":"a\"b\\","x":1}`, `a\"b\\`, true},
		{`{"Message":"a\\\"b","x":1}`, `a\\\"b`, true},
		{`{"Message":"","x":1}`, ``, true},
		{`{"Message":"abc\"`, ``, false},
		{`{"Message": "abc"}`, ``, false},
	} {
		s, e, ok := messageSpan([]byte(c.in))
		if ok != c.ok || (ok && c.in[s:e] != c.want) {
			t.Errorf("%s: got %v %q, want %v %q", c.in, ok, c.in[s:e], c.ok, c.want)
		}
	}
}

func TestCtime(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip(err)
	}
	for _, c := range []struct {
		in   string
		want string // RFC 3339 in UTC, or "" for a rejected stamp
	}{
		{"Fri Nov 27 10:00:00 2026", "2026-11-27T09:00:00Z"},
		{"Fri Nov 06 10:00:00 2026", "2026-11-06T09:00:00Z"},
		{"Fri Nov  6 10:00:00 2026", "2026-11-06T09:00:00Z"},
		{"Mon Jun 29 08:59:58 2026", "2026-06-29T06:59:58Z"},
		{"Fri Nov 31 10:00:00 2026", ""},
		{"Fri Feb 29 10:00:00 2027", ""},
		{"Fri Xyz 27 10:00:00 2026", ""},
		{"Fri Nov 27 24:00:00 2026", ""},
		{"Fri Nov 27 10:00:00 26", ""},
	} {
		got, ok := ctime([]byte(c.in), berlin)
		if c.want == "" {
			if ok {
				t.Errorf("%s: accepted as %v", c.in, got)
			}
			continue
		}
		if !ok || got.UTC().Format(time.RFC3339) != c.want {
			t.Errorf("%s: got %v %v, want %s", c.in, got.UTC(), ok, c.want)
		}
	}
}

// A stamp without a zone is read in the zone configured for the source.
func TestJSONLocalTime(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip(err)
	}
	line := `{"EventTime":"2026-11-27 10:00:00","Hostname":"DC01","EventID":4625,"SourceName":"Microsoft-Windows-Security-Auditing","TargetUserName":"x","IpAddress":"198.51.100.7","IpPort":"1"}`
	rec := detect.Record{Raw: []byte(line), Msg: []byte(line), Loc: berlin}
	var ev detect.Event
	if err := new(Parser).Parse(&rec, &ev); err != nil {
		t.Fatal(err)
	}
	if got := ev.Timestamp.UTC().Format(time.RFC3339); got != "2026-11-27T09:00:00Z" {
		t.Errorf("@timestamp %s, want 2026-11-27T09:00:00Z", got)
	}
}

// Events of other ids are rejected before the walk, even when the rest of
// the object is broken.
func TestOtherIDEarly(t *testing.T) {
	line := `{"EventTime":"2026-11-27 10:00:00","EventID":4688,"SourceName":"Microsoft-Windows-Security-Auditing","Message":"trunc`
	rec := detect.Record{Raw: []byte(line), Msg: []byte(line)}
	var ev detect.Event
	if err := new(Parser).Parse(&rec, &ev); err != detect.ErrNotEvent {
		t.Errorf("got %v, want ErrNotEvent", err)
	}
}
