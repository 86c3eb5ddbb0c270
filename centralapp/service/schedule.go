package service

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/mail"
	"github.com/cyberalarm/cyberalarm/centralapp/report"
	"github.com/cyberalarm/cyberalarm/centralapp/schedule"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// startSchedule runs the report schedule (reports.schedule) while ctx
// lasts, on the node that holds the lease of shared work, so a cluster
// makes and mails each report once. It returns a function that waits for
// the schedule to stop.
func (s *Service) startSchedule(ctx context.Context) (wait func()) {
	if s.cfg.Reports.Schedule == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.runSchedule(ctx); err != nil {
			s.log.Error("report schedule not started", "err", err)
		}
	}()
	return func() { <-done }
}

func (s *Service) runSchedule(ctx context.Context) error {
	sc := s.cfg.Reports.Schedule
	g, err := report.Open(s.cfg.Reports, s.Store, s.Agg)
	if err != nil {
		return err
	}
	defer g.Close()
	if g.NoPDF != nil {
		s.log.Warn("scheduled reports are HTML only", "err", g.NoPDF)
	}
	var mailer schedule.Mailer
	if m := s.cfg.Reports.SMTP; m != nil {
		c, err := mail.NewClient(mail.Config{Host: m.Host, Port: m.Port, Username: m.Username, Password: m.Password,
			From: m.From, TLS: &tls.Config{RootCAs: m.RootCAs}, Timeout: m.Timeout})
		if err != nil {
			return err
		}
		mailer = &mail.Deliverer{Sender: c, Store: s.Store, Log: s.log,
			Policy: mail.Policy{Attempts: m.Attempts, Backoff: m.Backoff, MaxBackoff: m.MaxBackoff}}
	} else if len(sc.Recipients) > 0 || len(sc.Analyst.Recipients) > 0 {
		return fmt.Errorf("reports.schedule has recipients but no reports.smtp")
	}
	gen := func(ctx context.Context, member string, start, end time.Time) (store.Report, error) {
		loc := sc.Analyst.Loc
		if member != "" {
			m, err := s.Store.Member(ctx, member)
			if err != nil {
				return store.Report{}, err
			}
			loc = report.Location(m.TimeZone)
		}
		p, err := report.NewPeriod(start, end, loc)
		if err != nil {
			return store.Report{}, err
		}
		var o *report.Output
		if member == "" {
			o, err = g.Analyst(ctx, p)
		} else {
			o, err = g.Member(ctx, member, p)
		}
		if err != nil {
			return store.Report{}, err
		}
		return o.Stored, nil
	}
	sch, err := schedule.New(s.Store, gen, schedule.Config{
		Members: schedule.Weekly(sc.When), Analyst: schedule.Weekly(sc.Analyst.When), AnalystZone: sc.Analyst.Loc,
		NoAnalyst: sc.Analyst.Off, Recipients: sc.Recipients, AnalystRecipients: sc.Analyst.Recipients,
	}, schedule.Options{Mailer: mailer, Logger: s.log})
	if err != nil {
		return err
	}
	s.log.Info("report schedule", "members", sc.At, "analyst", sc.Analyst.At, "mail", mailer != nil)
	return sch.Run(ctx)
}
