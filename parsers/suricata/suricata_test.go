package suricata_test

import (
	"strings"
	"testing"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"

	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/parsers/suricata"
)

const corpus = "../../corpus/parsers/suricata"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, suricata.Info(), corpus, parsertest.Options{})
}

func FuzzSuricata(f *testing.F) {
	parsertest.Fuzz(f, suricata.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, suricata.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, suricata.Info(), corpus, true)
}

func TestSniff(t *testing.T) {
	for line, want := range map[string]bool{
		`{"timestamp":"2026-11-27T10:00:00.000000+0000","flow_id":1,"event_type":"alert","src_ip":"192.0.2.1"}`:                      true,
		`<14>Nov 27 10:00:00 ids01 suricata[1234]: {"timestamp":"2026-11-27T10:00:00+0000","event_type":"flow"}`:                     true,
		`<14>Nov 27 10:00:00 ids01 suricata: @cee: {"timestamp": "2026-11-27T10:00:00+0000", "event_type": "dns"}`:                   true,
		`{"ts":1732700000.1,"uid":"C1","id.orig_h":"192.0.2.1","event_type":"x"}`:                                                    false, // Zeek-like: no "timestamp"
		`{"timestamp":"2026-11-27T10:00:00Z","level":"info","msg":"hello"}`:                                                          false,
		`Nov 27 10:00:00 gw01 kernel: DROP IN=eth0 OUT= SRC=198.51.100.1 DST=192.0.2.1 PROTO=TCP SPT=1 DPT=2`:                        false,
		`<30>Nov 27 10:40:06 ids01 suricata[1234]: [1234] <Notice> -- This is Suricata version 7.0.2 RELEASE running in SYSTEM mode`: false,
		`{"timestamp":"2026-11-27T10:00:00Z",` + strings.Repeat(`"k":1,`, 200) + `"event_type":"alert"}`:                             false, // past the window
	} {
		s, err := parsers.NewStream(parsers.NewRegistry(), "auto")
		if err != nil {
			t.Fatal(err)
		}
		_ = s.Parse([]byte(line), new(detect.Event)) // takes the header apart
		if got := suricata.Sniff(s.Record()); got != want {
			t.Errorf("Sniff(%.60s...) = %v, want %v", line, got, want)
		}
	}
}

func TestAlertNoAlloc(t *testing.T) {
	line := []byte(`<14>Nov 27 10:00:00 ids01 suricata[1234]: {"timestamp":"2026-11-27T10:00:00.123456+0000","flow_id":1,"in_iface":"eth0","event_type":"alert","src_ip":"203.0.113.5","src_port":51514,"dest_ip":"192.168.1.20","dest_port":80,"proto":"TCP","alert":{"action":"blocked","gid":1,"signature_id":2018358,"rev":10,"signature":"ET HUNTING \"quoted\" \u00e9","category":"Potentially Bad Traffic","severity":2,"metadata":{"a":["b"]}},"app_proto":"http","payload_printable":"CANARY\r\n","host":"ids01"}`)
	reg := parsers.NewRegistry()
	reg.Register(suricata.Info())
	s, err := parsers.NewStream(reg, suricata.Name)
	if err != nil {
		t.Fatal(err)
	}
	var ev detect.Event
	if err := s.Parse(line, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Rule.Name != `ET HUNTING "quoted" é` || ev.Type != "denied" || ev.Action != "blocked" || ev.Rule.ID != "2018358" {
		t.Errorf("got %s", ev.AppendJSON(nil))
	}
	if n := testing.AllocsPerRun(200, func() { _ = s.Parse(line, &ev) }); n != 0 {
		t.Errorf("%v allocs per alert line", n)
	}
}
