package ubiquiti_test

import (
	"testing"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
	"github.com/cyberalarm/cyberalarm/parsers/ubiquiti"
)

const corpus = "../../corpus/parsers/ubiquiti"

// registry puts ubiquiti before the built-in parsers, as parsers/builtin.go
// must: the netfilter parser would take these lines too.
func registry() *parsers.Registry {
	r := parsers.NewRegistry()
	r.Register(ubiquiti.Info())
	for _, in := range parsers.Builtin().All() {
		if in.Name != ubiquiti.Name {
			r.Register(in)
		}
	}
	return r
}

func TestCorpus(t *testing.T) {
	parsertest.Run(t, ubiquiti.Info(), corpus, parsertest.Options{Registry: registry()})
}

func FuzzUbiquiti(f *testing.F) {
	parsertest.Fuzz(f, ubiquiti.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, ubiquiti.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, ubiquiti.Info(), corpus, true)
}

// TestSniff checks that ordinary netfilter prefixes are left to the
// netfilter parser and that Ubiquiti labels are claimed.
func TestSniff(t *testing.T) {
	for _, c := range []struct {
		line string
		want bool
	}{
		{"Nov 27 10:00:00 gw kernel: [UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.1 DST=192.0.2.1 PROTO=TCP SPT=1 DPT=2", false},
		{"Nov 27 10:00:00 gw kernel: IPTABLES-DROP: IN=eth0 OUT= SRC=198.51.100.1 DST=192.0.2.1 PROTO=TCP SPT=1 DPT=2", false},
		{"Nov 27 10:00:00 gw kernel: [1234.5] [nftables] Refused: IN=eth0 OUT= SRC=198.51.100.1 DST=192.0.2.1 PROTO=TCP", false},
		{"Nov 27 10:00:00 gw kernel: [1234.5] [FW-DROP-1] IN=eth0 OUT= SRC=198.51.100.1 DST=192.0.2.1 PROTO=TCP", false},
		{"Nov 27 10:00:00 gw kernel: [1234.5] [INPUT-default-X] IN=eth0 OUT= SRC=198.51.100.1 DST=192.0.2.1 PROTO=TCP", false},
		{"Nov 27 10:00:00 gw kernel: [1234.5] [-10-D] IN=eth0 OUT= SRC=198.51.100.1 DST=192.0.2.1 PROTO=TCP", false},
		{"Nov 27 10:00:00 gw kernel: DROP IN=eth0 OUT= SRC=198.51.100.1 DST=192.0.2.1 PROTO=TCP [WAN_IN-10-D]", false},
		{"Nov 27 10:00:00 gw kernel: [WAN_IN-10-D]IN=eth0 OUT= SRC=198.51.100.1 DST=192.0.2.1 PROTO=TCP", true},
		{"Nov 27 10:00:00 gw kernel: [WAN_IN-default-D] IN=eth0 OUT= SRC=198.51.100.1 DST=192.0.2.1 PROTO=TCP", true},
		{"Nov 27 10:00:00 gw [LAN_LOCAL-RET-2147483647] DESCR=\"x IN=a OUT=b\" IN=br0 OUT= SRC=192.168.1.2 DST=192.168.1.1 PROTO=TCP", true},
	} {
		var rec detect.Record
		rec.Raw = []byte(c.line)
		syslog.Parse(&rec)
		if got := ubiquiti.Sniff(&rec); got != c.want {
			t.Errorf("Sniff(%q) = %v, want %v", c.line, got, c.want)
		}
	}
}
