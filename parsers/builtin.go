package parsers

import (
	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/amavis"
	"github.com/cyberalarm/cyberalarm/parsers/cef"
	"github.com/cyberalarm/cyberalarm/parsers/checkpoint"
	"github.com/cyberalarm/cyberalarm/parsers/ciscoasa"
	"github.com/cyberalarm/cyberalarm/parsers/clamav"
	"github.com/cyberalarm/cyberalarm/parsers/exchange"
	"github.com/cyberalarm/cyberalarm/parsers/exim"
	"github.com/cyberalarm/cyberalarm/parsers/filterlog"
	"github.com/cyberalarm/cyberalarm/parsers/fortigate"
	"github.com/cyberalarm/cyberalarm/parsers/httpd"
	"github.com/cyberalarm/cyberalarm/parsers/iis"
	"github.com/cyberalarm/cyberalarm/parsers/junipersrx"
	"github.com/cyberalarm/cyberalarm/parsers/leef"
	"github.com/cyberalarm/cyberalarm/parsers/mikrotik"
	"github.com/cyberalarm/cyberalarm/parsers/netfilter"
	"github.com/cyberalarm/cyberalarm/parsers/openssh"
	"github.com/cyberalarm/cyberalarm/parsers/panos"
	"github.com/cyberalarm/cyberalarm/parsers/pf"
	"github.com/cyberalarm/cyberalarm/parsers/postfix"
	"github.com/cyberalarm/cyberalarm/parsers/snort"
	"github.com/cyberalarm/cyberalarm/parsers/sonicwall"
	"github.com/cyberalarm/cyberalarm/parsers/sophos"
	"github.com/cyberalarm/cyberalarm/parsers/spamd"
	"github.com/cyberalarm/cyberalarm/parsers/suricata"
	"github.com/cyberalarm/cyberalarm/parsers/ubiquiti"
	"github.com/cyberalarm/cyberalarm/parsers/watchguard"
	"github.com/cyberalarm/cyberalarm/parsers/winfirewall"
	"github.com/cyberalarm/cyberalarm/parsers/winsecurity"
	"github.com/cyberalarm/cyberalarm/parsers/zeek"
)

// builtins lists the built-in parsers in auto-detection order. The syslog
// tag is tried before any of these; among Sniffs, those anchored at the
// start of the message come first, and those that search the whole message
// (cisco_asa, cef) last, so that a marker inside another format's payload
// cannot steal the line.
func builtins() []detect.ParserInfo {
	return []detect.ParserInfo{
		winsecurity.Info(), // before the JSON and whole-line sniffers
		suricata.Info(),
		ubiquiti.Info(), // netfilter lines with Ubiquiti rule prefixes: before netfilter
		netfilter.Info(),
		filterlog.Info(),
		fortigate.Info(),
		panos.Info(),
		openssh.Info(),
		postfix.Info(),
		winfirewall.Info(),
		iis.Info(),
		exim.Info(),
		exchange.Info(),
		amavis.Info(),
		spamd.Info(),
		clamav.Info(),
		pf.Info(),
		watchguard.Info(),
		httpd.Info(),
		mikrotik.Info(),
		junipersrx.Info(),
		sonicwall.Info(),
		sophos.Info(),
		snort.Info(),
		zeek.Info(),
		leef.Info(),       // before checkpoint, which claims [action:"..."] structured data
		checkpoint.Info(), // claims Check Point's CEF: before cef
		ciscoasa.Info(),
		cef.Info(),
	}
}

// Builtin returns a new registry holding every built-in parser. Each call
// returns a fresh registry that the caller may add plugins to.
func Builtin() *Registry {
	r := NewRegistry()
	for _, in := range builtins() {
		r.Register(in)
	}
	return r
}
