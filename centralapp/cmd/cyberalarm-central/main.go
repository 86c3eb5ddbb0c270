// Command cyberalarm-central is CyberAlarm's central service.
//
// It is the one place where the two apps meet: `demo` runs collectors in
// this process (DESIGN.md §3.5), so main hands centralapp a runner built on
// the collector's daemon, and no package of centralapp imports collectorapp.
package main

import (
	"os"

	"github.com/cyberalarm/cyberalarm/centralapp/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr, runCollector))
}
