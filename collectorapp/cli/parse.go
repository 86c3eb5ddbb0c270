package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

type parseFlags struct {
	format   string
	perLine  bool
	refTime  string
	timezone string
	maxLine  int
}

func newParse(e *env) *cobra.Command {
	var f parseFlags
	cmd := &cobra.Command{
		Use:   "parse [flags] [FILE|-]...",
		Short: "Write normalised events as JSON Lines",
		Long: `Parse reads log files (or standard input, given - or nothing) and writes
one normalised event per line as JSON to standard output. With --per-line it
writes exactly one JSON value per input line: the event, null for a line
that is not an event, or {"error":"..."}. A summary goes to standard error.
The exit code is 0 even when some lines fail.

Stateful formats (W3C headers such as Windows Firewall's #Fields) keep
their state per file: each file is its own stream.`,
		RunE: func(cmd *cobra.Command, args []string) error { return runParse(e, f, args) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "auto", "parser name (see `formats`), or auto to detect each line's format")
	fl.BoolVar(&f.perLine, "per-line", false, "write one JSON value for every input line: event, null or {\"error\":...}")
	fl.StringVar(&f.refTime, "ref-time", "", "RFC 3339 reference time: stamps without a year take the year nearest to it (default: now)")
	fl.StringVar(&f.timezone, "timezone", "UTC", "IANA zone of stamps that carry none")
	fl.IntVar(&f.maxLine, "max-line", 1<<20, "longest line in bytes; longer lines are reported and skipped")
	return cmd
}

// parseStats counts what parse did, for the summary.
type parseStats struct {
	lines, events, skipped, unknown, failed, tooLong int64
	datasets                                         map[string]int64
	shown                                            int
}

const maxShownErrors = 10

func runParse(e *env, f parseFlags, files []string) error {
	reg := e.registry()
	if f.format != "auto" {
		if _, ok := reg.Lookup(f.format); !ok {
			return fmt.Errorf("--format: unknown format %q (see `cyberalarm-collector formats`)", f.format)
		}
	}
	var ref time.Time
	if f.refTime != "" {
		t, err := time.Parse(time.RFC3339, f.refTime)
		if err != nil {
			return fmt.Errorf("--ref-time: %q is not an RFC 3339 time", f.refTime)
		}
		ref = t
	}
	loc, err := time.LoadLocation(f.timezone)
	if err != nil {
		return fmt.Errorf("--timezone: %v", err)
	}
	if f.maxLine < 1024 {
		return fmt.Errorf("--max-line: %d is below the minimum of 1024 bytes", f.maxLine)
	}
	if len(files) == 0 {
		files = []string{"-"}
	}

	out := bufio.NewWriterSize(e.stdout, 64<<10)
	st := &parseStats{datasets: make(map[string]int64)}
	start := time.Now()
	var fileErrs []error
	for _, name := range files {
		if err := parseFile(e, reg, f, ref, loc, name, out, st); err != nil {
			fileErrs = append(fileErrs, err)
			fmt.Fprintf(e.stderr, "parse: %v\n", err)
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	st.summary(e.stderr, time.Since(start))
	if len(fileErrs) > 0 {
		return fmt.Errorf("%d of %d inputs could not be read", len(fileErrs), len(files))
	}
	return nil
}

func parseFile(e *env, reg *parsers.Registry, f parseFlags, ref time.Time, loc *time.Location, name string, out *bufio.Writer, st *parseStats) error {
	var r io.Reader
	if name == "-" {
		r = e.stdin
	} else {
		fh, err := os.Open(name)
		if err != nil {
			return err
		}
		defer fh.Close()
		r = fh
	}
	if p, ok := e.plugin(f.format); ok {
		return parsePluginFile(e, p, f, ref, loc, name, r, out, st)
	}
	s, err := parsers.NewStream(reg, f.format)
	if err != nil {
		return err
	}
	s.Ref, s.Loc = ref, loc
	sc := syslog.NewScanner(r, f.maxLine)
	var ev detect.Event
	buf := make([]byte, 0, 4096)
	for sc.Scan() {
		err := sc.FrameErr()
		if err == nil {
			err = s.Parse(sc.Bytes(), &ev)
		} else {
			st.tooLong++
		}
		if buf, err = st.result(e, f, name, sc.Line(), &ev, err, out, buf); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// result counts one line's result and writes it when it is an event, or
// for every line with --per-line. It returns buf for reuse, and an error
// only when the output cannot be written.
func (st *parseStats) result(e *env, f parseFlags, name string, line int64, ev *detect.Event, err error, out *bufio.Writer, buf []byte) ([]byte, error) {
	st.lines++
	switch {
	case err == nil:
		st.events++
		st.datasets[ev.Dataset]++
	case errors.Is(err, parsers.ErrUnknownFormat):
		st.unknown++
	case errors.Is(err, detect.ErrNotEvent):
		st.skipped++
	default:
		st.failed++
		if st.shown < maxShownErrors {
			st.shown++
			fmt.Fprintf(e.stderr, "%s:%d: %v\n", name, line, err)
		}
	}
	if err != nil && !f.perLine {
		return buf, nil
	}
	buf = parsers.AppendResult(buf[:0], ev, err)
	buf = append(buf, '\n')
	if _, werr := out.Write(buf); werr != nil {
		return buf, fmt.Errorf("writing output: %w", werr)
	}
	return buf, nil
}

func (st *parseStats) summary(w io.Writer, took time.Duration) {
	rate := ""
	if s := took.Seconds(); s > 0 {
		rate = fmt.Sprintf(" in %s (%.0f lines/s)", took.Round(time.Millisecond), float64(st.lines)/s)
	}
	fmt.Fprintf(w, "parse: %d lines: %d parsed, %d skipped (%d not events, %d unrecognised), %d failed%s\n",
		st.lines, st.events, st.skipped+st.unknown, st.skipped, st.unknown, st.failed, rate)
	if st.tooLong > 0 {
		fmt.Fprintf(w, "parse: %d lines were over the --max-line limit and failed\n", st.tooLong)
	}
	if st.failed > int64(st.shown) {
		fmt.Fprintf(w, "parse: %d more failed lines not shown (use --per-line to see every error)\n", st.failed-int64(st.shown))
	}
	if len(st.datasets) > 0 {
		names := make([]string, 0, len(st.datasets))
		for n := range st.datasets {
			names = append(names, n)
		}
		sort.Strings(names)
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = fmt.Sprintf("%s=%d", n, st.datasets[n])
		}
		fmt.Fprintf(w, "parse: events by format: %s\n", strings.Join(parts, " "))
	}
}
