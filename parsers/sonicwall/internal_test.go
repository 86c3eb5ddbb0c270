package sonicwall

import (
	"net/netip"
	"testing"
)

func TestEndpoint(t *testing.T) {
	for _, c := range []struct {
		v, v6 string
		ip    string
		port  uint16
		err   bool
	}{
		{v: "198.51.100.7:51514:X1", ip: "198.51.100.7", port: 51514},
		{v: "198.51.100.7:51514:X1:host.example.com", ip: "198.51.100.7", port: 51514},
		{v: "198.51.100.7", ip: "198.51.100.7"},
		{v: "198.51.100.7::X0", ip: "198.51.100.7"},
		{v: ":28503:WAN:SOURCEHOST", v6: "2001:db8::1", ip: "2001:db8::1", port: 28503},
		{v: "::LAN:DSTHOST", v6: "::1", ip: "::1"},
		{v: "::DMZ", v6: "2001:db8::2", ip: "2001:db8::2"},
		{v: "::DMZ"},
		{v: "::1", ip: "::1"},
		{v: "[2001:db8::5]:443:X1", ip: "2001:db8::5", port: 443},
		{v: "2001:db8::5", ip: "2001:db8::5"},
		{v: "2001:db8::5:X1", ip: "2001:db8::5"},
		{v: "0.0.0.0:0:X1"},
		{v: "198.51.100.999:1:X1", err: true},
		{v: "host:1:X1", err: true},
		{v: "[2001:db8::5:443", err: true},
		{v: ":1:X1", v6: "zz", err: true},
	} {
		ip, port, err := endpoint([]byte(c.v), []byte(c.v6), "source")
		if (err != nil) != c.err {
			t.Errorf("%q %q: error %v", c.v, c.v6, err)
			continue
		}
		want := netip.Addr{}
		if c.ip != "" {
			want = netip.MustParseAddr(c.ip)
		}
		if ip != want || port != c.port {
			t.Errorf("%q %q: got %v %d, want %v %d", c.v, c.v6, ip, port, want, c.port)
		}
	}
}

func TestSignature(t *testing.T) {
	for _, c := range []struct{ msg, name, id string }{
		{"IPS Detection Alert: ICMP Echo Reply, SID: 316, Priority: Low", "ICMP Echo Reply", "316"},
		{"IPS Prevention Alert: WEB-ATTACKS Apache Log4j2 JNDI Log Messages Remote Code Execution", "WEB-ATTACKS Apache Log4j2 JNDI Log Messages Remote Code Execution", ""},
		{"Gateway Anti-Virus Alert: XPACK.A_7854 (Trojan) blocked.", "XPACK.A_7854 (Trojan)", ""},
		{"Gateway Anti-Virus Alert: EICAR (Test), ID: 5", "EICAR (Test)", "5"},
		{"Gateway Anti-Virus Alert: Mydoom.A (Worm) blocked, ID: 12345", "Mydoom.A (Worm)", "12345"},
		{"Anti-Spyware Detection Alert: Hotbar (Adware)", "Hotbar (Adware)", ""},
		{"Possible port scan detected", "", ""},
		{"IPS Detection Alert:", "", ""},
	} {
		name, id := signature([]byte(c.msg))
		if string(name) != c.name || string(id) != c.id {
			t.Errorf("%q: got %q %q, want %q %q", c.msg, name, id, c.name, c.id)
		}
	}
}

func TestStart(t *testing.T) {
	for _, c := range []struct {
		m    string
		want int
	}{
		{"id=firewall sn=1 time=x", 0},
		{"  id=firewall sn=1", 2},
		{"10.0.0.1 id=fw  sn=1", 9},
		{"devid=FG100 sn=1", -1},
		{"id=firewall time=x", -1},
		{"date=2026-11-27 time=10:00:00 devname=fw devid=FG100 logid=0000000013", -1},
	} {
		if got := start([]byte(c.m)); got != c.want {
			t.Errorf("%q: got %d, want %d", c.m, got, c.want)
		}
	}
}
