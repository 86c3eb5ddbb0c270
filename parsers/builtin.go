package parsers

import (
	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/cef"
	"github.com/cyberalarm/cyberalarm/parsers/ciscoasa"
	"github.com/cyberalarm/cyberalarm/parsers/filterlog"
	"github.com/cyberalarm/cyberalarm/parsers/fortigate"
	"github.com/cyberalarm/cyberalarm/parsers/netfilter"
	"github.com/cyberalarm/cyberalarm/parsers/openssh"
	"github.com/cyberalarm/cyberalarm/parsers/panos"
	"github.com/cyberalarm/cyberalarm/parsers/postfix"
	"github.com/cyberalarm/cyberalarm/parsers/winfirewall"
)

// builtins lists the built-in parsers in auto-detection order: the most
// specific signatures first.
func builtins() []detect.ParserInfo {
	return []detect.ParserInfo{
		netfilter.Info(),
		filterlog.Info(),
		ciscoasa.Info(),
		fortigate.Info(),
		panos.Info(),
		openssh.Info(),
		postfix.Info(),
		winfirewall.Info(),
		cef.Info(), // searches the whole message: after the cheap prefix sniffers
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
