package parsers_test

import (
	"fmt"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
)

// A Stream takes raw lines to normalised events. With "auto" it picks the
// parser per line.
func ExampleStream() {
	s, err := parsers.NewStream(parsers.Builtin(), "auto")
	if err != nil {
		panic(err)
	}
	s.Ref = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) // year for year-less stamps
	var ev detect.Event
	line := []byte("<4>Nov 27 10:15:01 gw01 kernel: [UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.23 DST=192.0.2.10 LEN=60 PROTO=TCP SPT=51514 DPT=22 SYN URGP=0")
	if err := s.Parse(line, &ev); err != nil {
		panic(err)
	}
	fmt.Println(ev.Dataset, ev.Type, ev.Source.IP, ev.Destination.Port)
	fmt.Printf("%s\n", ev.AppendJSON(nil))
	// Output:
	// netfilter denied 198.51.100.23 22
	// {"@timestamp":"2026-11-27T10:15:01Z","event":{"category":"network","type":"denied","action":"BLOCK","dataset":"netfilter"},"observer":{"vendor":"Linux","product":"netfilter","hostname":"gw01"},"source":{"ip":"198.51.100.23","port":51514},"destination":{"ip":"192.0.2.10","port":22},"network":{"transport":"tcp","direction":"external"},"rule":{"name":"UFW BLOCK"}}
}

// Lines that are not events, and lines a parser cannot read, come back as
// errors that say which.
func ExampleStream_errors() {
	s, _ := parsers.NewStream(parsers.Builtin(), "netfilter")
	var ev detect.Event
	for _, line := range []string{
		"Nov 27 10:15:01 gw01 kernel: e1000e: eth0 NIC Link is Up",
		"Nov 27 10:15:01 gw01 kernel: DROP IN=eth0 OUT= SRC=bad DST=192.0.2.1 PROTO=TCP",
	} {
		err := s.Parse([]byte(line), &ev)
		fmt.Printf("%s\n", parsers.AppendResult(nil, &ev, err))
	}
	// Output:
	// null
	// {"error":"netfilter: no SRC= and DST= in the packet fields"}
}

// Applications register their own parsers beside the built-ins. A
// duplicate name panics at start-up.
func ExampleRegistry_Register() {
	reg := parsers.Builtin()
	reg.Register(detect.ParserInfo{
		Name:        "acme_fw",
		Description: "ACME firewall",
		New:         func() detect.Parser { return nil },
		Tags:        []string{"acmefw"},
	})
	_, ok := reg.Lookup("acme_fw")
	fmt.Println(ok)
	// Output: true
}
