package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// JetStreamConfig configures a JetStream queue. URLs is required; zero
// fields take the defaults.
type JetStreamConfig struct {
	// URLs are the NATS servers, any of the cluster's.
	URLs []string
	// Stream is the stream's name; default INGEST. Its key-value lease
	// bucket and state object store are named after it.
	Stream string
	// Replicas is the stream's replication: 3 in a 3-node cluster, 1 on a
	// single dev server. Default 1.
	Replicas int
	// Dedupe is JetStream's window for Nats-Msg-Id; default 10 min.
	Dedupe time.Duration
	// MaxAge is how long a batch stays in the stream after it was
	// published, consumed or not; default 72h. The aggregation leader
	// replays from the stream after a failover, and workers that are down
	// longer than this lose what they did not consume.
	MaxAge time.Duration
	// Consumer is the durable pull consumer of the workers; default store.
	Consumer string
	// MaxAckPending bounds the batches handed out and not yet
	// acknowledged, across all workers; default 256.
	MaxAckPending int
	// Workers is the number of batches one Consume stores at once;
	// default 16. A store that commits concurrent batches together (both
	// built-in stores do) writes up to this many in one transaction, so
	// more workers mean fewer commits, not more contention.
	Workers int
	// AckWait is how long a handed-out batch may take before JetStream
	// offers it again; default 60s.
	AckWait time.Duration
	// Name names the connection in the servers' monitoring.
	Name string
	// Logger: nil means slog.Default().
	Logger *slog.Logger
}

func (c JetStreamConfig) withDefaults() (JetStreamConfig, error) {
	if len(c.URLs) == 0 {
		return c, errors.New("queue: no NATS URLs")
	}
	if c.Stream == "" {
		c.Stream = "INGEST"
	}
	if !ValidName(c.Stream) {
		return c, fmt.Errorf("queue: stream name %q: want letters, digits, '_' and '-'", c.Stream)
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		return c, fmt.Errorf("queue: %d replicas: want 1 to 5", c.Replicas)
	}
	if c.Dedupe <= 0 {
		c.Dedupe = 10 * time.Minute
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 72 * time.Hour
	}
	if c.Dedupe > c.MaxAge {
		return c, fmt.Errorf("queue: dedupe window %v is longer than max age %v", c.Dedupe, c.MaxAge)
	}
	if c.Consumer == "" {
		c.Consumer = "store"
	}
	if c.MaxAckPending <= 0 {
		c.MaxAckPending = 256
	}
	if c.Workers <= 0 {
		c.Workers = 16
	}
	if c.AckWait <= 0 {
		c.AckWait = time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// ValidName reports whether s may name a JetStream stream, bucket or
// consumer: 1-64 ASCII letters, digits, "_" and "-".
func ValidName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// SubjectPrefix starts every batch's subject: ingest.<member>.
const SubjectPrefix = "ingest."

// Subject is the subject of member's batches. A '.' in a member id would
// split the subject into more tokens, so it is written as '_'.
func Subject(member string) string {
	return SubjectPrefix + strings.ReplaceAll(member, ".", "_")
}

// JetStream is the queue on a NATS JetStream stream.
type JetStream struct {
	cfg   JetStreamConfig
	log   *slog.Logger
	nc    *nats.Conn
	js    jetstream.JetStream
	codec *codec

	bufs sync.Pool // *[]byte message buffers for Publish
}

var _ Queue = (*JetStream)(nil)

// OpenJetStream connects to the servers and creates the stream, or brings
// its configuration up to date.
func OpenJetStream(ctx context.Context, cfg JetStreamConfig) (_ *JetStream, err error) {
	if cfg, err = cfg.withDefaults(); err != nil {
		return nil, err
	}
	q := &JetStream{cfg: cfg, log: cfg.Logger}
	defer func() {
		if err != nil {
			q.Close()
		}
	}()
	if q.codec, err = newCodec(); err != nil {
		return nil, err
	}
	q.nc, err = nats.Connect(strings.Join(cfg.URLs, ","),
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				q.log.Warn("nats: disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { q.log.Info("nats: reconnected", "server", nc.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { q.log.Warn("nats", "err", err) }),
	)
	if err != nil {
		return nil, fmt.Errorf("queue: connect to %s: %w", strings.Join(cfg.URLs, ","), err)
	}
	if q.js, err = jetstream.New(q.nc); err != nil {
		return nil, err
	}
	_, err = q.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "cyberalarm: collector batches verified by central's ingest API",
		Subjects:    []string{SubjectPrefix + ">"},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      cfg.MaxAge,
		Duplicates:  cfg.Dedupe,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		Discard:     jetstream.DiscardOld,
	})
	if err != nil {
		return nil, fmt.Errorf("queue: stream %s: %w", cfg.Stream, err)
	}
	return q, nil
}

// Close closes the connection.
func (q *JetStream) Close() error {
	if q.nc != nil {
		q.nc.Close()
	}
	if q.codec != nil {
		q.codec.close()
	}
	return nil
}

// Publish publishes b on ingest.<member> and waits for the stream's
// acknowledgement, which comes once a majority of the replicas hold it. The
// message id is the collector and batch id: a batch id is unique only per
// collector (DESIGN.md §3.4), and one collector must not be able to shadow
// another's batch.
func (q *JetStream) Publish(ctx context.Context, b *store.Batch) (bool, error) {
	bp, _ := q.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	defer q.bufs.Put(bp)
	data, err := q.codec.encode((*bp)[:0], b)
	if err != nil {
		return false, err
	}
	if cap(data) <= 1<<20 {
		*bp = data
	}
	ack, err := q.js.PublishMsg(ctx, &nats.Msg{Subject: Subject(b.MemberID), Data: data},
		jetstream.WithMsgID(MsgID(b)), jetstream.WithExpectStream(q.cfg.Stream))
	if err != nil {
		return false, fmt.Errorf("queue: publish batch %s: %w", b.ID, err)
	}
	return ack.Duplicate, nil
}

// MsgID is the Nats-Msg-Id of a batch.
func MsgID(b *store.Batch) string { return b.CollectorID + "." + b.ID }

// consumerConfig is the workers' durable pull consumer.
func (q *JetStream) consumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       q.cfg.Consumer,
		Description:   "cyberalarm workers: store each batch, then acknowledge",
		FilterSubject: SubjectPrefix + ">",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       q.cfg.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: q.cfg.MaxAckPending,
		Replicas:      0, // the stream's
	}
}

// Consume stores batches with h until ctx ends, Workers at a time; several
// nodes may consume at once and share the work. A batch is acknowledged
// once h returned nil. A batch h refuses for good (store.ErrInvalid,
// ErrRevoked, ErrNotFound: the collector was revoked after the ingest API
// accepted it) or that no worker can read is logged and terminated, so it
// does not come back forever. Any other error offers it again after a
// pause.
func (q *JetStream) Consume(ctx context.Context, h Handler) error {
	cons, err := q.js.CreateOrUpdateConsumer(ctx, q.cfg.Stream, q.consumerConfig())
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("queue: consumer %s: %w", q.cfg.Consumer, err)
	}
	msgs := make(chan jetstream.Msg)
	var wg sync.WaitGroup
	for range q.cfg.Workers {
		wg.Go(func() {
			for m := range msgs {
				q.handle(ctx, m, h)
			}
		})
	}
	defer func() {
		close(msgs)
		wg.Wait()
	}()
	for ctx.Err() == nil {
		it, err := cons.Messages(jetstream.PullMaxMessages(min(q.cfg.MaxAckPending, 2*q.cfg.Workers)))
		if err != nil {
			q.log.Warn("queue: pull", "err", err)
			if !sleep(ctx, time.Second) {
				return nil
			}
			continue
		}
		stop := context.AfterFunc(ctx, it.Stop)
		err = q.pump(ctx, it, msgs)
		stop()
		it.Stop()
		if ctx.Err() != nil {
			return nil
		}
		q.log.Warn("queue: consumer interrupted; pulling again", "err", err)
		if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
			if cons, err = q.js.CreateOrUpdateConsumer(ctx, q.cfg.Stream, q.consumerConfig()); err != nil {
				q.log.Warn("queue: consumer", "err", err)
			}
		}
		if !sleep(ctx, 250*time.Millisecond) {
			return nil
		}
	}
	return nil
}

// pump passes messages from it to msgs until it ends or fails for good.
func (q *JetStream) pump(ctx context.Context, it jetstream.MessagesContext, msgs chan<- jetstream.Msg) error {
	for {
		m, err := it.Next()
		switch {
		case err == nil:
		case errors.Is(err, jetstream.ErrMsgIteratorClosed), errors.Is(err, jetstream.ErrConsumerDeleted),
			errors.Is(err, jetstream.ErrConsumerNotFound):
			return err
		default:
			// Missed heartbeats and the like, while a server fails
			// over: the iterator pulls again by itself.
			if ctx.Err() == nil {
				q.log.Debug("queue: pull", "err", err)
			}
			continue
		}
		select {
		case msgs <- m:
		case <-ctx.Done():
			// Not acknowledged: JetStream offers it again.
			m.Nak()
			return ctx.Err()
		}
	}
}

// handle stores one message and acknowledges it.
func (q *JetStream) handle(ctx context.Context, m jetstream.Msg, h Handler) {
	b, err := q.codec.decode(m.Data())
	if err != nil {
		q.log.Error("queue: dropping a message no worker can read", "subject", m.Subject(), "err", err)
		m.Term()
		return
	}
	_, err = h(ctx, b)
	switch {
	case err == nil:
		if err := m.Ack(); err != nil {
			// Offered again later, and found a duplicate then.
			q.log.Debug("queue: ack", "batch", b.ID, "err", err)
		}
	case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrRevoked), errors.Is(err, store.ErrNotFound):
		q.log.Warn("queue: batch refused by the store; dropped", "batch", b.ID, "collector", b.CollectorID,
			"member", b.MemberID, "err", err)
		m.Term()
	case ctx.Err() != nil:
		m.Nak()
	default:
		q.log.Error("queue: storing a batch failed; it will be offered again", "batch", b.ID, "err", err)
		m.NakWithDelay(time.Second)
	}
}

// Follow calls fn with every batch in the stream after sequence after, in
// stream order, until ctx ends or fn fails. It keeps no state on the
// servers beyond an ordered consumer, so the aggregation leader can follow
// from the sequence its saved state holds. Batches older than MaxAge are no
// longer there: following resumes at the oldest kept, and the gap is
// logged.
func (q *JetStream) Follow(ctx context.Context, after uint64, fn func(seq uint64, b *store.Batch) error) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{SubjectPrefix + ">"}}
	if after > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = after + 1
	}
	cons, err := q.js.OrderedConsumer(ctx, q.cfg.Stream, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("queue: follow %s: %w", q.cfg.Stream, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("queue: follow %s: %w", q.cfg.Stream, err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	next := after + 1
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			q.log.Debug("queue: follow", "err", err)
			continue
		}
		meta, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("queue: follow: %w", err)
		}
		seq := meta.Sequence.Stream
		if seq > next {
			q.log.Warn("queue: batches expired from the stream before aggregation saw them", "from", next, "to", seq-1)
		}
		next = seq + 1
		b, err := q.codec.decode(m.Data())
		if err != nil {
			q.log.Error("queue: follow: skipping a message no node can read", "seq", seq, "err", err)
			continue
		}
		if err := fn(seq, b); err != nil {
			return err
		}
	}
}

// LastSeq returns the sequence of the newest batch in the stream.
func (q *JetStream) LastSeq(ctx context.Context) (uint64, error) {
	s, err := q.js.Stream(ctx, q.cfg.Stream)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.LastSeq, nil
}

// Pending returns the batches the workers have not yet acknowledged:
// waiting in the stream plus handed out.
func (q *JetStream) Pending(ctx context.Context) (uint64, error) {
	c, err := q.js.Consumer(ctx, q.cfg.Stream, q.cfg.Consumer)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		last, err := q.LastSeq(ctx)
		return last, err
	}
	if err != nil {
		return 0, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}

// sleep waits d, and reports false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
