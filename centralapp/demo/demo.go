// Package demo runs the whole system in one process (DESIGN.md §3.5):
// central on embedded SQLite, one collector per member fed with log
// files, delivery over the real mTLS path on 127.0.0.1, the cross-member
// aggregation, and the exports.
//
// Collectors are an app of their own, and central must not import it: the
// binary's main package hands the demo a Runner that runs one.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/config"
	"github.com/cyberalarm/cyberalarm/centralapp/server"
	"github.com/cyberalarm/cyberalarm/centralapp/service"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// Collector is what a Runner is asked to run: a collector of Member,
// enrolled with Token at Central (whose CA has CAFingerprint), with its
// state in Dir, fed Files. It returns once every line has been read and
// every batch delivered.
type Collector struct {
	Member        string
	Dir           string
	Central       string
	Token         string
	CAFingerprint string
	Files         []string
	// Trusted and Indicators are list files for the collector: the
	// scenarios' own, with the default feeds.
	Trusted, Indicators []string
	Ref                 time.Time // reference time for stamps without a year
	Log                 *slog.Logger
}

// Runner runs one collector.
type Runner func(ctx context.Context, c Collector) error

// Options configure a demo run.
type Options struct {
	Out   string              // output folder
	Feeds map[string][]string // member -> files; nil: the corpus scenarios
	// Corpus is the corpus folder, for the default feeds.
	Corpus string
	Ref    time.Time
	Run    Runner
	Log    *slog.Logger
	Stdout io.Writer
	// Serve, when set, is the address central listens on; after writing
	// the outputs the demo keeps serving the dashboard there until ctx
	// ends (see serveDashboard).
	Serve string
}

// everyone are the scenarios of internet-wide scanners and bots, which hit
// every member: the default feeds give them to all, so campaigns form.
var everyone = []string{"horizontal_scan", "mirai_telnet", "exposed_services"}

// members are the demo's member organisations.
var members = []store.Member{
	{ID: "northfield-college", Name: "Northfield College", Sector: "education", Region: "north-west", TimeZone: "Europe/London"},
	{ID: "riverside-surgery", Name: "Riverside Surgery", Sector: "health", Region: "north-west", TimeZone: "Europe/London"},
	{ID: "harbour-logistics", Name: "Harbour Logistics", Sector: "transport", Region: "south-east", TimeZone: "Europe/London"},
	{ID: "oakwood-council", Name: "Oakwood Parish Council", Sector: "government", Region: "south-east", TimeZone: "Europe/London"},
}

// DefaultFeeds spreads the corpus scenarios over the demo's members: the
// internet-wide ones to every member, the others one member each.
func DefaultFeeds(corpus string) (map[string][]string, error) {
	dirs, err := filepath.Glob(filepath.Join(corpus, "scenarios", "*", "input.log"))
	if err != nil || len(dirs) == 0 {
		return nil, fmt.Errorf("no scenarios under %s", filepath.Join(corpus, "scenarios"))
	}
	sort.Strings(dirs)
	feeds := map[string][]string{}
	i := 0
	for _, f := range dirs {
		name := filepath.Base(filepath.Dir(f))
		if slices.Contains(everyone, name) {
			for _, m := range members {
				feeds[m.ID] = append(feeds[m.ID], f)
			}
			continue
		}
		m := members[i%len(members)].ID
		feeds[m] = append(feeds[m], f)
		i++
	}
	return feeds, nil
}

// scenarioLists returns the trusted and indicator lists that scenarios
// carry beside their input.log.
func scenarioLists(files []string) (trusted, indicators []string) {
	for _, f := range files {
		dir := filepath.Dir(f)
		if _, err := os.Stat(filepath.Join(dir, "trusted.txt")); err == nil {
			trusted = append(trusted, filepath.Join(dir, "trusted.txt"))
		}
		if _, err := os.Stat(filepath.Join(dir, "indicators.txt")); err == nil {
			indicators = append(indicators, filepath.Join(dir, "indicators.txt"))
		}
	}
	return trusted, indicators
}

// Run runs the demo and writes DIR/detections.jsonl.
func Run(ctx context.Context, o Options) error {
	if o.Run == nil {
		return errors.New("demo: no collector runner")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	feeds := o.Feeds
	scenarios := feeds == nil
	if scenarios {
		var err error
		if feeds, err = DefaultFeeds(o.Corpus); err != nil {
			return err
		}
	}
	out, err := filepath.Abs(o.Out)
	if err != nil {
		return err
	}
	// A demo starts afresh: the previous run's state would make every
	// member and batch a duplicate.
	for _, p := range []string{"central", "collectors", "detections.jsonl", "reports"} {
		if err := os.RemoveAll(filepath.Join(out, p)); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}

	// 1. Central, on embedded SQLite, on a loopback port. Scanning is on,
	// so that the dashboard shows the demo scan's findings.
	cfg, err := config.Parse(filepath.Join(out, "central.yaml"),
		[]byte("listen: 127.0.0.1:0\ndata_dir: central\naggregate:\n  publish_every: 1s\nscan:\n  enabled: true\n"))
	if err != nil {
		return err
	}
	svc, err := service.Open(ctx, cfg, o.Log.With("app", "central"))
	if err != nil {
		return err
	}
	defer svc.Close()
	addr := "127.0.0.1:0"
	if o.Serve != "" {
		addr = o.Serve
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	url := "https://" + ln.Addr().String()
	srvCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- svc.Serve(srvCtx, ln) }()
	defer func() {
		stop()
		<-served
	}()
	fmt.Fprintf(o.Stdout, "central: %s (data in %s)\n", url, cfg.DataDir)

	// 2. Members, each with a one-time enrolment token.
	ids := make([]string, 0, len(feeds))
	for id := range feeds {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	tokens := map[string]string{}
	for _, id := range ids {
		m := store.Member{ID: id, Name: id, TimeZone: "UTC"}
		for _, dm := range members {
			if dm.ID == id {
				m = dm
			}
		}
		if tokens[id], err = svc.AddMember(ctx, m, time.Hour); err != nil {
			return fmt.Errorf("member %s: %w", id, err)
		}
	}

	// 3-4. One collector per member, over mTLS, until all is delivered.
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := Collector{
				Member: id, Dir: filepath.Join(out, "collectors", id), Central: url, Token: tokens[id],
				CAFingerprint: svc.CA.CAFingerprint(), Files: feeds[id], Ref: o.Ref, Log: o.Log.With("app", "collector", "member", id),
			}
			if scenarios {
				c.Trusted, c.Indicators = scenarioLists(feeds[id])
			}
			if err := o.Run(ctx, c); err != nil {
				errs[i] = fmt.Errorf("collector of %s: %w", id, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	// 5. Cross-member aggregation.
	if err := svc.Flush(ctx, time.Now()); err != nil {
		return err
	}

	// 6. The exports.
	path := filepath.Join(out, "detections.jsonl")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := svc.Export(ctx, f, server.ExportQuery{}); err != nil {
		f.Close()
		return err
	}
	if err := svc.Export(ctx, f, server.ExportQuery{CrossMember: true}); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}

	reports, err := writeReports(ctx, svc, cfg, out, ids)
	if err != nil {
		return err
	}
	scanned, err := scanDemo(ctx, svc, cfg, out, o.Corpus, feeds)
	if err != nil {
		return fmt.Errorf("vulnerability scan: %w", err)
	}
	reports = append(reports, scanned...)

	// 7. Where everything is.
	counts, err := svc.Store.Counts(ctx, "")
	if err != nil {
		return err
	}
	campaigns, err := svc.Store.Campaigns(ctx, store.CampaignFilter{Limit: store.MaxLimit})
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Stdout, "members: %s\n", strings.Join(ids, ", "))
	fmt.Fprintf(o.Stdout, "stored: %d batches, %d detections, %d flow summaries\n", counts.Batches, counts.Detections, counts.Summaries)
	fmt.Fprintf(o.Stdout, "cross-member campaigns: %d\n", len(campaigns))
	fmt.Fprintf(o.Stdout, "detections: %s\n", path)
	for _, line := range reports {
		fmt.Fprintln(o.Stdout, line)
	}
	if o.Serve != "" {
		return serveDashboard(ctx, svc, url, o.Stdout)
	}
	return nil
}
