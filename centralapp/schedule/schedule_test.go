package schedule_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // the members' zones, whatever the machine has

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/cyberalarm/cyberalarm/centralapp/mail"
	"github.com/cyberalarm/cyberalarm/centralapp/mail/mailtest"
	"github.com/cyberalarm/cyberalarm/centralapp/schedule"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/sqlite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

// clock is the scheduler's clock in a test: the test sets the time, and
// sees and ends each wait of Run.
type clock struct {
	mu    sync.Mutex
	now   time.Time
	waits chan wait
}

type wait struct {
	d  time.Duration
	ch chan time.Time
}

func newClock(now time.Time) *clock { return &clock{now: now, waits: make(chan wait, 16)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *clock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.waits <- wait{d, ch}
	return ch
}

// nextWait returns Run's next wait.
func (c *clock) nextWait(t *testing.T) wait {
	t.Helper()
	select {
	case w := <-c.waits:
		return w
	case <-time.After(10 * time.Second):
		t.Fatal("scheduler does not wait")
		return wait{}
	}
}

// expectWait takes Run's next wait, checks that it ends at until, and
// ends it there.
func (c *clock) expectWait(t *testing.T, until time.Time) {
	t.Helper()
	w := c.nextWait(t)
	if end := c.Now().Add(w.d); !end.Equal(until) {
		t.Fatalf("scheduler waits until %v, want %v", end.UTC(), until.UTC())
	}
	c.set(until)
	w.ch <- until
}

// generator makes reports and counts what it was asked for.
type generator struct {
	mu    sync.Mutex
	calls []string
	fail  int // calls left that fail
}

func (g *generator) generate(_ context.Context, member string, start, end time.Time) (store.Report, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	call := fmt.Sprintf("%s %s..%s", member, start.Format("2006-01-02 15:04"), end.Format("2006-01-02 15:04"))
	g.calls = append(g.calls, call)
	if g.fail > 0 {
		g.fail--
		return store.Report{}, errors.New("chromium: failed to print")
	}
	return store.Report{HTML: []byte("<h1>" + call + "</h1>"), PDF: []byte("%PDF " + call)}, nil
}

func (g *generator) take() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.calls
	g.calls = nil
	return c
}

type fixture struct {
	path string
	st   store.Store
	srv  *mailtest.Server
	gen  *generator
	clk  *clock
}

func newFixture(t *testing.T, now time.Time, members ...store.Member) *fixture {
	f := &fixture{path: filepath.Join(t.TempDir(), "central.db"), srv: mailtest.Start(t, mailtest.Options{}), gen: &generator{},
		clk: newClock(now)}
	f.open(t)
	for _, m := range members {
		if err := f.st.AddMember(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// open opens the store, as central does when it starts.
func (f *fixture) open(t *testing.T) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Options{Path: f.path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.st = st
}

func (f *fixture) scheduler(t *testing.T, cfg schedule.Config) *schedule.Scheduler {
	t.Helper()
	c, err := mail.NewClient(mail.Config{Host: f.srv.Host, Port: f.srv.Port, From: "reports@cyberalarm.example", TLS: f.srv.ClientTLS})
	if err != nil {
		t.Fatal(err)
	}
	d := &mail.Deliverer{Sender: c, Store: f.st, Now: f.clk.Now, Policy: mail.Policy{Attempts: 3, Backoff: 5 * time.Minute}}
	s, err := schedule.New(f.st, f.gen.generate, cfg, schedule.Options{Mailer: d, Clock: f.clk})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) tick(t *testing.T, s *schedule.Scheduler, wantNext time.Time) {
	t.Helper()
	next, err := s.Tick(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !next.Equal(wantNext) {
		t.Fatalf("next due %v, want %v", next.UTC(), wantNext.UTC())
	}
}

// mailed returns the recipient and subject of each mail received since the
// last call.
func (f *fixture) mailed(t *testing.T, seen *int) []string {
	t.Helper()
	var out []string
	rs := f.srv.Received()
	for _, r := range rs[*seen:] {
		out = append(out, fmt.Sprintf("%s: %s", r.To[0], subject(t, r.Data)))
	}
	*seen = len(rs)
	return out
}

type head struct {
	ID, Member, Start, End string
}

func (f *fixture) reports(t *testing.T, member string) []head {
	t.Helper()
	rs, err := f.st.Reports(t.Context(), member)
	if err != nil {
		t.Fatal(err)
	}
	var out []head
	for _, r := range rs {
		out = append(out, head{r.ID, r.MemberID, r.PeriodStart.Format("2006-01-02 15:04"), r.PeriodEnd.Format("2006-01-02 15:04")})
	}
	return out
}

func check[T any](t *testing.T, what string, want, got T) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

var created = utc("2026-01-01 00:00")

// TestTick: each member's report is made in its own zone, once per
// period, also after a restart; the analyst report on its own schedule;
// each mailed once.
func TestTick(t *testing.T) {
	f := newFixture(t, utc("2026-11-16 06:30"),
		store.Member{ID: "acme", Name: "Acme Ltd", TimeZone: "Europe/London", Created: created},
		store.Member{ID: "globex", Name: "Globex", TimeZone: "America/New_York", Created: created},
		store.Member{ID: "initech", Name: "Initech", TimeZone: "Asia/Tokyo", Created: created},
		// Joined after the end of last week: nothing until this week's.
		store.Member{ID: "newco", Name: "NewCo", TimeZone: "Europe/London", Created: utc("2026-11-12 10:00")},
		store.Member{ID: "lost", Name: "Lost", TimeZone: "Mars/Olympus_Mons", Created: created},
	)
	cfg := schedule.Config{
		Members:           schedule.Weekly{Weekday: time.Monday, Hour: 7},
		Analyst:           schedule.Weekly{Weekday: time.Monday, Hour: 8},
		Recipients:        map[string][]string{"acme": {"it@acme.example"}, "initech": {"soc@initech.example"}},
		AnalystRecipients: []string{"analysts@cyberalarm.example"},
	}
	s := f.scheduler(t, cfg)
	var seen int

	// Monday 06:30 UTC: before 07:00 in London and New York, after it in
	// Tokyo; the latest due week is the one before for the first two.
	f.tick(t, s, utc("2026-11-16 07:00"))
	check(t, "generated", []string{
		"acme 2026-11-02 00:00..2026-11-09 00:00",
		"globex 2026-11-02 05:00..2026-11-09 05:00",
		"initech 2026-11-08 15:00..2026-11-15 15:00",
		" 2026-11-02 00:00..2026-11-09 00:00",
	}, f.gen.take())
	check(t, "mailed", []string{
		"it@acme.example: CyberAlarm weekly threat report for Acme Ltd, 2 November to 8 November 2026",
		"soc@initech.example: CyberAlarm weekly threat report for Initech, 9 November to 15 November 2026",
		"analysts@cyberalarm.example: CyberAlarm analyst trend report, 2 November to 8 November 2026",
	}, f.mailed(t, &seen))

	f.tick(t, s, utc("2026-11-16 07:00"))
	check(t, "generated again", nil, f.gen.take())
	check(t, "mailed again", nil, f.mailed(t, &seen))

	// 07:00 in London: acme's week and newco's first.
	f.clk.set(utc("2026-11-16 07:00"))
	f.tick(t, s, utc("2026-11-16 08:00"))
	check(t, "generated at 07:00", []string{
		"acme 2026-11-09 00:00..2026-11-16 00:00",
		"newco 2026-11-09 00:00..2026-11-16 00:00",
	}, f.gen.take())
	check(t, "mailed at 07:00", []string{
		"it@acme.example: CyberAlarm weekly threat report for Acme Ltd, 9 November to 15 November 2026",
	}, f.mailed(t, &seen))

	// Central restarts: nothing is made or mailed twice.
	f.st.Close()
	f.open(t)
	s = f.scheduler(t, cfg)
	f.tick(t, s, utc("2026-11-16 08:00"))
	check(t, "generated after a restart", nil, f.gen.take())
	check(t, "mailed after a restart", nil, f.mailed(t, &seen))

	check(t, "acme's reports", []head{
		{"weekly-acme-2026-11-09", "acme", "2026-11-09 00:00", "2026-11-16 00:00"},
		{"weekly-acme-2026-11-02", "acme", "2026-11-02 00:00", "2026-11-09 00:00"},
	}, f.reports(t, "acme"))
	check(t, "analyst reports", []head{{"analyst-weekly-2026-11-02", "", "2026-11-02 00:00", "2026-11-09 00:00"}}, f.reports(t, ""))
	check(t, "initech's reports", []head{{"weekly-initech-2026-11-09", "initech", "2026-11-08 15:00", "2026-11-15 15:00"}},
		f.reports(t, "initech"))
	r, err := f.st.Report(t.Context(), "weekly-acme-2026-11-09")
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != schedule.Kind || string(r.PDF) != "%PDF acme 2026-11-09 00:00..2026-11-16 00:00" || !r.Created.Equal(utc("2026-11-16 07:00")) {
		t.Errorf("stored report: %s %q %v", r.Kind, r.PDF, r.Created)
	}
}

// run starts s.Run and returns a function that stops it and waits; it may
// be called again.
func run(t *testing.T, s *schedule.Scheduler) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
}

// TestRunDST: Run sleeps until 07:00 London time, GMT or BST, and each
// report covers seven local days: 167 hours in spring, 169 in autumn.
func TestRunDST(t *testing.T) {
	f := newFixture(t, utc("2026-03-23 07:00"),
		store.Member{ID: "acme", Name: "Acme Ltd", TimeZone: "Europe/London", Created: created})
	s := f.scheduler(t, schedule.Config{Members: schedule.Weekly{Weekday: time.Monday, Hour: 7}, NoAnalyst: true,
		Recipients: map[string][]string{"acme": {"it@acme.example"}}, Recheck: 400 * 24 * time.Hour})
	stop := run(t, s)
	defer stop()
	f.clk.expectWait(t, utc("2026-03-30 06:00")) // 07:00 BST
	f.clk.expectWait(t, utc("2026-04-06 06:00"))
	// Central is down from April to the autumn: it makes the latest week
	// due, not every week missed.
	w := f.clk.nextWait(t)
	f.clk.set(utc("2026-10-26 06:59"))
	w.ch <- f.clk.Now()
	f.clk.expectWait(t, utc("2026-10-26 07:00")) // 07:00 GMT
	if w := f.clk.nextWait(t); !f.clk.Now().Add(w.d).Equal(utc("2026-11-02 07:00")) {
		t.Errorf("waits %v after the autumn week", w.d)
	}
	stop()
	check(t, "reports", []head{
		{"weekly-acme-2026-10-19", "acme", "2026-10-18 23:00", "2026-10-26 00:00"}, // 169 hours
		{"weekly-acme-2026-10-12", "acme", "2026-10-11 23:00", "2026-10-18 23:00"},
		{"weekly-acme-2026-03-30", "acme", "2026-03-29 23:00", "2026-04-05 23:00"},
		{"weekly-acme-2026-03-23", "acme", "2026-03-23 00:00", "2026-03-29 23:00"}, // 167 hours
		{"weekly-acme-2026-03-16", "acme", "2026-03-16 00:00", "2026-03-23 00:00"},
	}, f.reports(t, "acme"))
	if n := len(f.srv.Received()); n != 5 {
		t.Errorf("%d mails, want 5", n)
	}
}

// TestRunRetries: a report that fails to generate is made again after
// Retry, and a mail the relay refuses is sent again after the backoff;
// Run sleeps exactly until each.
func TestRunRetries(t *testing.T) {
	f := newFixture(t, utc("2026-11-16 07:00"),
		store.Member{ID: "acme", Name: "Acme Ltd", TimeZone: "Europe/London", Created: created})
	f.gen.fail = 1
	f.srv.Refuse(func(string) error { return mailtest.Temporary })
	s := f.scheduler(t, schedule.Config{Members: schedule.Weekly{Weekday: time.Monday, Hour: 7}, NoAnalyst: true,
		Recipients: map[string][]string{"acme": {"it@acme.example"}}, Retry: 10 * time.Minute, Recheck: 30 * 24 * time.Hour})
	stop := run(t, s)
	defer stop()
	f.clk.expectWait(t, utc("2026-11-16 07:10")) // generation failed
	w := f.clk.nextWait(t)                       // made; mail refused
	if end := f.clk.Now().Add(w.d); !end.Equal(utc("2026-11-16 07:15")) {
		t.Fatalf("waits until %v after a refused mail", end)
	}
	f.srv.Refuse(nil)
	f.clk.set(utc("2026-11-16 07:15"))
	w.ch <- f.clk.Now()
	if w := f.clk.nextWait(t); !f.clk.Now().Add(w.d).Equal(utc("2026-11-23 07:00")) {
		t.Errorf("waits %v after the mail went", w.d)
	}
	stop()
	check(t, "generated", []string{
		"acme 2026-11-09 00:00..2026-11-16 00:00",
		"acme 2026-11-09 00:00..2026-11-16 00:00",
	}, f.gen.take())
	ds, err := f.st.Deliveries(t.Context(), store.DeliveryFilter{MemberID: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range ds {
		got = append(got, fmt.Sprintf("%s %d %s %s", d.Time.Format("15:04"), d.Attempt, d.Recipient, d.Outcome))
	}
	check(t, "deliveries", []string{"07:10 1 it@acme.example failed", "07:15 2 it@acme.example sent"}, got)
	if n := len(f.srv.Received()); n != 1 {
		t.Errorf("%d mails, want 1", n)
	}
}

func subject(t *testing.T, data []byte) string {
	t.Helper()
	h, _, err := mailtest.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return h.Get("Subject")
}
