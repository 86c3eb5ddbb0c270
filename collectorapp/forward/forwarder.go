package forward

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"
)

// Outbox is the durable queue of sealed batches, kept by the collector's
// buffer.
type Outbox interface {
	// Oldest returns the oldest batch neither delivered nor quarantined;
	// ok is false when there is none. body is the zstd-compressed batch
	// JSON.
	Oldest(ctx context.Context) (id string, body []byte, ok bool, err error)
	// Delivered removes a batch central has accepted.
	Delivered(id string) error
	// Quarantine sets aside a batch central rejected for good, keeping it
	// on disk with the status and the reason.
	Quarantine(id string, status int, reason string) error
	// Ready is signalled when a new batch is sealed.
	Ready() <-chan struct{}
}

// Config configures a Forwarder.
type Config struct {
	// Central is central's base URL, e.g. https://central.example:8443.
	Central string
	// TLS is the client configuration, normally Credentials.TLSConfig().
	// It must allow TLS 1.3 only; New refuses anything less.
	TLS *tls.Config
	// Credentials, when set, tell the forwarder that the certificate was
	// renewed, so that it drops its connections made with the old one.
	Credentials *Credentials

	Timeout    time.Duration // per request; zero: 30s
	MinBackoff time.Duration // zero: 1s
	MaxBackoff time.Duration // zero: 5m
	// MaxRetryAfter caps a Retry-After that central asks for; zero: 1h.
	MaxRetryAfter time.Duration
	// Poll is how often an idle forwarder looks at the Outbox even without
	// a Ready signal; zero: 30s.
	Poll time.Duration

	Logger *slog.Logger // nil: slog.Default()
}

// Stats are a Forwarder's counters since it was made.
type Stats struct {
	Sent        int64 // batches central accepted, duplicates included
	Duplicates  int64 // of Sent, those central already had
	Quarantined int64
	Retries     int64 // failed attempts that will be retried
	LastSuccess time.Time
	// SendLag is the age of the oldest batch not yet delivered, zero when
	// all are; taken from the batch id's ULID time.
	SendLag time.Duration
}

// Forwarder sends the Outbox's batches to central, oldest first.
type Forwarder struct {
	outbox  Outbox
	url     string
	client  *http.Client
	tr      *http.Transport
	creds   *Credentials
	backoff Backoff
	maxRA   time.Duration
	poll    time.Duration
	log     *slog.Logger

	sent, dups, quarantined, retries atomic.Int64
	lastSuccess                      atomic.Int64 // Unix nanoseconds; 0: never
	oldest                           atomic.Int64 // Unix ms of the oldest unsent batch; 0: none
}

// New returns a Forwarder for outbox.
func New(outbox Outbox, cfg Config) (*Forwarder, error) {
	base, err := parseCentral(cfg.Central)
	if err != nil {
		return nil, fmt.Errorf("forward: %w", err)
	}
	tlsConf := cfg.TLS
	if tlsConf == nil && cfg.Credentials != nil {
		tlsConf = cfg.Credentials.TLSConfig()
	}
	if tlsConf == nil {
		return nil, errors.New("forward: no TLS configuration")
	}
	if tlsConf.MinVersion < tls.VersionTLS13 {
		return nil, errors.New("forward: TLS configuration must require TLS 1.3")
	}
	if tlsConf.RootCAs == nil && !tlsConf.InsecureSkipVerify {
		return nil, errors.New("forward: TLS configuration has no pinned CA (RootCAs)")
	}
	f := &Forwarder{
		outbox:  outbox,
		url:     base + BatchesPath,
		creds:   cfg.Credentials,
		backoff: Backoff{Min: orDefault(cfg.MinBackoff, time.Second), Max: orDefault(cfg.MaxBackoff, 5*time.Minute)},
		maxRA:   orDefault(cfg.MaxRetryAfter, time.Hour),
		poll:    orDefault(cfg.Poll, 30*time.Second),
		log:     cfg.Logger,
	}
	if f.backoff.Max < f.backoff.Min {
		return nil, fmt.Errorf("forward: MaxBackoff %v is less than MinBackoff %v", f.backoff.Max, f.backoff.Min)
	}
	if f.log == nil {
		f.log = slog.Default()
	}
	f.tr = &http.Transport{
		TLSClientConfig:     tlsConf,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
	}
	f.client = &http.Client{Transport: f.tr, Timeout: orDefault(cfg.Timeout, 30*time.Second), CheckRedirect: noRedirect}
	return f, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Stats returns a snapshot of the counters.
func (f *Forwarder) Stats() Stats {
	s := Stats{
		Sent:        f.sent.Load(),
		Duplicates:  f.dups.Load(),
		Quarantined: f.quarantined.Load(),
		Retries:     f.retries.Load(),
	}
	if ns := f.lastSuccess.Load(); ns != 0 {
		s.LastSuccess = time.Unix(0, ns)
	}
	if ms := f.oldest.Load(); ms != 0 {
		s.SendLag = max(0, time.Since(time.UnixMilli(ms)))
	}
	return s
}

// Run sends batches until ctx is done, then returns nil. A batch in flight
// when ctx ends stays in the Outbox and is sent again by the next Run. Only
// one Run may use an Outbox at a time.
func (f *Forwarder) Run(ctx context.Context) error {
	defer f.tr.CloseIdleConnections()
	gen := f.generation()
	attempt := 0 // failed attempts at the current oldest batch
	for ctx.Err() == nil {
		id, body, ok, err := f.outbox.Oldest(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			f.log.Error("forward: reading the outbox", "err", err)
			f.sleep(ctx, f.backoff.Delay(attempt))
			attempt++
			continue
		}
		if !ok {
			f.oldest.Store(0)
			attempt = 0
			f.idle(ctx)
			continue
		}
		f.noteOldest(id)
		if g := f.generation(); g != gen {
			// Renewed: new handshakes present the new certificate.
			f.tr.CloseIdleConnections()
			gen = g
		}
		out := f.send(ctx, id, body)
		if out.verdict == retry && ctx.Err() != nil {
			break // cut short by the shutdown, not refused
		}
		switch out.verdict {
		case delivered:
			attempt = 0
			if err := f.outbox.Delivered(id); err != nil {
				// Central has it; a resend is answered as a duplicate.
				f.log.Error("forward: marking batch delivered", "batch", id, "err", err)
				f.sleep(ctx, f.backoff.Delay(0))
			}
		case rejected:
			attempt = 0
			if err := f.outbox.Quarantine(id, out.status, out.reason); err != nil {
				f.log.Error("forward: quarantining batch", "batch", id, "err", err)
				f.sleep(ctx, f.backoff.Delay(0))
				continue
			}
			f.quarantined.Add(1)
			f.log.Warn("forward: central rejected batch; quarantined", "batch", id, "status", out.status, "reason", out.reason)
		case retry:
			f.retries.Add(1)
			wait := f.backoff.Delay(attempt)
			if out.retryAfter > 0 {
				wait = out.retryAfter
			}
			attempt++
			f.log.Warn("forward: send failed; will retry", "batch", id, "attempt", attempt,
				"status", out.status, "err", out.reason, "wait", wait)
			f.sleep(ctx, wait)
		}
	}
	return nil
}

func (f *Forwarder) generation() uint64 {
	if f.creds == nil {
		return 0
	}
	return f.creds.Generation()
}

func (f *Forwarder) noteOldest(id string) {
	u, err := ulid.ParseStrict(id)
	if err != nil {
		f.oldest.Store(0)
		return
	}
	f.oldest.Store(int64(u.Time()))
}

// idle waits for a new batch, the poll interval or the end of ctx.
func (f *Forwarder) idle(ctx context.Context) {
	t := time.NewTimer(f.poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-f.outbox.Ready():
	case <-t.C:
	}
}

func (f *Forwarder) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

type verdict int

const (
	delivered verdict = iota
	rejected
	retry
)

type outcome struct {
	verdict    verdict
	status     int
	reason     string
	retryAfter time.Duration
}

// maxAnswer bounds what is read of a 200 answer.
const maxAnswer = 64 << 10

func (f *Forwarder) send(ctx context.Context, id string, body []byte) outcome {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(body))
	if err != nil {
		return outcome{verdict: retry, reason: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "zstd")
	req.Header.Set("Idempotency-Key", id)
	req.Header.Set("X-Batch-Id", id)
	resp, err := f.client.Do(req)
	if err != nil {
		return outcome{verdict: retry, reason: err.Error()}
	}
	defer resp.Body.Close()
	b, readErr := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	// Drain a little more so that the connection can be reused.
	io.CopyN(io.Discard, resp.Body, 4<<10)

	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		// The batch is in; a garbled answer cannot change that.
		var ans struct {
			Duplicate bool `json:"duplicate"`
		}
		if readErr == nil && json.Unmarshal(b, &ans) == nil && ans.Duplicate {
			f.dups.Add(1)
		}
		f.sent.Add(1)
		f.lastSuccess.Store(time.Now().UnixNano())
		return outcome{verdict: delivered, status: code}
	case code == http.StatusTooManyRequests || code == http.StatusRequestTimeout:
		return outcome{verdict: retry, status: code, reason: resp.Status, retryAfter: f.retryAfter(resp)}
	case code >= 400 && code < 500:
		return outcome{verdict: rejected, status: code, reason: resp.Status + ": " + excerpt(b)}
	default:
		// 5xx, and anything central should never send (1xx, 3xx): the
		// batch is not rejected, so keep it first in line.
		return outcome{verdict: retry, status: code, reason: resp.Status + ": " + excerpt(b), retryAfter: f.retryAfter(resp)}
	}
}

// retryAfter reads Retry-After as seconds or an HTTP date; zero when absent
// or unreadable.
func (f *Forwarder) retryAfter(resp *http.Response) time.Duration {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0
		}
		d = time.Duration(min(secs, int64(f.maxRA/time.Second)+1)) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = time.Until(t)
	} else {
		return 0
	}
	return min(max(d, 0), f.maxRA)
}
