package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cyberalarm/cyberalarm/collectorapp/config"
	"github.com/cyberalarm/cyberalarm/collectorapp/daemon"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/plugins"
)

// Version is the collector's version, set at build time with
// -ldflags "-X github.com/cyberalarm/cyberalarm/collectorapp/cli.Version=…".
var Version = "dev"

func newRun(e *env) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "run --config FILE",
		Short: "Run the collector daemon",
		Long: `Run takes the member's device logs from the configured inputs, runs the
edge pipeline, buffers what leaves in SQLite and forwards it to central. It
stops gracefully on SIGINT or SIGTERM, flushing everything it has read into
the buffer.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runDaemon(ctx, e, path, daemon.Options{})
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "the collector's config file (see `config sample`)")
	cmd.MarkFlagRequired("config") //nolint:errcheck // the flag exists
	return cmd
}

// loadConfig reads the config, starts the parser plugins it lists and
// builds the registry of parsers, built-in and plugin.
func loadConfig(ctx context.Context, e *env, path string) (*config.Config, *parsers.Registry, error) {
	cfg, err := config.Load(path, nil)
	if err != nil {
		return nil, nil, err
	}
	reg := e.registry()
	if len(cfg.Plugins) > 0 && e.plugins == nil {
		specs := make([]plugins.Spec, len(cfg.Plugins))
		for i, p := range cfg.Plugins {
			specs[i] = plugins.Spec{Name: p.Name, Path: p.Path, SHA256: p.SHA256, Args: p.Args, Timeout: p.BatchTimeout, File: cfg.File}
		}
		set, err := plugins.StartAll(ctx, specs, plugins.Options{Logger: newLogger(e.stderr, cfg.Log)})
		if err != nil {
			return nil, nil, fmt.Errorf("plugins: %w", err)
		}
		e.plugins = set
		if err := set.Register(reg); err != nil {
			return nil, nil, fmt.Errorf("plugins: %w", err)
		}
	}
	if err := cfg.CheckFormats(func(name string) bool { _, ok := reg.Lookup(name); return ok }); err != nil {
		return nil, nil, err
	}
	return cfg, reg, nil
}

// newLogger makes the daemon's logger from the config's log section.
func newLogger(w io.Writer, c config.Log) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.SlogLevel()}
	if strings.EqualFold(c.Format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func runDaemon(ctx context.Context, e *env, path string, opts daemon.Options) error {
	cfg, reg, err := loadConfig(ctx, e, path)
	if err != nil {
		return err
	}
	opts.Config, opts.Registry, opts.Plugins = cfg, reg, e.plugins
	if opts.Log == nil {
		opts.Log = newLogger(e.stderr, cfg.Log)
	}
	if opts.Stdin == nil {
		opts.Stdin = e.stdin
	}
	opts.Version = Version
	d, err := daemon.New(opts)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return d.Run(ctx)
}
