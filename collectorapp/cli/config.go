package cli

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cyberalarm/cyberalarm/collectorapp/config"
	"github.com/cyberalarm/cyberalarm/parsers"
)

// newConfigCmd is "config check" and "config sample".
func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check a collector config, or print the sample config",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newConfigCheck(), newConfigSample())
	return cmd
}

func newConfigCheck() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "check --config FILE",
		Short: "Check a config: every problem is printed with its file, line and column",
		Long: `Check reads the config as the daemon would, and also checks that the files
it names (rule folders, lists, TLS files, plugins) can be read. It prints
"ok" and one line per input, or every problem, one a line, and fails.

An input's format must be auto, a built-in parser, or the name of a
configured plugin (the parser name it declares).`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return checkConfig(path, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "the config file")
	_ = cmd.MarkFlagRequired("config") // the flag exists: cannot fail
	return cmd
}

func newConfigSample() *cobra.Command {
	return &cobra.Command{
		Use:           "sample",
		Short:         "Print the sample config, which explains every setting",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(config.Sample())
			return err
		},
	}
}

func checkConfig(path string, stdout, stderr io.Writer) error {
	builtin := parsers.Builtin()
	known := func(name string) bool { _, ok := builtin.Lookup(name); return ok }
	cfg, err := config.Load(path, nil)
	var problems config.Errors
	if !errors.As(err, &problems) && err != nil {
		return err
	}
	if cfg == nil { // the file could not be decoded: nothing more to check
		return reportProblems(path, problems, stderr)
	}
	var formats, files config.Errors
	errors.As(cfg.CheckFormats(known), &formats)
	errors.As(cfg.CheckFiles(), &files)
	if problems = slices.Concat(problems, formats, files); len(problems) > 0 {
		return reportProblems(path, problems, stderr)
	}
	fmt.Fprintln(stdout, "ok")
	for _, in := range cfg.Inputs {
		fmt.Fprintln(stdout, inputSummary(&in))
	}
	return nil
}

// reportProblems prints every problem, in file order, and returns the
// error that makes the command fail.
func reportProblems(path string, es config.Errors, stderr io.Writer) error {
	slices.SortStableFunc(es, func(a, b *config.Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	for _, e := range es {
		fmt.Fprintln(stderr, e)
	}
	if len(es) == 1 {
		return fmt.Errorf("%s: 1 problem", path)
	}
	return fmt.Errorf("%s: %d problems", path, len(es))
}

// inputSummary is one line saying what an input will do.
func inputSummary(in *config.Input) string {
	var b strings.Builder
	fmt.Fprintf(&b, "input %s: %s", in.Name, in.Type)
	switch {
	case in.Type.Network():
		fmt.Fprintf(&b, " on %s", in.Listen)
	case in.Type == config.File:
		fmt.Fprintf(&b, " %s", in.Path)
	}
	fmt.Fprintf(&b, ", format %s, time zone %s, max message %v", in.Format, in.Timezone, in.MaxMessageBytes)
	if in.Rate.LinesPerSecond > 0 {
		fmt.Fprintf(&b, ", %d lines/s per source (burst %d)", in.Rate.LinesPerSecond, in.Rate.Burst)
	}
	if in.Type.Stream() {
		fmt.Fprintf(&b, ", max %d connections", in.MaxConnections)
	}
	if in.TLS.ClientCAFile != "" {
		b.WriteString(", client certificates required")
	}
	return b.String()
}
