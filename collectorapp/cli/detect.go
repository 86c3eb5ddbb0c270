package cli

import (
	"bufio"
	"container/heap"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cyberalarm/cyberalarm/collectorapp/daemon"
	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
	"github.com/cyberalarm/cyberalarm/rules"
)

// edgeFlags are the flags of the commands that run the edge pipeline.
type edgeFlags struct {
	rules      []string
	trusted    string
	internal   []string
	indicators []string
	member     string
	format     string
	refTime    string
	timezone   string
	lateness   time.Duration
	maxGroups  int
}

func (f *edgeFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.rules, "rules", nil, "folder of rule files (repeatable); default: the built-in pack")
	fl.StringVar(&f.trusted, "trusted", "", "trusted-source list: one IP, CIDR or host name per line, # comments")
	fl.StringSliceVar(&f.internal, "internal", nil, "the member's own ranges, CIDR[,CIDR], beside RFC 1918, loopback, link-local and ULA")
	fl.StringArrayVar(&f.indicators, "indicators", nil, "known-bad list file (repeatable); its file name, without extension, names it in threat.feed.name")
	fl.StringVar(&f.member, "member", "", "member id to set on detections")
	fl.StringVar(&f.format, "format", "auto", "parser name, or auto")
	fl.StringVar(&f.refTime, "ref-time", "", "RFC 3339 reference time for stamps without a year (default: now)")
	fl.StringVar(&f.timezone, "timezone", "UTC", "IANA zone of stamps that carry none")
	fl.DurationVar(&f.lateness, "lateness", 5*time.Minute, "how far behind its group's newest event an event may be and still count")
	fl.IntVar(&f.maxGroups, "max-groups", 250_000, "most correlation groups kept; the least recently used are evicted beyond it")
}

// loadRules reads the rule folders, or the built-in pack when none is
// given.
func loadRules(dirs []string) ([]*rules.Rule, error) {
	return daemon.LoadRules(len(dirs) == 0, dirs)
}

func (f *edgeFlags) lists() (*detect.Lists, error) {
	var extra []netip.Prefix
	for _, s := range f.internal {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			if a, err2 := netip.ParseAddr(s); err2 == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			} else {
				return nil, fmt.Errorf("--internal: %q is not a CIDR range", s)
			}
		}
		extra = append(extra, p)
	}
	l := detect.NewLists(extra)
	if f.trusted != "" {
		t, err := detect.LoadList("trusted", f.trusted)
		if err != nil {
			return nil, fmt.Errorf("--trusted: %w", err)
		}
		l.Trusted = t
	}
	if err := daemon.LoadIndicators(l, f.indicators); err != nil {
		return nil, fmt.Errorf("--indicators: %w", err)
	}
	return l, nil
}

func (f *edgeFlags) clock() (time.Time, *time.Location, error) {
	var ref time.Time
	if f.refTime != "" {
		t, err := time.Parse(time.RFC3339, f.refTime)
		if err != nil {
			return ref, nil, fmt.Errorf("--ref-time: %q is not an RFC 3339 time", f.refTime)
		}
		ref = t
	}
	loc, err := time.LoadLocation(f.timezone)
	if err != nil {
		return ref, nil, fmt.Errorf("--timezone: %v", err)
	}
	return ref, loc, nil
}

func newDetect(e *env) *cobra.Command {
	var f edgeFlags
	cmd := &cobra.Command{
		Use:   "detect [flags] [FILE|-]...",
		Short: "Run the edge pipeline over log files and write detections as JSON Lines",
		Long: `Detect parses the files, drops internal traffic and trusted sources, runs
the rules (the built-in pack unless --rules is given) and writes each
detection as one JSON line. It runs on event time: the files' events are
merged in time order, so replaying files gives the detections live traffic
would.`,
		RunE: func(cmd *cobra.Command, args []string) error { return runDetect(e, f, args) },
	}
	f.register(cmd)
	return cmd
}

// source is one input file's events, read ahead by one.
type source struct {
	name   string
	sc     *syslog.Scanner
	stream *parsers.Stream
	batch  *batchReader // instead of stream, for a plugin format
	ev     detect.Event
	closer io.Closer
	st     *detect.PipelineStats
	errs   io.Writer
	shown  *int
}

// next reads the file's next event; false at its end.
func (s *source) next() bool {
	if s.batch != nil {
		return s.nextBatch()
	}
	for s.sc.Scan() {
		s.st.Lines++
		err := s.sc.FrameErr()
		if err == nil {
			err = s.stream.Parse(s.sc.Bytes(), &s.ev)
		}
		switch {
		case err == nil:
			s.st.Parsed++
			return true
		case errors.Is(err, detect.ErrNotEvent):
			s.st.Skipped++
		default:
			s.st.Failed++
			if *s.shown < maxShownErrors {
				*s.shown++
				fmt.Fprintf(s.errs, "%s:%d: %v\n", s.name, s.sc.Line(), err)
			}
		}
	}
	return false
}

type byTime []*source

func (h byTime) Len() int           { return len(h) }
func (h byTime) Less(i, j int) bool { return h[i].ev.Timestamp.Before(h[j].ev.Timestamp) }
func (h byTime) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *byTime) Push(x any)        { *h = append(*h, x.(*source)) }
func (h *byTime) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func runDetect(e *env, f edgeFlags, files []string) error {
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
	reg := e.registry()
	if f.format != "auto" {
		if _, ok := reg.Lookup(f.format); !ok {
			return fmt.Errorf("--format: unknown format %q (see `cyberalarm-collector formats`)", f.format)
		}
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	var st detect.PipelineStats
	shown := 0
	h := &byTime{}
	for _, name := range files {
		src := &source{name: name, st: &st, errs: e.stderr, shown: &shown}
		var r io.Reader = e.stdin
		if name != "-" {
			fh, err := os.Open(name)
			if err != nil {
				return err
			}
			src.closer = fh
			r = fh
		}
		src.sc = syslog.NewScanner(r, 1<<20)
		if p, ok := e.plugin(f.format); ok {
			src.batch = newBatchReader(src.sc, p, ref, loc, lists.Internal)
		} else {
			src.stream, _ = parsers.NewStream(reg, f.format)
			src.stream.Ref, src.stream.Loc = ref, loc
			src.stream.Internal = lists.Internal
		}
		if src.next() {
			heap.Push(h, src)
		} else if src.closer != nil {
			src.closer.Close()
		}
	}

	if f.lateness < 0 || f.maxGroups < 1 {
		return fmt.Errorf("--lateness must not be negative and --max-groups must be at least 1")
	}
	m := set.NewMatcher(rules.WithMember(f.member), rules.WithLimits(rules.Limits{MaxGroups: f.maxGroups, Lateness: f.lateness}))
	out := bufio.NewWriterSize(e.stdout, 64<<10)
	var buf []byte
	emit := func(d *detect.Detection) {
		buf = d.AppendJSON(buf[:0])
		buf = append(buf, '\n')
		out.Write(buf) //nolint:errcheck // checked at Flush
	}
	start := time.Now()
	for h.Len() > 0 {
		src := (*h)[0]
		if lists.Classify(&src.ev, &st.Classify) == detect.Keep {
			if err := m.Match(&src.ev, emit); err != nil {
				st.RuleErrors++
			}
		}
		if src.next() {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
			if src.closer != nil {
				src.closer.Close()
			}
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	ms := m.Stats()
	took := time.Since(start)
	fmt.Fprintf(e.stderr, "detect: %d lines: %d events, %d skipped, %d failed; dropped %d internal, %d trusted; %d indicator hits; %d rules (%d native) evaluated %d times; %d detections in %s\n",
		st.Lines, st.Parsed, st.Skipped, st.Failed, st.Classify.Internal, st.Classify.Trusted, st.Classify.IndicatorHits,
		set.Len(), set.Native(), ms.Evaluated, ms.Detections, took.Round(time.Millisecond))
	if ms.Errors > 0 || ms.Late > 0 || ms.Evicted > 0 {
		fmt.Fprintf(e.stderr, "detect: %d rule errors, %d late events, %d groups evicted\n", ms.Errors, ms.Late, ms.Evicted)
	}
	return nil
}
