package junipersrx_test

import (
	"errors"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/junipersrx"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

func parse(line string) (*detect.Event, error) {
	rec := detect.Record{Raw: []byte(line), Ref: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	syslog.Parse(&rec)
	var ev detect.Event
	err := junipersrx.Info().New().Parse(&rec, &ev)
	return &ev, err
}

// The text and structured forms of one session give the same event.
func TestTextMatchesStructured(t *testing.T) {
	pairs := [][2]string{{
		`<14>1 2026-11-27T10:00:00Z srx01 RT_FLOW - RT_FLOW_SESSION_CLOSE [junos@2636.1.1.1.2.129 reason="TCP FIN" source-address="192.168.10.20" source-port="51514" destination-address="203.0.113.5" destination-port="443" connection-tag="0" service-name="junos-https" nat-source-address="198.51.100.1" nat-source-port="20515" nat-destination-address="203.0.113.5" nat-destination-port="443" nat-connection-tag="0" src-nat-rule-type="source rule" src-nat-rule-name="snat-out" dst-nat-rule-type="N/A" dst-nat-rule-name="N/A" protocol-id="6" policy-name="allow-web" source-zone-name="trust" destination-zone-name="untrust" session-id-32="4242" packets-from-client="6" bytes-from-client="337" packets-from-server="4" bytes-from-server="535" elapsed-time="1"]`,
		`<14>Nov 27 10:00:00 srx01 RT_FLOW: RT_FLOW_SESSION_CLOSE: session closed TCP FIN: 192.168.10.20/51514->203.0.113.5/443 0x0 junos-https 198.51.100.1/20515->203.0.113.5/443 0x0 source rule snat-out N/A N/A 6 allow-web trust untrust 4242 6(337) 4(535) 1 UNKNOWN UNKNOWN N/A(N/A) ge-0/0/1.0 No`,
	}, {
		`<14>1 2026-11-27T10:00:00Z srx01 RT_FLOW - RT_FLOW_SESSION_DENY [junos@2636.1.1.1.2.129 source-address="198.51.100.7" source-port="51514" destination-address="192.0.2.10" destination-port="22" connection-tag="0" service-name="junos-ssh" protocol-id="6" icmp-type="0" policy-name="deny-all" source-zone-name="untrust" destination-zone-name="trust"]`,
		`<14>Nov 27 10:00:00 srx01 RT_FLOW: RT_FLOW_SESSION_DENY: session denied 198.51.100.7/51514->192.0.2.10/22 0x0 junos-ssh 6(0) deny-all untrust trust UNKNOWN UNKNOWN N/A(N/A) ge-0/0/0.0 No policy deny 0`,
	}}
	for _, p := range pairs {
		a, err1 := parse(p[0])
		b, err2 := parse(p[1])
		if err1 != nil || err2 != nil {
			t.Fatalf("errors: %v, %v", err1, err2)
		}
		if ja, jb := string(a.AppendJSON(nil)), string(b.AppendJSON(nil)); ja != jb {
			t.Errorf("structured and text differ:\n%s\n%s", ja, jb)
		}
	}
}

// Sniff must not claim lines of other formats.
func TestSniffNegative(t *testing.T) {
	for _, line := range []string{
		`<30>device_name="SFW" timestamp="2026-11-27T10:00:00+0000" log_id="010102600002" log_type="Firewall"`,
		`Nov 27 10:00:00 gw01 kernel: IN=eth0 OUT= SRC=198.51.100.7 DST=192.0.2.10 PROTO=TCP SPT=1 DPT=22`,
		`<166>Nov 27 2026 10:00:00 asa01 : %ASA-4-106023: Deny tcp src outside:198.51.100.7/1 dst inside:192.0.2.10/22 by access-group "in" [0x0, 0x0]`,
		`<14>1 2026-11-27T10:00:00Z host app - ID47 [exampleSDID@32473 iut="3"] msg`,
		`<14>Nov 27 10:00:00 srx01 mgd[123]: UI_COMMIT: User 'admin' requested 'commit' operation`,
	} {
		rec := detect.Record{Raw: []byte(line)}
		syslog.Parse(&rec)
		if junipersrx.Sniff(&rec) {
			t.Errorf("Sniff claims %q", line)
		}
	}
}

func TestNotEvents(t *testing.T) {
	for _, line := range []string{
		`<14>Nov 27 10:00:00 srx01 RT_FLOW: APPTRACK_SESSION_VOL_UPDATE: AppTrack volume update: 192.168.1.2/1->203.0.113.1/80 junos-http HTTP UNKNOWN`,
		`<14>1 2026-11-27T10:00:00Z srx01 RT_UTM - ANTISPAM_SPAM_DETECTED_MT [junos@2636.1.1.1.2.86 source-address="198.51.100.7" action="drop"]`,
	} {
		if _, err := parse(line); !errors.Is(err, detect.ErrNotEvent) {
			t.Errorf("%s: err %v, want ErrNotEvent", line, err)
		}
	}
}
