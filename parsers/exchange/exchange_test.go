package exchange_test

import (
	"errors"
	"testing"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/exchange"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

const corpus = "../../corpus/parsers/exchange"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, exchange.Info(), corpus, parsertest.Options{})
}

func FuzzExchange(f *testing.F) {
	parsertest.Fuzz(f, exchange.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, exchange.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, exchange.Info(), corpus, true)
}

// parse runs lines through one parser as the framework would and returns
// the last line's event or error.
func parse(p detect.Parser, lines ...string) (*detect.Event, error) {
	var ev *detect.Event
	var err error
	for _, l := range lines {
		rec := detect.Record{Raw: []byte(l), Ref: parsertest.RefTime}
		syslog.Parse(&rec)
		ev = new(detect.Event)
		err = p.Parse(&rec, ev)
	}
	return ev, err
}

// The stream's #Fields header decides which column is which, by name; a
// log without directionality takes a FAIL with a client address as
// inbound.
func TestFieldsHeaderMapsColumnsByName(t *testing.T) {
	p := exchange.New()
	hdr := "#Fields: date-time,event-id,source,client-ip,server-hostname,source-context,recipient-status,total-bytes,message-subject"
	if _, err := parse(p, hdr); !errors.Is(err, detect.ErrNotEvent) {
		t.Fatalf("header: got %v, want ErrNotEvent", err)
	}
	ev, err := parse(p, "2026-11-27T11:00:03.100Z,FAIL,SMTP,203.0.113.73,EXCH07,,550 5.1.1 RESOLVER.ADR.RecipNotFound,321,CANARY")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"@timestamp":"2026-11-27T11:00:03.1Z","event":{"category":"email","type":"denied","action":"FAIL","code":"FAIL"},"observer":{"vendor":"Microsoft","product":"Exchange Server","hostname":"EXCH07"},"source":{"ip":"203.0.113.73","bytes":321},"network":{"transport":"tcp","protocol":"smtp"},"rule":{"name":"550 5.1.1","id":"RESOLVER.ADR.RecipNotFound"}}`
	if got := string(ev.AppendJSON(nil)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// Without a client address, a FAIL cannot be told inbound.
	if _, err := parse(p, "2026-11-27T11:00:04.100Z,FAIL,SMTP,,EXCH07,,550 5.1.1 RESOLVER.ADR.RecipNotFound,321,CANARY"); !errors.Is(err, detect.ErrNotEvent) {
		t.Errorf("FAIL without client: got %v, want ErrNotEvent", err)
	}
	// A header that is not a message tracking log's is refused, and the
	// layout stays.
	if _, err := parse(p, "#Fields: date-time,connector-id,session-id"); err == nil || errors.Is(err, detect.ErrNotEvent) {
		t.Errorf("foreign header: got %v, want an error", err)
	}
	if _, err := parse(p, "2026-11-27T11:00:05.100Z,FAIL,AGENT,,EXCH07,Content Filter Agent,,1,x"); err != nil {
		t.Errorf("after a refused header: %v", err)
	}
}

// The per-stream layout: two parsers do not share their headers.
func TestLayoutIsPerStream(t *testing.T) {
	a, b := exchange.New(), exchange.New()
	if _, err := parse(a, "#Fields: event-id,date-time,source,source-context"); !errors.Is(err, detect.ErrNotEvent) {
		t.Fatal(err)
	}
	if _, err := parse(a, "FAIL,2026-11-27T11:00:05.100Z,AGENT,Content Filter Agent"); err != nil {
		t.Errorf("a: %v", err)
	}
	if _, err := parse(b, "FAIL,2026-11-27T11:00:05.100Z,AGENT,Content Filter Agent"); err == nil {
		t.Errorf("b took a's layout")
	}
}
