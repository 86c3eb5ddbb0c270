// Package schedule makes reports on a weekly schedule: each member's in
// the member's own time zone, and the cross-member analyst report on its
// own. Each report is made once per period, even across restarts, stored,
// and then mailed.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/mail"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// Generate makes the report of member ("" for the analyst report) for the
// period [start, end). It may store the report itself; otherwise the
// scheduler does. The scheduler sets MemberID and the period, and ID, Kind
// and Created where they are empty.
type Generate func(ctx context.Context, member string, start, end time.Time) (store.Report, error)

// Mailer delivers stored reports: [*mail.Deliverer].
type Mailer interface {
	Deliver(ctx context.Context, reportID string, to []string, message func(store.Report) mail.Message) (next time.Time, err error)
}

// Clock is the scheduler's time: the wall clock unless a test gives its
// own.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Kind is the Kind of the reports the scheduler makes.
const Kind = "weekly"

// Defaults for zero Config fields.
const (
	DefaultRetry   = 10 * time.Minute
	DefaultRecheck = time.Hour
)

// Config is what to make, when, and for whom.
type Config struct {
	// Members is when each member's report is made, in the member's time
	// zone (store.Member.TimeZone; UTC when it names none).
	Members Weekly
	// Analyst is when the analyst report is made, in AnalystZone (UTC
	// when nil); none is made when NoAnalyst is set.
	Analyst     Weekly
	AnalystZone *time.Location
	NoAnalyst   bool
	// Recipients are the addresses of each member's report, by member
	// id, and AnalystRecipients those of the analyst report.
	Recipients        map[string][]string
	AnalystRecipients []string
	// Retry is the wait after a report that failed to generate or store.
	Retry time.Duration
	// Recheck bounds every wait, so members added or changed are seen.
	Recheck time.Duration
}

// Scheduler runs the schedule. Run it once per store.
type Scheduler struct {
	st    store.Store
	gen   Generate
	mail  Mailer // nil: reports are stored, not mailed
	cfg   Config
	clock Clock
	log   *slog.Logger

	// failed holds, by report key, when a report that failed to generate
	// may be tried again; settled holds, by member ("" for the analyst),
	// the key of its latest report that is made and whose mail is sent or
	// given up, so the hourly pass need not ask the store again. Only Tick
	// touches them.
	failed  map[string]time.Time
	settled map[string]string
	zones   map[string]*time.Location // loaded, by name: LoadLocation reads a file
}

// Options are the optional parts of a Scheduler.
type Options struct {
	Mailer Mailer // nil: reports are stored, not mailed
	Clock  Clock  // nil: the wall clock
	Logger *slog.Logger
}

// New returns a scheduler that makes reports with gen and keeps them in st.
func New(st store.Store, gen Generate, cfg Config, opts Options) (*Scheduler, error) {
	if st == nil || gen == nil {
		return nil, errors.New("schedule: needs a store and a generator")
	}
	for _, w := range []Weekly{cfg.Members, cfg.Analyst} {
		if w.Weekday < time.Sunday || w.Weekday > time.Saturday || w.Hour < 0 || w.Hour > 23 || w.Minute < 0 || w.Minute > 59 {
			return nil, fmt.Errorf("schedule: %d %02d:%02d is not a time of the week", w.Weekday, w.Hour, w.Minute)
		}
	}
	if cfg.AnalystZone == nil {
		cfg.AnalystZone = time.UTC
	}
	if cfg.Retry <= 0 {
		cfg.Retry = DefaultRetry
	}
	if cfg.Recheck <= 0 {
		cfg.Recheck = DefaultRecheck
	}
	s := &Scheduler{st: st, gen: gen, mail: opts.Mailer, cfg: cfg, clock: opts.Clock, log: opts.Logger,
		failed: map[string]time.Time{}, settled: map[string]string{}, zones: map[string]*time.Location{}}
	if s.clock == nil {
		s.clock = wallClock{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Run makes and mails reports as they fall due, until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	for {
		next, err := s.Tick(ctx)
		if ctx.Err() != nil {
			return nil
		}
		now := s.clock.Now()
		if err != nil {
			s.log.Error("report schedule", "err", err)
			next = now.Add(s.cfg.Retry)
		}
		wait := min(max(next.Sub(now), time.Second), s.cfg.Recheck)
		select {
		case <-ctx.Done():
			return nil
		case <-s.clock.After(wait):
		}
	}
}

// Tick does what is due now: it makes the latest due report of each
// member and the analyst report where it is not stored yet, and mails the
// ones with mail outstanding. It returns when something is next due. A
// report that fails is logged and tried again later; the error is for
// what stopped the whole pass, such as the store.
func (s *Scheduler) Tick(ctx context.Context) (next time.Time, err error) {
	now := s.clock.Now()
	later := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	members, err := s.st.Members(ctx)
	if err != nil {
		return time.Time{}, err
	}
	for _, m := range members {
		loc, err := s.zone(m.TimeZone)
		if err != nil {
			s.log.Error("member report not scheduled", "member", m.ID, "err", err)
			continue
		}
		later(s.cfg.Members.Next(now, loc).Due)
		p := s.cfg.Members.Last(now, loc)
		if !m.Created.Before(p.End) {
			continue // not a member during that week
		}
		t, err := s.run(ctx, job{member: m.ID, name: m.Name, loc: loc, p: p, to: s.cfg.Recipients[m.ID]}, now)
		if err != nil {
			return next, err
		}
		later(t)
	}
	if !s.cfg.NoAnalyst {
		loc := s.cfg.AnalystZone
		later(s.cfg.Analyst.Next(now, loc).Due)
		t, err := s.run(ctx, job{loc: loc, p: s.cfg.Analyst.Last(now, loc), to: s.cfg.AnalystRecipients}, now)
		if err != nil {
			return next, err
		}
		later(t)
	}
	return next, ctx.Err()
}

// job is one report of one period.
type job struct {
	member, name string // "" for the analyst report
	loc          *time.Location
	p            Period
	to           []string
}

// key names j's report: its kind, member and the local date its period
// starts. It is the id of a report the generator gave none. Member ids are
// slugs and the date is fixed-width, so no two members share a key, and
// the analyst report's, which starts otherwise, is no member's.
func (j job) key() string {
	date := j.p.Start.In(j.loc).Format(time.DateOnly)
	if j.member == "" {
		return "analyst-" + Kind + "-" + date
	}
	return Kind + "-" + j.member + "-" + date
}

// run makes j's report unless one of its period is stored, and mails it
// where mail is outstanding. It returns when it wants to run again (zero:
// not before the next period).
func (s *Scheduler) run(ctx context.Context, j job, now time.Time) (time.Time, error) {
	key := j.key()
	if s.settled[j.member] == key {
		return time.Time{}, nil
	}
	reports, err := s.st.Reports(ctx, j.member)
	if err != nil {
		return time.Time{}, err
	}
	// Whoever made it (this scheduler before a restart, or someone by
	// hand), a report of the period is not made again.
	var id string
	if i := slices.IndexFunc(reports, func(r store.Report) bool {
		return r.PeriodStart.Equal(j.p.Start) && r.PeriodEnd.Equal(j.p.End)
	}); i >= 0 {
		id = reports[i].ID
	} else {
		if retry, ok := s.failed[key]; ok && now.Before(retry) {
			return retry, nil
		}
		if id, err = s.make(ctx, j, key, now); err != nil {
			if ctx.Err() != nil {
				return time.Time{}, ctx.Err()
			}
			retry := now.Add(s.cfg.Retry)
			s.failed[key] = retry
			s.log.Error("report not made; will retry", "report", key, "retry", retry, "err", err)
			return retry, nil
		}
		delete(s.failed, key)
	}
	var next time.Time
	if s.mail != nil && len(j.to) > 0 {
		if next, err = s.mail.Deliver(ctx, id, j.to, j.message); err != nil {
			return next, err
		}
	}
	if next.IsZero() {
		s.settled[j.member] = key
	}
	return next, nil
}

// make generates j's report and stores it, unless the generator did, and
// returns its id.
func (s *Scheduler) make(ctx context.Context, j job, key string, now time.Time) (string, error) {
	start := s.clock.Now()
	r, err := s.gen(ctx, j.member, j.p.Start.UTC(), j.p.End.UTC())
	if err != nil {
		return "", err
	}
	r.MemberID, r.PeriodStart, r.PeriodEnd = j.member, j.p.Start.UTC(), j.p.End.UTC()
	if r.ID == "" {
		r.ID = key
	}
	if r.Kind == "" {
		r.Kind = Kind
	}
	if r.Created.IsZero() {
		r.Created = now.UTC()
	}
	// ErrExists: the generator stored it.
	if err := s.st.PutReport(ctx, r); err != nil && !errors.Is(err, store.ErrExists) {
		return "", err
	}
	s.log.Info("report made", "report", r.ID, "member", j.member, "start", j.p.Start, "end", j.p.End,
		"took", s.clock.Now().Sub(start).Round(time.Millisecond))
	return r.ID, nil
}

// message is the mail of j's stored report r.
func (j job) message(r store.Report) mail.Message {
	first, last := j.p.Start.In(j.loc), j.p.End.In(j.loc).AddDate(0, 0, -1)
	days := first.Format("2 January") + " to " + last.Format("2 January 2006")
	name := j.name
	if name == "" {
		name = j.member
	}
	subject := "CyberAlarm weekly threat report for " + name + ", " + days
	file := "cyberalarm-" + j.member + "-" + first.Format(time.DateOnly) + ".pdf"
	if j.member == "" {
		subject = "CyberAlarm analyst trend report, " + days
		file = "cyberalarm-analyst-" + first.Format(time.DateOnly) + ".pdf"
	}
	return mail.Message{
		ID:      r.ID,
		Subject: subject,
		Text: subject + ".\n\nThe report is attached as a PDF, and mail readers that show HTML display it in full.\n" +
			"It is also kept in the CyberAlarm dashboard, under Reports.\n",
		HTML:    r.HTML,
		PDF:     r.PDF,
		PDFName: file,
	}
}

// zone loads a member's time zone; "" is UTC.
func (s *Scheduler) zone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if loc, ok := s.zones[name]; ok {
		return loc, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	s.zones[name] = loc
	return loc, nil
}
