package clamav

import (
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
)

// LogTime stamps are local time: they are read in the source's zone.
func TestLogTimeZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip(err)
	}
	line := "Fri Nov 27 10:00:00 2026 -> /tmp/x: Eicar-Signature FOUND"
	rec := detect.Record{Raw: []byte(line), Msg: []byte(line), Loc: berlin}
	var ev detect.Event
	if err := new(Parser).Parse(&rec, &ev); err != nil {
		t.Fatal(err)
	}
	if got := ev.Timestamp.UTC().Format(time.RFC3339); got != "2026-11-27T09:00:00Z" {
		t.Errorf("@timestamp %s, want 2026-11-27T09:00:00Z", got)
	}
}

func TestStripDetectionInfo(t *testing.T) {
	for in, want := range map[string]string{
		"Eicar-Test-Signature(44d88612fea8a8f36de82e1278abb02f:68)": "Eicar-Test-Signature",
		"Win.Trojan.Agent-1(ABCDEF0123:1)":                          "Win.Trojan.Agent-1",
		"Eicar-Test-Signature(zz:12)":                               "Eicar-Test-Signature(zz:12)",
		"Foo(ab:)":                                                  "Foo(ab:)",
		"Foo(:12)":                                                  "Foo(:12)",
		"(ab:12)":                                                   "",
		"Foo":                                                       "Foo",
	} {
		if got := string(stripDetectionInfo([]byte(in))); got != want {
			t.Errorf("%s: got %q, want %q", in, got, want)
		}
	}
}
