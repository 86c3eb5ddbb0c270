package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/plugins"
)

// info describes the parser to the collector.
func info() plugins.Info {
	return plugins.Info{
		Name:        "kestrel_kx",
		Description: "Kestrel Networks KX firewall key=value log (example plugin)",
		New:         func() detect.Parser { return &parser{} },
		Tags:        []string{"kxfw"},
		Signatures:  []plugins.Signature{{Prefix: "kx1 "}},
	}
}

// parser parses one KX line:
//
//	kx1 time=2026-11-27T10:15:02Z host=kx-edge-1 type=traffic act=drop proto=tcp
//	    src=203.0.113.7 sport=51514 dst=198.51.100.10 dport=22 rule=12
//	    rule_name="block ssh" sent=60 rcvd=0 pkts=1
//
// It keeps no state between lines. It never copies msg=, which is free
// text that may carry content.
type parser struct{}

var errNoMarker = errors.New("kestrel_kx: not a KX line (no kx1 marker)")

func (p *parser) Parse(rec *detect.Record, ev *detect.Event) error {
	rest, ok := bytes.CutPrefix(rec.Msg, []byte("kx1 "))
	if !ok {
		return errNoMarker
	}
	var typ, act, proto, ruleID, ruleName, sigID, sig []byte
	for len(rest) > 0 {
		var key, val []byte
		var err error
		key, val, rest, err = nextPair(rest)
		if err != nil {
			return err
		}
		switch string(key) {
		case "time":
			t, err := time.Parse(time.RFC3339Nano, string(val))
			if err != nil {
				return fmt.Errorf("kestrel_kx: time=%q is not an RFC 3339 time", val)
			}
			ev.Timestamp = t.UTC()
		case "host":
			ev.Observer.Hostname = string(val)
		case "type":
			typ = val
		case "act":
			act = val
		case "proto":
			proto = val
		case "src":
			err = addr(&ev.Source.IP, key, val)
		case "dst":
			err = addr(&ev.Destination.IP, key, val)
		case "nat_src":
			err = addr(&ev.Source.NATIP, key, val)
		case "nat_dst":
			err = addr(&ev.Destination.NATIP, key, val)
		case "sport":
			err = port(&ev.Source.Port, key, val)
		case "dport":
			err = port(&ev.Destination.Port, key, val)
		case "sent":
			err = count(&ev.Source.Bytes, key, val)
		case "rcvd":
			err = count(&ev.Destination.Bytes, key, val)
		case "pkts":
			err = count(&ev.Network.Packets, key, val)
		case "rule":
			ruleID = val
		case "rule_name":
			ruleName = val
		case "sig":
			sig = val
		case "sig_id":
			sigID = val
		case "class":
			ev.Rule.Category = string(val)
		}
		if err != nil {
			return err
		}
	}

	switch string(typ) {
	case "traffic":
		ev.Category = detect.CategoryNetwork
	case "threat":
		ev.Category = detect.CategoryIntrusionDetection
	case "system":
		return detect.ErrNotEvent
	case "":
		return errors.New("kestrel_kx: no type= field")
	default:
		return fmt.Errorf("kestrel_kx: unknown type=%q", typ)
	}
	switch string(act) {
	case "accept", "allow":
		ev.Type = detect.TypeAllowed
	case "drop", "reject", "block":
		ev.Type = detect.TypeDenied
	case "alert":
		ev.Type = detect.TypeInfo
	case "":
		return errors.New("kestrel_kx: no act= field")
	default:
		return fmt.Errorf("kestrel_kx: unknown act=%q", act)
	}
	if ev.Category == detect.CategoryNetwork && ev.Type == detect.TypeInfo {
		return fmt.Errorf("kestrel_kx: act=%s on a traffic line", act)
	}
	ev.Action = string(act)
	switch string(proto) {
	case "tcp":
		ev.Network.Transport = detect.TransportTCP
	case "udp":
		ev.Network.Transport = detect.TransportUDP
	case "icmp":
		ev.Network.Transport = detect.TransportICMP
	case "icmp6":
		ev.Network.Transport = detect.TransportIPv6ICMP
	}
	if t := ev.Network.Transport; t == detect.TransportICMP || t == detect.TransportIPv6ICMP {
		ev.Source.Port, ev.Destination.Port = 0, 0 // KX writes the ICMP type and code there
	}
	if !ev.Source.IP.IsValid() || !ev.Destination.IP.IsValid() {
		return errors.New("kestrel_kx: src= or dst= missing")
	}
	// A threat line names both the policy and the signature: the
	// signature is the rule (DESIGN.md §3.1).
	if len(sig) > 0 {
		ruleName, ruleID = sig, sigID
	}
	ev.Rule.Name, ev.Rule.ID = string(ruleName), string(ruleID)
	ev.Observer.Vendor, ev.Observer.Product = "Kestrel Networks", "KX"
	return nil
}

// nextPair splits the first key=value pair off s. A value may be quoted
// with "", inside which \" and \\ are escapes.
func nextPair(s []byte) (key, val, rest []byte, err error) {
	s = bytes.TrimLeft(s, " ")
	eq := bytes.IndexByte(s, '=')
	if eq <= 0 || bytes.IndexByte(s[:eq], ' ') >= 0 {
		return nil, nil, nil, fmt.Errorf("kestrel_kx: expected key=value at %.20q", s)
	}
	key, s = s[:eq], s[eq+1:]
	if len(s) > 0 && s[0] == '"' {
		var b []byte
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				if i+1 < len(s) {
					i++
					b = append(b, s[i])
				}
			case '"':
				return key, b, s[i+1:], nil
			default:
				b = append(b, s[i])
			}
		}
		return nil, nil, nil, fmt.Errorf("kestrel_kx: %s: unterminated quoted value", key)
	}
	end := bytes.IndexByte(s, ' ')
	if end < 0 {
		end = len(s)
	}
	return key, s[:end], s[end:], nil
}

func addr(dst *netip.Addr, key, val []byte) error {
	a, err := netip.ParseAddr(string(val))
	if err != nil {
		return fmt.Errorf("kestrel_kx: %s=%q is not an IP address", key, val)
	}
	*dst = a.Unmap()
	return nil
}

func port(dst *uint16, key, val []byte) error {
	n, err := strconv.ParseUint(string(val), 10, 16)
	if err != nil {
		return fmt.Errorf("kestrel_kx: %s=%q is not a port", key, val)
	}
	*dst = uint16(n)
	return nil
}

func count(dst *detect.Count, key, val []byte) error {
	n, err := strconv.ParseInt(string(val), 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("kestrel_kx: %s=%q is not a count", key, val)
	}
	*dst = detect.SetCount(n)
	return nil
}
