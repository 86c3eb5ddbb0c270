// Command testplugin is a parser plugin for the host's tests. Its format is
// "tp SRC DST PORT"; some words make it misbehave:
//
//	CRASH     exit the process
//	HANG      never answer
//	PANIC     panic in Parse
//	BADEVENT  return an event that breaks the contract
//	LOG       write the line to stderr
//
// A "#count" line is skipped, and the next event's rule.id is the number of
// lines this parser instance has seen, to show state kept per stream.
package main

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/plugins"
)

type parser struct{ seen int }

func (p *parser) Parse(rec *detect.Record, ev *detect.Event) error {
	p.seen++
	msg := rec.Msg
	switch {
	case bytes.Contains(msg, []byte("CRASH")):
		os.Exit(3)
	case bytes.Contains(msg, []byte("HANG")):
		time.Sleep(time.Hour)
	case bytes.Contains(msg, []byte("PANIC")):
		panic("test panic")
	case bytes.Contains(msg, []byte("LOG")):
		fmt.Fprintf(os.Stderr, "saw %s\n", msg)
	case bytes.Equal(msg, []byte("#count")):
		return detect.ErrNotEvent
	}
	f := bytes.Fields(msg)
	if len(f) < 4 || string(f[0]) != "tp" {
		return fmt.Errorf("not a tp line")
	}
	src, err1 := netip.ParseAddr(string(f[1]))
	dst, err2 := netip.ParseAddr(string(f[2]))
	port, err3 := strconv.ParseUint(string(f[3]), 10, 16)
	if err1 != nil || err2 != nil || err3 != nil {
		return fmt.Errorf("bad tp line")
	}
	ev.Category, ev.Type, ev.Action = detect.CategoryNetwork, detect.TypeDenied, "drop"
	ev.Source.IP, ev.Destination.IP, ev.Destination.Port = src, dst, uint16(port)
	ev.Network.Transport = detect.TransportTCP
	ev.Rule.ID = strconv.Itoa(p.seen)
	if bytes.Contains(msg, []byte("BADEVENT")) {
		ev.Category = "nonsense"
	}
	return nil
}

func main() {
	plugins.Serve(plugins.Info{
		Name:        "testplugin",
		Description: "test plugin",
		New:         func() detect.Parser { return &parser{} },
		Tags:        []string{"tp"},
		Signatures:  []plugins.Signature{{Prefix: "tp "}},
	})
}
