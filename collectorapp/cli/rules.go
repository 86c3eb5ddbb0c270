package cli

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/rules"
)

func newRules(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "rules", Short: "Test and lint detection rules"}
	cmd.AddCommand(&cobra.Command{
		Use:   "test [DIR]",
		Short: "Run every rule's fire and quiet tests (default: the built-in pack)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, err := loadRules(args)
			if err != nil {
				return err
			}
			results, err := rules.RunTests(rs, e.registry(), nil)
			if err != nil {
				return err
			}
			failed := 0
			for _, r := range results {
				if r.OK() {
					fmt.Fprintf(e.stdout, "ok   %s (%d detections from fire lines)\n", r.Rule.ID, r.Fired)
					continue
				}
				failed++
				fmt.Fprintf(e.stdout, "FAIL %s (%s:%d)\n", r.Rule.ID, r.Rule.File, r.Rule.Line)
				for _, f := range r.Failures {
					fmt.Fprintf(e.stdout, "     %s\n", f)
				}
			}
			fmt.Fprintf(e.stdout, "rules: %d passed, %d failed\n", len(results)-failed, failed)
			if failed > 0 {
				return fmt.Errorf("%d rules failed their tests", failed)
			}
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "lint [DIR]",
		Short: "Flag rules that compile but cannot be right (default: the built-in pack)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, err := loadRules(args)
			var es rules.Errors
			if err != nil && !errors.As(err, &es) {
				return err
			}
			for _, x := range es {
				fmt.Fprintln(e.stdout, x.Error())
			}
			coverage := parsers.FieldCoverage()
			for _, in := range e.registry().All() {
				if _, ok := coverage[in.Name]; !ok {
					coverage[in.Name] = nil // a plugin: its fields are unknown
				}
			}
			findings := rules.Lint(rs, coverage)
			for _, f := range findings {
				fmt.Fprintln(e.stdout, f.String())
			}
			if n := len(es) + len(findings); n > 0 {
				return fmt.Errorf("%d problems in %d rules", n, len(rs))
			}
			fmt.Fprintf(e.stdout, "rules: %d rules, no problems\n", len(rs))
			return nil
		},
	})
	return cmd
}

func newExplain(e *env) *cobra.Command {
	var f edgeFlags
	cmd := &cobra.Command{
		Use:   "explain [flags] LINE",
		Short: "Show how one line is parsed, classified, and which rules it reaches and why",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, err := loadRules(f.rules)
			if err != nil {
				return err
			}
			set, err := rules.Compile(rs)
			if err != nil {
				return err
			}
			lists, err := f.lists()
			if err != nil {
				return err
			}
			set.SetLists(lists)
			ref, loc, err := f.clock()
			if err != nil {
				return err
			}
			s, err := parsers.NewStream(e.registry(), f.format)
			if err != nil {
				return err
			}
			s.Ref, s.Loc = ref, loc
			w := e.stdout
			var ev detect.Event
			perr := s.Parse([]byte(args[0]), &ev)
			rec := s.Record()
			fmt.Fprintf(w, "syslog header: %s", [...]string{"none", "RFC 3164", "RFC 5424"}[rec.Syslog])
			if rec.Syslog != detect.SyslogNone {
				fmt.Fprintf(w, " (priority %d, time %v, host %q, tag %q, pid %q)", rec.Priority, rec.Time, rec.Host, rec.App, rec.ProcID)
			}
			fmt.Fprintln(w)
			fmt.Fprintf(w, "message:       %q\n", rec.Msg)
			fmt.Fprintf(w, "parser:        %s\n", orNone(s.Dataset()))
			if perr != nil {
				fmt.Fprintf(w, "result:        %v\n", perr)
				return nil
			}
			fmt.Fprintf(w, "event:         %s\n", ev.AppendJSON(nil))
			var st detect.ClassifyStats
			v := lists.Classify(&ev, &st)
			fmt.Fprintf(w, "classified:    %s (direction %s", v, orNone(ev.Network.Direction))
			if ev.Indicator != "" {
				fmt.Fprintf(w, ", on indicator list %s", ev.Indicator)
			}
			fmt.Fprintln(w, ")")
			if v != detect.Keep {
				fmt.Fprintln(w, "rules:         none run: the event is dropped before the rules")
				return nil
			}
			m := set.NewMatcher()
			verdicts := m.Explain(&ev)
			sort.SliceStable(verdicts, func(i, j int) bool { return verdicts[i].Matched && !verdicts[j].Matched })
			for _, vd := range verdicts {
				state := "no match"
				switch {
				case vd.Err != nil:
					state = "error: " + vd.Err.Error()
				case vd.Matched:
					state = "MATCH"
				case !vd.Indexed:
					state = "not offered (its indexed predicate fails)"
				}
				var reads []string
				for k, val := range vd.Reads {
					reads = append(reads, fmt.Sprintf("%s=%q", k, val))
				}
				sort.Strings(reads)
				fmt.Fprintf(w, "rule %-40s %s\n", vd.Rule.ID, state)
				fmt.Fprintf(w, "     when %s\n", strings.Join(strings.Fields(vd.Rule.When), " "))
				fmt.Fprintf(w, "     reads %s\n", strings.Join(reads, " "))
				if vd.Correlate != "" {
					fmt.Fprintf(w, "     %s\n", vd.Correlate)
				}
			}
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
