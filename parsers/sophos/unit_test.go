package sophos_test

import (
	"errors"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/sophos"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

func parse(t *testing.T, line string, loc *time.Location) (*detect.Event, error) {
	t.Helper()
	rec := detect.Record{Raw: []byte(line), Ref: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), Loc: loc}
	syslog.Parse(&rec)
	var ev detect.Event
	err := sophos.Info().New().Parse(&rec, &ev)
	return &ev, err
}

// Stamps without a zone (UTM's, SFOS v18's with a zone abbreviation) are
// read in the source's configured zone; offsets and UTC are honoured.
func TestZones(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip(err)
	}
	for _, c := range []struct {
		line string
		want time.Time
	}{
		{`2026:11:27-11:00:00 utm01 ulogd[1]: id="2001" name="Packet dropped" action="drop" srcip="198.51.100.7" dstip="192.0.2.10" proto="6"`,
			time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)},
		{`device="SFW" date=2026-11-27 time=11:00:00 timezone="CET" log_id=010102600002 log_type="Firewall" log_subtype="Denied" src_ip=198.51.100.7 dst_ip=192.0.2.10`,
			time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)},
		{`device="SFW" date=2026-11-27 time=10:00:00 timezone="UTC" log_id=010102600002 log_type="Firewall" log_subtype="Denied" src_ip=198.51.100.7 dst_ip=192.0.2.10`,
			time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)},
		{`device="SFW" date=2026-11-27 time=15:30:00 timezone="+0530" log_id=010102600002 log_type="Firewall" log_subtype="Denied" src_ip=198.51.100.7 dst_ip=192.0.2.10`,
			time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)},
		{`device_name="SFW" timestamp="2026-11-27T11:00:00" log_id="010102600002" log_type="Firewall" log_subtype="Denied" src_ip="198.51.100.7" dst_ip="192.0.2.10"`,
			time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)},
	} {
		ev, err := parse(t, c.line, berlin)
		if err != nil {
			t.Errorf("%s: %v", c.line, err)
			continue
		}
		if !ev.Timestamp.Equal(c.want) {
			t.Errorf("%s: time %v, want %v", c.line, ev.Timestamp.UTC(), c.want)
		}
	}
}

// Sniff must not claim lines of other formats.
func TestSniffNegative(t *testing.T) {
	for _, line := range []string{
		`<189>date=2026-11-27 time=10:00:00 devname="FGT60F" devid="FGT60FTK0000000" logid="0000000013" type="traffic"`,
		`Nov 27 10:00:00 gw01 kernel: IN=eth0 OUT= SRC=198.51.100.7 DST=192.0.2.10 PROTO=TCP SPT=1 DPT=22`,
		`<13>Nov 27 10:00:00 host snort[1]: [1:2019401:2] ET POLICY something [Classification: x] [Priority: 2] {TCP} 198.51.100.7:1 -> 192.0.2.10:80`,
		`device_name="SFW" but nothing else here at all`,
		`2026-11-27 10:00:00 utm01 ulogd[1]: id="2001"`,
	} {
		rec := detect.Record{Raw: []byte(line)}
		syslog.Parse(&rec)
		if sophos.Sniff(&rec) {
			t.Errorf("Sniff claims %q", line)
		}
	}
}

func TestNotEvents(t *testing.T) {
	for _, line := range []string{
		`2026:11:27-10:00:00 utm01 pluto[1]: "S_REF" #1: IPsec SA established`,
		`2026:11:27-10:00:00 utm01 named[1]: id="1234" name="zone transfer" srcip="198.51.100.7"`,
		`<30>device_name="SFW" timestamp="2026-11-27T10:00:00+0000" log_id="171302618100" log_type="System Health" log_component="CPU"`,
	} {
		if _, err := parse(t, line, nil); !errors.Is(err, detect.ErrNotEvent) {
			t.Errorf("%s: err %v, want ErrNotEvent", line, err)
		}
	}
}
