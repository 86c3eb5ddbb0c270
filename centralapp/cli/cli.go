// Package cli holds the cyberalarm-central command line.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cyberalarm/cyberalarm/centralapp/config"
	"github.com/cyberalarm/cyberalarm/centralapp/demo"
	"github.com/cyberalarm/cyberalarm/centralapp/server"
	"github.com/cyberalarm/cyberalarm/centralapp/service"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// Main runs the command line with args and returns the exit code. run runs
// a collector for the demo; the binary's main package provides it.
func Main(args []string, stdout, stderr io.Writer, run demo.Runner) int {
	root := &cobra.Command{
		Use:           "cyberalarm-central",
		Short:         "CyberAlarm central: ingest, cross-member aggregation, reports",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newServe(stderr), newMembers(stdout), newAccounts(stdout), newPublish(stdout), newExport(stdout),
		newDemo(stdout, stderr, run), newConfig(stdout), newReport(stdout), newScan(stdout),
		newCVE(stdout))
	if err := root.Execute(); err != nil {
		fmt.Fprintln(stderr, "cyberalarm-central:", err)
		return 1
	}
	return 0
}

func logger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(c.Level)) //nolint:errcheck // validated with the config
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func open(ctx context.Context, path string, logw io.Writer) (*config.Config, *service.Service, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, nil, err
	}
	svc, err := service.Open(ctx, cfg, logger(logw, cfg.Log))
	if err != nil {
		return nil, nil, err
	}
	return cfg, svc, nil
}

func newServe(stderr io.Writer) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Serve collectors and the API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			cfg, svc, err := open(ctx, path, stderr)
			if err != nil {
				return err
			}
			defer svc.Close()
			if cfg.OpsListen != "" {
				ops, err := net.Listen("tcp", cfg.OpsListen)
				if err != nil {
					return fmt.Errorf("ops_listen: %w", err)
				}
				opsCtx, stopOps := context.WithCancel(ctx)
				opsDone := make(chan error, 1)
				go func() { opsDone <- svc.ServeOps(opsCtx, ops) }()
				defer func() {
					stopOps()
					if err := <-opsDone; err != nil {
						fmt.Fprintln(stderr, "ops_listen:", err)
					}
				}()
			}
			if cfg.Role == service.RoleWorker {
				// A worker stores from the queue; collectors and the
				// API are served by ingest nodes.
				return svc.Serve(ctx, nil)
			}
			ln, err := net.Listen("tcp", cfg.Listen)
			if err != nil {
				return fmt.Errorf("listen: %w", err)
			}
			return svc.Serve(ctx, ln)
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "central's config file (see `config sample`)")
	cmd.MarkFlagRequired("config") //nolint:errcheck
	return cmd
}

func newMembers(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "members", Short: "Manage members"}
	var path, name, sector, region, tz string
	var ttl time.Duration
	add := &cobra.Command{
		Use:   "add ID --name NAME --config FILE",
		Short: "Add a member and print a one-time enrolment token for its collector",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, svc, err := open(cmd.Context(), path, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer svc.Close()
			if !store.ValidMemberID(args[0]) {
				return fmt.Errorf("%q is not a member id: lower-case letters, digits, '.', '_' and '-', at most 64", args[0])
			}
			token, err := svc.AddMember(cmd.Context(), store.Member{ID: args[0], Name: name, Sector: sector, Region: region, TimeZone: tz}, ttl)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "member %s added; enrol its collector within %s with:\n\n", args[0], ttl)
			fmt.Fprintf(stdout, "  cyberalarm-collector enrol --config collector.yaml --central https://%s --token %s --ca-sha256 %s\n",
				cfg.Listen, token, svc.CA.CAFingerprint())
			return nil
		},
	}
	add.Flags().StringVar(&path, "config", "", "central's config file")
	add.Flags().StringVar(&name, "name", "", "the member's name")
	add.Flags().StringVar(&sector, "sector", "", "sector, for trend clusters")
	add.Flags().StringVar(&region, "region", "", "region, for trend clusters")
	add.Flags().StringVar(&tz, "timezone", "Europe/London", "IANA zone of the member's reports")
	add.Flags().DurationVar(&ttl, "token-ttl", 7*24*time.Hour, "how long the enrolment token stays valid")
	add.MarkFlagRequired("config") //nolint:errcheck
	add.MarkFlagRequired("name")   //nolint:errcheck
	cmd.AddCommand(add)
	return cmd
}

func newExport(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "export", Short: "Export stored data"}
	var path, member, since string
	var cross bool
	det := &cobra.Command{
		Use:   "detections [--member ID] [--cross-member] [--since RFC3339] --config FILE",
		Short: "Write member or cross-member detections as JSON Lines",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := server.ExportQuery{MemberID: member, CrossMember: cross}
			if since != "" {
				t, err := time.Parse(time.RFC3339, since)
				if err != nil {
					return fmt.Errorf("--since: %q is not an RFC 3339 time", since)
				}
				q.Since = t
			}
			_, svc, err := open(cmd.Context(), path, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer svc.Close()
			return svc.Export(cmd.Context(), stdout, q)
		},
	}
	det.Flags().StringVar(&path, "config", "", "central's config file")
	det.Flags().StringVar(&member, "member", "", "one member's detections")
	det.Flags().BoolVar(&cross, "cross-member", false, "cross-member detections (campaigns) instead")
	det.Flags().StringVar(&since, "since", "", "only what was last seen at or after this RFC 3339 time")
	det.MarkFlagRequired("config") //nolint:errcheck
	cmd.AddCommand(det)
	return cmd
}

func newDemo(stdout, stderr io.Writer, run demo.Runner) *cobra.Command {
	var out, corpus, ref, serve string
	var feeds []string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "demo [--out DIR] [--feed MEMBER=FILE]...",
		Short: "Run central and one collector per member on the corpus, end to end",
		Long: `Demo starts central on embedded SQLite in DIR, enrols the members, runs one
collector per member in this process, feeding it the given files (by
default the corpus scenario traces), forwards over the real mTLS path on
127.0.0.1, waits until every batch is delivered, runs the cross-member
aggregation, writes DIR/detections.jsonl and prints where everything is.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := demo.Options{Out: out, Corpus: corpus, Run: run, Stdout: stdout, Serve: serve}
			if verbose {
				o.Log = slog.New(slog.NewTextHandler(stderr, nil))
			}
			if ref != "" {
				t, err := time.Parse(time.RFC3339, ref)
				if err != nil {
					return fmt.Errorf("--ref-time: %q is not an RFC 3339 time", ref)
				}
				o.Ref = t
			}
			if len(feeds) > 0 {
				o.Feeds = map[string][]string{}
				for _, f := range feeds {
					m, file, ok := strings.Cut(f, "=")
					if !ok || !store.ValidMemberID(m) || file == "" {
						return fmt.Errorf("--feed %q: want MEMBER=FILE", f)
					}
					o.Feeds[m] = append(o.Feeds[m], file)
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return demo.Run(ctx, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&out, "out", "demo-out", "folder for central's state and the outputs")
	fl.StringArrayVar(&feeds, "feed", nil, "MEMBER=FILE: feed FILE to MEMBER's collector (repeatable; default: the corpus scenarios)")
	fl.StringVar(&corpus, "corpus", "corpus", "the corpus folder, for the default feeds")
	fl.StringVar(&ref, "ref-time", "2026-11-27T12:00:00Z", "reference time for stamps without a year (the corpus is of 27 November 2026)")
	fl.BoolVarP(&verbose, "verbose", "v", false, "log what central and the collectors do")
	fl.StringVar(&serve, "serve", "", "ADDR: run central on ADDR (e.g. 127.0.0.1:8443) and, after the outputs, keep serving the dashboard until interrupted")
	return cmd
}

func newConfig(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Central's configuration"}
	cmd.AddCommand(&cobra.Command{
		Use:   "sample",
		Short: "Print the documented sample config",
		RunE: func(*cobra.Command, []string) error {
			_, err := stdout.Write(config.Sample())
			return err
		},
	})
	var path string
	check := &cobra.Command{
		Use:   "check --config FILE",
		Short: "Check a config; errors name file, line and column",
		RunE: func(*cobra.Command, []string) error {
			if _, err := config.Load(path); err != nil {
				return err
			}
			fmt.Fprintln(stdout, "ok")
			return nil
		},
	}
	check.Flags().StringVar(&path, "config", "", "the config file")
	check.MarkFlagRequired("config") //nolint:errcheck
	cmd.AddCommand(check)
	return cmd
}
