package filterlog_test

import (
	"testing"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/filterlog"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

const corpus = "../../corpus/parsers/filterlog"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, filterlog.Info(), corpus, parsertest.Options{})
}

func FuzzFilterlog(f *testing.F) {
	parsertest.Fuzz(f, filterlog.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, filterlog.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, filterlog.Info(), corpus, true)
}

func TestSniff(t *testing.T) {
	for _, c := range []struct {
		line string
		want bool
	}{
		{"<134>Nov 27 10:00:00 filterlog[1]: 5,,,1000000103,igb0,match,block,in,4,0x0,,64,0,0,DF,6,tcp,60,198.51.100.7,192.0.2.1,51514,22,0,S,123,,64240,,mss", true},
		{"<134>Nov 27 10:00:00 filterlog[1]: Failed to initialize: igb0", true}, // by tag
		{"5,,,1000000103,igb0,match,block,in,4,0x0,,64,0,0,DF,17,udp,60,198.51.100.7,192.0.2.1,5,6,40", true},
		{",,,0,vtnet1,fragment,block,in/out,6,0x00,0x00000,64,udp,17,40,2001:db8::1,2001:db8::2,1,2,3", true},
		{"Nov 27 10:00:00 gw kernel: DROP IN=eth0 OUT= SRC=198.51.100.7 DST=192.0.2.1 PROTO=TCP SPT=1 DPT=2", false},
		{"1,2026/11/27 10:00:00,012345678901,TRAFFIC,end,2561,2026/11/27 10:00:00,198.51.100.7,192.0.2.1,0.0.0.0,0.0.0.0,allow", false},
		{"5,,,1000000103,igb0,match,block,sideways,4,0x0,,64", false},
		{"5,,,1000000103,igb0,match,block,in,7,0x0,,64", false},
		{"x5,,,1000000103,igb0,match,block,in,4,0x0,,64", false},
		{"5,,,1000000103,igb0,match,block,in", false},
		{"", false},
	} {
		var rec detect.Record
		rec.Raw = []byte(c.line)
		syslog.Parse(&rec)
		if got := filterlog.Sniff(&rec); got != c.want {
			t.Errorf("Sniff(%q) = %v, want %v", c.line, got, c.want)
		}
	}
}
