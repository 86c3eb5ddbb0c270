package mikrotik_test

import (
	"testing"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/mikrotik"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

const corpus = "../../corpus/parsers/mikrotik"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, mikrotik.Info(), corpus, parsertest.Options{})
}

func FuzzMikrotik(f *testing.F) {
	parsertest.Fuzz(f, mikrotik.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, mikrotik.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, mikrotik.Info(), corpus, true)
}

// TestSniff checks that RouterOS lines are claimed and look-alikes are not.
func TestSniff(t *testing.T) {
	for _, c := range []struct {
		line string
		want bool
	}{
		{"<134>Nov 27 10:00:00 MikroTik firewall,info input: in:ether1 out:(unknown 0), proto TCP (SYN), 198.51.100.7:1->192.0.2.10:22, len 60", true},
		{"<134>Nov 27 10:00:00 MikroTik input: in:ether1 out:(unknown 0), proto TCP (SYN), 198.51.100.7:1->192.0.2.10:22, len 60", true},
		{"<134>Nov 27 10:00:00 MikroTik dhcp,info dhcp1 deassigned 192.168.88.254", true},
		{"<134>Nov 27 10:00:00 MikroTik login: failure for user admin from 198.51.100.7 via ssh", true},
		{"<134>Nov 27 10:00:00 MikroTik user admin logged in from 198.51.100.7 via winbox", true},
		{"Nov 27 10:00:00 vpn01 openvpn[12]: client1 traffic in:1234 out:5678, since 10:00", false},
		{"Nov 27 10:00:00 host1 login[812]: FAILED LOGIN 1 FROM tty1 FOR root, Authentication failure", false},
		{"Nov 27 10:00:00 gw kernel: [UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.1 DST=192.0.2.1 PROTO=TCP", false},
		{"Nov 27 10:00:00 app1 app: user bob logged in", false},
		{"Nov 27 10:00:00 app1 app: Info,Warning something", false},
	} {
		var rec detect.Record
		rec.Raw = []byte(c.line)
		syslog.Parse(&rec)
		if got := mikrotik.Sniff(&rec); got != c.want {
			t.Errorf("Sniff(%q) = %v, want %v", c.line, got, c.want)
		}
	}
}
