package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
	"text/tabwriter"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/spf13/cobra"

	"github.com/cyberalarm/cyberalarm/centralapp/config"
	"github.com/cyberalarm/cyberalarm/centralapp/report"
	"github.com/cyberalarm/cyberalarm/centralapp/scan"
	"github.com/cyberalarm/cyberalarm/centralapp/service"
)

// whoami names the person at the terminal, for the audit log.
func whoami() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return cmp.Or(os.Getenv("USER"), "cli")
}

func newScan(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "scan", Short: "Vulnerability scans of members' proven targets, and their reports"}
	var path, member, by string
	common := func(c *cobra.Command) {
		c.Flags().StringVar(&path, "config", "", "central's config file")
		c.Flags().StringVar(&by, "by", whoami(), "who is asking, for the audit log")
		c.MarkFlagRequired("config") //nolint:errcheck
	}
	needMember := func(c *cobra.Command) {
		c.Flags().StringVar(&member, "member", "", "the member's id")
		c.MarkFlagRequired("member") //nolint:errcheck
	}
	// withScan opens the scan service alone; withAll also central's
	// service, for the member list and the threat data.
	withScan := func(cmd *cobra.Command, fn func(ctx context.Context, cfg *config.Config, sc *scan.Service) error) error {
		cfg, err := config.Load(path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return err
		}
		sc, err := scan.Open(cmd.Context(), cfg.Scan, logger(cmd.ErrOrStderr(), cfg.Log))
		if err != nil {
			return err
		}
		defer sc.Close()
		return fn(cmd.Context(), cfg, sc)
	}
	withAll := func(cmd *cobra.Command, fn func(ctx context.Context, cfg *config.Config, svc *service.Service, sc *scan.Service) error) error {
		cfg, svc, err := open(cmd.Context(), path, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		defer svc.Close()
		if _, err := svc.Store.Member(cmd.Context(), member); member != "" && err != nil {
			return fmt.Errorf("member %s: %w", member, err)
		}
		sc, err := scan.Open(cmd.Context(), cfg.Scan, logger(cmd.ErrOrStderr(), cfg.Log))
		if err != nil {
			return err
		}
		defer sc.Close()
		return fn(cmd.Context(), cfg, svc, sc)
	}

	// scan run
	var targetID string
	run := &cobra.Command{
		Use:   "run --member ID [--target ID] --config FILE",
		Short: "Scan a member's proven targets now",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAll(cmd, func(ctx context.Context, _ *config.Config, _ *service.Service, sc *scan.Service) error {
				var res scan.Result
				var err error
				if targetID != "" {
					res, err = sc.RunTarget(ctx, member, targetID, by)
				} else {
					res, err = sc.Run(ctx, member, by)
				}
				if res.Run.ID != "" {
					fmt.Fprintf(stdout, "scan %s of %s: %s, %d probes, %d findings\n", res.Run.ID, member, res.Run.Status, res.Run.Probes, len(res.Findings))
					for _, n := range res.Run.Notes {
						fmt.Fprintln(stdout, "  note:", n)
					}
					w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
					for _, f := range res.Findings {
						fmt.Fprintf(w, "  %s\t%s:%d\t%s\n", f.Severity, f.Host, f.Port, f.Title)
					}
					w.Flush()
				}
				return err
			})
		},
	}
	common(run)
	needMember(run)
	run.Flags().StringVar(&targetID, "target", "", "scan only this target")

	// scan report
	var out string
	rep := &cobra.Command{
		Use:   "report --member ID --out DIR --config FILE",
		Short: "Write the Vulnerability Assessment Report of the member's latest scan (HTML and PDF)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAll(cmd, func(ctx context.Context, cfg *config.Config, svc *service.Service, sc *scan.Service) error {
				r, err := scan.BuildReport(ctx, sc.Store, svc.Store, sc.CVE, member, time.Now())
				if err != nil {
					return err
				}
				printer, perr := report.NewPrinter(cfg.Reports.Chromium)
				if perr == nil {
					defer printer.Close()
				}
				o, err := r.Render(ctx, printer)
				if err != nil {
					return err
				}
				// Kept in the archive too, where the dashboard lists it.
				if err := svc.Store.PutReport(ctx, o.Stored); err != nil {
					return fmt.Errorf("storing the report: %w", err)
				}
				fmt.Fprintf(stdout, "report %s (%s, %s to %s) stored\n", o.Stored.ID, o.Stored.Kind,
					o.Stored.PeriodStart.Format(time.RFC3339), o.Stored.PeriodEnd.Format(time.RFC3339))
				files, err := o.WriteFiles(out)
				for _, f := range files {
					fmt.Fprintln(stdout, f)
				}
				if err == nil && o.PDFErr != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "no PDF: %v\n", cmp.Or(perr, o.PDFErr))
				}
				return err
			})
		},
	}
	common(rep)
	needMember(rep)
	rep.Flags().StringVar(&out, "out", ".", "folder to write the report into")

	// scan target add|verify|approve|list
	target := &cobra.Command{Use: "target", Short: "Manage what members have asked to be scanned"}
	var domain, rng, note string
	add := &cobra.Command{
		Use:   "add --member ID (--domain NAME | --range CIDR) --config FILE",
		Short: "Add a target and print how the member proves it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kind, value := scan.TargetDomain, domain
			if (domain == "") == (rng == "") {
				return fmt.Errorf("give one of --domain and --range")
			}
			if rng != "" {
				kind, value = scan.TargetRange, rng
			}
			v, err := scan.ParseTarget(kind, value)
			if err != nil {
				return err
			}
			return withAll(cmd, func(ctx context.Context, _ *config.Config, _ *service.Service, sc *scan.Service) error {
				t := scan.Target{ID: ulid.Make().String(), MemberID: member, Kind: kind, Value: v, Token: scan.NewToken(), Created: time.Now().UTC()}
				if err := sc.Store.AddTarget(ctx, t); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "target %s added for %s: %s %s\n", t.ID, member, kind, v)
				if kind == scan.TargetDomain {
					fmt.Fprintf(stdout, "\nThe member proves it owns %s with either of:\n  a DNS TXT record at %s (or %s): %s\n  the token %s served at https://%s%s\nthen: cyberalarm-central scan target verify %s --config FILE\n",
						v, scan.TXTName(v), v, scan.TXTRecord(t.Token), t.Token, v, scan.WellKnownPath, t.ID)
				} else {
					fmt.Fprintf(stdout, "\nAn analyst approves it, once the member has shown it is theirs:\n  cyberalarm-central scan target approve %s --by NAME --note WHY --config FILE\n", t.ID)
				}
				return nil
			})
		},
	}
	common(add)
	needMember(add)
	add.Flags().StringVar(&domain, "domain", "", "a domain name the member will prove")
	add.Flags().StringVar(&rng, "range", "", "an address or CIDR prefix (at most 256 addresses) an analyst will approve")
	verify := &cobra.Command{
		Use:   "verify TARGET --config FILE",
		Short: "Check a domain target's proof now",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withScan(cmd, func(ctx context.Context, _ *config.Config, sc *scan.Service) error {
				p, err := sc.Verify(ctx, args[0], by)
				if err != nil {
					return err
				}
				if !p.OK {
					return fmt.Errorf("not proven: %s", p.Detail)
				}
				fmt.Fprintf(stdout, "proven by %s (%s), valid until %s\n", p.Method, p.Detail, p.Expires.Format(time.RFC3339))
				return nil
			})
		},
	}
	common(verify)
	approve := &cobra.Command{
		Use:   "approve TARGET --by NAME [--note TEXT] --config FILE",
		Short: "Record an analyst's approval of a range target",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withScan(cmd, func(ctx context.Context, _ *config.Config, sc *scan.Service) error {
				if err := sc.Approve(ctx, args[0], by, note); err != nil {
					return err
				}
				t, err := sc.Store.Target(ctx, args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "%s approved by %s until %s\n", t.Value, by, t.Expires.Format(time.RFC3339))
				return nil
			})
		},
	}
	common(approve)
	approve.Flags().StringVar(&note, "note", "", "why: the evidence the member gave")
	list := &cobra.Command{
		Use:   "list [--member ID] --config FILE",
		Short: "List targets with their proof",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withScan(cmd, func(ctx context.Context, _ *config.Config, sc *scan.Service) error {
				ts, err := sc.Store.Targets(ctx, member)
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tMEMBER\tKIND\tTARGET\tPROVEN BY\tUNTIL")
				for _, t := range ts {
					until := "-"
					if !t.Proven.IsZero() {
						until = t.Expires.Format(time.RFC3339)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.MemberID, t.Kind, t.Value, cmp.Or(t.ProvenBy, "-"), until)
				}
				return w.Flush()
			})
		},
	}
	common(list)
	list.Flags().StringVar(&member, "member", "", "only this member's")
	target.AddCommand(add, verify, approve, list)

	// scan schedule
	var every time.Duration
	var off bool
	sched := &cobra.Command{
		Use:   "schedule --member ID [--every DURATION | --off] --config FILE",
		Short: "Scan a member on a schedule (run by serve when scan.enabled)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAll(cmd, func(ctx context.Context, cfg *config.Config, _ *service.Service, sc *scan.Service) error {
				if off {
					if err := sc.Store.DeleteSchedule(ctx, member); err != nil {
						return err
					}
					fmt.Fprintf(stdout, "%s is no longer scanned on a schedule\n", member)
					return nil
				}
				d := cmp.Or(every, cfg.Scan.Interval)
				if err := sc.SetSchedule(ctx, member, d, by); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "%s is scanned every %s, first at serve's next check\n", member, d)
				return nil
			})
		},
	}
	common(sched)
	needMember(sched)
	sched.Flags().DurationVar(&every, "every", 0, "time between scans (default scan.interval)")
	sched.Flags().BoolVar(&off, "off", false, "stop scheduled scans of the member")

	// scan kill / resume
	var why string
	kill := &cobra.Command{
		Use:   "kill --why TEXT --config FILE",
		Short: "Stop all scanning now, in every process, until resume",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withScan(cmd, func(ctx context.Context, _ *config.Config, sc *scan.Service) error {
				if err := sc.Kill(ctx, by, why); err != nil {
					return err
				}
				fmt.Fprintln(stdout, "scanning stopped; running scans end within a second")
				return nil
			})
		},
	}
	common(kill)
	kill.Flags().StringVar(&why, "why", "", "the reason, for the audit trail")
	kill.MarkFlagRequired("why") //nolint:errcheck
	resume := &cobra.Command{
		Use:   "resume --config FILE",
		Short: "Release the kill switch (scan.kill_switch in the config still holds)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withScan(cmd, func(ctx context.Context, _ *config.Config, sc *scan.Service) error {
				if err := sc.Resume(ctx, by); err != nil {
					return err
				}
				fmt.Fprintln(stdout, "scanning may resume")
				return nil
			})
		},
	}
	common(resume)

	// scan audit
	var limit int
	audit := &cobra.Command{
		Use:   "audit [--member ID] [--limit N] --config FILE",
		Short: "Show the probes scans made, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withScan(cmd, func(ctx context.Context, _ *config.Config, sc *scan.Service) error {
				es, err := sc.Store.Audit(ctx, scan.AuditFilter{MemberID: member, Limit: limit})
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "STARTED\tMEMBER\tBY\tPROBE\tHOST\tADDRESS\tPORT\tDETAIL\tRESULT")
				for _, e := range es {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.Started.Format(time.RFC3339Nano), e.MemberID, e.By, e.Probe,
						e.Host, e.Addr, e.Port, cmp.Or(e.Detail, "-"), cmp.Or(e.Result, "(no result recorded)"))
				}
				return w.Flush()
			})
		},
	}
	common(audit)
	audit.Flags().StringVar(&member, "member", "", "only this member's")
	audit.Flags().IntVar(&limit, "limit", 100, "entries to show")

	cmd.AddCommand(run, rep, target, sched, kill, resume, audit)
	return cmd
}
