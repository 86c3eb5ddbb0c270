package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/cyberalarm/cyberalarm/centralapp/config"
	"github.com/cyberalarm/cyberalarm/centralapp/report"
	"github.com/cyberalarm/cyberalarm/centralapp/service"
)

func newReport(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "report", Short: "Make the member and analyst reports (HTML, PDF and block lists)"}
	var path, member, since, until, out string
	flags := func(c *cobra.Command) {
		c.Flags().StringVar(&path, "config", "", "central's config file")
		c.Flags().StringVar(&since, "since", "", "period start, RFC 3339 (default: reports.period before --until)")
		c.Flags().StringVar(&until, "until", "", "period end, RFC 3339 (default: the coming midnight in the member's time zone)")
		c.Flags().StringVar(&out, "out", ".", "folder to write the report files into")
		c.MarkFlagRequired("config") //nolint:errcheck
	}
	run := func(cmd *cobra.Command, build func(ctx context.Context, g *report.Generator, svc *service.Service, cfg *config.Config) (*report.Output, string, error)) error {
		cfg, svc, err := open(cmd.Context(), path, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		defer svc.Close()
		g, err := report.Open(cfg.Reports, svc.Store, svc.Agg)
		if err != nil {
			return err
		}
		defer g.Close()
		o, base, err := build(cmd.Context(), g, svc, cfg)
		if err != nil {
			return err
		}
		paths, err := o.WriteFiles(out, base)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "report %s (%s, %s) stored\n", o.Stored.ID, o.Stored.Kind, o.Stored.PeriodStart.Format(time.RFC3339)+" to "+o.Stored.PeriodEnd.Format(time.RFC3339))
		for _, p := range paths {
			fmt.Fprintln(stdout, p)
		}
		if o.PDFErr != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "no PDF: %v\n", o.PDFErr)
		}
		return nil
	}
	mem := &cobra.Command{
		Use:   "member --member ID [--since RFC3339] [--until RFC3339] --out DIR --config FILE",
		Short: "Make one member's Summary Threat Report",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd, func(ctx context.Context, g *report.Generator, svc *service.Service, cfg *config.Config) (*report.Output, string, error) {
				m, err := svc.Store.Member(ctx, member)
				if err != nil {
					return nil, "", fmt.Errorf("member %s: %w", member, err)
				}
				p, err := period(since, until, cfg.Reports.Period, report.Location(m.TimeZone))
				if err != nil {
					return nil, "", err
				}
				o, err := g.Member(ctx, member, p)
				return o, member, err
			})
		},
	}
	flags(mem)
	mem.Flags().StringVar(&member, "member", "", "the member's id")
	mem.MarkFlagRequired("member") //nolint:errcheck
	ana := &cobra.Command{
		Use:   "analyst [--since RFC3339] [--until RFC3339] --out DIR --config FILE",
		Short: "Make the analyst trend report across members",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd, func(ctx context.Context, g *report.Generator, _ *service.Service, cfg *config.Config) (*report.Output, string, error) {
				p, err := period(since, until, cfg.Reports.Period, time.UTC)
				if err != nil {
					return nil, "", err
				}
				o, err := g.Analyst(ctx, p)
				return o, "analyst", err
			})
		},
	}
	flags(ana)
	cmd.AddCommand(mem, ana)
	return cmd
}

// period reads --since and --until; what is missing comes from the other
// and the configured length, or ends at the coming midnight.
func period(since, until string, length time.Duration, loc *time.Location) (report.Period, error) {
	parse := func(flag, v string) (time.Time, error) {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return t, fmt.Errorf("--%s: %q is not an RFC 3339 time", flag, v)
		}
		return t, nil
	}
	var s, u time.Time
	var err error
	if since != "" {
		if s, err = parse("since", since); err != nil {
			return report.Period{}, err
		}
	}
	if until != "" {
		if u, err = parse("until", until); err != nil {
			return report.Period{}, err
		}
	}
	switch {
	case since == "" && until == "":
		return report.Ending(time.Now(), length, loc), nil
	case since == "":
		s = u.Add(-length)
	case until == "":
		u = s.Add(length)
	}
	return report.NewPeriod(s, u, loc)
}
