package mail

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// Defaults for zero Policy fields: eight attempts over about six and a
// half hours, so a relay down for a morning still delivers the report.
const (
	DefaultAttempts   = 8
	DefaultBackoff    = 5 * time.Minute
	DefaultMaxBackoff = 2 * time.Hour
)

// Policy is how often, and how far apart, a failed send is tried again.
type Policy struct {
	// Attempts per recipient, the first included.
	Attempts int
	// Backoff is the wait after the first failure; it doubles after each
	// further one, up to MaxBackoff.
	Backoff, MaxBackoff time.Duration
}

func (p Policy) withDefaults() Policy {
	if p.Attempts <= 0 {
		p.Attempts = DefaultAttempts
	}
	if p.Backoff <= 0 {
		p.Backoff = DefaultBackoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = DefaultMaxBackoff
	}
	p.MaxBackoff = max(p.MaxBackoff, p.Backoff)
	return p
}

// Delay is the wait after the failures-th failed attempt before the next.
func (p Policy) Delay(failures int) time.Duration {
	p = p.withDefaults()
	d := p.Backoff
	for i := 1; i < failures && d < p.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, p.MaxBackoff)
}

// Sender sends one message to one recipient, once. [*Client] is one.
type Sender interface {
	Send(ctx context.Context, m Message, to string) error
}

// Deliverer mails stored reports and records every attempt in the store,
// so retries and their backoff survive a restart. A recipient is tried
// until one attempt succeeds or Policy.Attempts have failed. Every failure
// is retried alike, a 5xx too: a relay's permanent refusal is most often
// its own setup (relay access, login), mended within the hours the retries
// span, and a report lost at the first refusal is worse than a few
// refused attempts.
type Deliverer struct {
	Sender Sender
	Store  store.Store
	Policy Policy
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	Log *slog.Logger
}

// recordTimeout bounds the write of an attempt's outcome, which goes on
// after ctx ends: a mail that went out must be on record, or a restart
// would send it again.
const recordTimeout = 10 * time.Second

// Deliver makes at most one attempt at each recipient of the stored report
// reportID that is due: not yet sent to, with attempts left, and past its
// backoff. message makes the mail of the report, which Deliver reads from
// the store only when an attempt is due. Deliver returns when the next
// retry is due, or the zero time when no recipient is waiting for one. A
// failed send is recorded, logged and retried later, not returned; the
// error is the store's, or ctx's.
func (d *Deliverer) Deliver(ctx context.Context, reportID string, to []string, message func(store.Report) Message) (next time.Time, err error) {
	p := d.Policy.withDefaults()
	now := d.now
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	past, err := d.Store.Deliveries(ctx, store.DeliveryFilter{ReportID: reportID, Limit: store.MaxLimit})
	if err != nil {
		return time.Time{}, err
	}
	type state struct {
		sent     bool
		attempts int
		last     time.Time
	}
	seen := map[string]*state{}
	for _, x := range past {
		s := seen[x.Recipient]
		if s == nil {
			s = &state{}
			seen[x.Recipient] = s
		}
		s.sent = s.sent || x.Outcome == store.DeliverySent
		s.attempts = max(s.attempts, x.Attempt)
		s.last = x.Time
	}
	later := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	var m *Message
	done := map[string]bool{}
	for _, rcpt := range to {
		if done[rcpt] {
			continue
		}
		done[rcpt] = true
		s := seen[rcpt]
		if s == nil {
			s = &state{}
		}
		if s.sent || s.attempts >= p.Attempts {
			continue
		}
		if s.attempts > 0 {
			if due := s.last.Add(p.Delay(s.attempts)); now().Before(due) {
				later(due)
				continue
			}
		}
		if m == nil {
			r, err := d.Store.Report(ctx, reportID)
			if err != nil {
				return next, err
			}
			msg := message(r)
			m = &msg
		}
		rec := store.Delivery{ReportID: reportID, Recipient: rcpt, Attempt: s.attempts + 1, Time: now(), Outcome: store.DeliverySent}
		sendErr := d.Sender.Send(ctx, *m, rcpt)
		if sendErr != nil && ctx.Err() != nil {
			// Cut short by shutdown: not the relay's failure, and not an
			// attempt to count.
			return next, ctx.Err()
		}
		if sendErr != nil {
			rec.Outcome, rec.Error = store.DeliveryFailed, sendErr.Error()
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		err := d.Store.PutDelivery(wctx, rec)
		cancel()
		if err != nil {
			return next, fmt.Errorf("recording delivery of %s to %s: %w", reportID, rcpt, err)
		}
		switch {
		case sendErr == nil:
			log.Info("report mailed", "report", reportID, "to", rcpt, "attempt", rec.Attempt)
		case rec.Attempt < p.Attempts:
			retry := rec.Time.Add(p.Delay(rec.Attempt))
			log.Warn("report not mailed; will retry", "report", reportID, "to", rcpt, "attempt", rec.Attempt,
				"retry", retry, "err", sendErr)
			later(retry)
		default:
			log.Error("report not mailed; giving up", "report", reportID, "to", rcpt, "attempts", rec.Attempt, "err", sendErr)
		}
	}
	return next, nil
}

func (d *Deliverer) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}
