// Package cli holds the cyberalarm-collector command line.
package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/plugins"
)

// env is what every command reads and writes, so that tests can run the
// command line in process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	registry       func() *parsers.Registry
	pluginsFile    string       // --plugins
	plugins        *plugins.Set // started by --plugins; closed by Main
}

// Main runs the command line with args and returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, registry: parsers.Builtin}
	defer e.closePlugins()
	root := newRoot(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(stderr, "cyberalarm-collector:", err)
		return 1
	}
	return 0
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "cyberalarm-collector",
		Short:         "CyberAlarm edge collector: normalise, filter and detect on device logs",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	e.addPluginsFlag(root)
	root.AddCommand(newFormats(e), newParse(e), newDetect(e), newRules(e), newExplain(e),
		newRun(e), newEnrol(e), newEgress(e), newConfigCmd())
	return root
}
