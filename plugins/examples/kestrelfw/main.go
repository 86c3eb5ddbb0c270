// Command kestrelfw is an example parser plugin for CyberAlarm: it parses
// the key=value log of the (fictional) Kestrel Networks KX firewall. See
// README.md for how to build, pin, configure and test it.
package main

import "github.com/cyberalarm/cyberalarm/plugins"

func main() {
	plugins.Serve(info())
}
