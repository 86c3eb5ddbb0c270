package cli

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"cyberalarm-central": func() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr, nil)) },
	})
}

// TestScripts runs the command-line scripts in testdata/script, each a real
// process of cyberalarm-central.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata/script"})
}
