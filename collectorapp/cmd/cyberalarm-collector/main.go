// Command cyberalarm-collector is CyberAlarm's edge collector: it reads a
// member's device logs, normalises and filters them, runs detection rules
// and forwards what is left to central.
package main

import (
	"os"

	"github.com/cyberalarm/cyberalarm/collectorapp/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
