package service

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/queue"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/postgres"
)

// Roles of a node (config role:).
const (
	RoleAll    = "all"
	RoleIngest = "ingest"
	RoleWorker = "worker"
)

// leaseTTL bounds how long shared work stops when its node dies: another
// node takes over within about this.
const leaseTTL = 15 * time.Second

// aggregateState names the aggregation state in the queue's state store.
const aggregateState = "aggregate"

// openQueue opens the queue and the lease of shared work that cfg asks
// for. With the in-process queue a batch is stored before the collector is
// answered; on SQLite (one node) it is fed to the aggregator there and
// then, and on PostgreSQL, which several nodes may share, the node holding
// the lease feeds the aggregator from the store (followStore).
func (s *Service) openQueue(ctx context.Context) error {
	q := s.cfg.Queue
	if q.Driver != "nats" {
		pg, ok := s.Store.(*postgres.Store)
		if !ok {
			s.q = queue.NewInProcess(s.storeAndObserve)
			s.lease = queue.Solo{}
			return nil
		}
		s.q = queue.NewInProcess(s.Store.IngestBatch)
		lease, err := pg.Lease("shared", s.leaseTTL)
		if err != nil {
			return err
		}
		s.lease, s.pg, s.shared = lease, pg, pg
		return nil
	}
	js, err := queue.OpenJetStream(ctx, queue.JetStreamConfig{
		URLs: q.URLs, Stream: q.Stream, Replicas: q.Replicas, Dedupe: q.DedupeWindow, MaxAge: q.MaxAge,
		Name: "cyberalarm-central " + s.cfg.Role, Logger: s.log,
	})
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	s.q, s.js, s.shared = js, js, js
	if s.lease, err = js.Lease(ctx, "shared", "", s.leaseTTL); err != nil {
		return err
	}
	return nil
}

// sharedState keeps the state of the shared work where the next node to
// hold the lease finds it: the JetStream cluster's object store, or the
// PostgreSQL database.
type sharedState interface {
	SaveState(ctx context.Context, name string, data []byte) error
	LoadState(ctx context.Context, name string) ([]byte, error)
}

var (
	_ sharedState = (*queue.JetStream)(nil)
	_ sharedState = (*postgres.Store)(nil)
	_ queue.Lease = (*postgres.Lease)(nil)
)

// storeAndObserve is the in-process queue's handler on one SQLite node:
// store, then feed a new batch to the aggregator, holding ingestMu's read
// side throughout so that a snapshot sees every stored batch fed.
func (s *Service) storeAndObserve(ctx context.Context, b *store.Batch) (bool, error) {
	s.ingestMu.RLock()
	defer s.ingestMu.RUnlock()
	dup, err := s.Store.IngestBatch(ctx, b)
	if err == nil && !dup {
		s.observe(*b)
		s.observed.note(b.LastDetectionID, b.LastSummaryID)
	}
	return dup, err
}

// serve serves the API on ln, or, for a node without a listener (a
// worker), waits for ctx to end.
func (s *Service) serve(ctx context.Context, ln net.Listener) error {
	if ln == nil {
		<-ctx.Done()
		s.srv.Close()
		return nil
	}
	return s.srv.Serve(ctx, ln)
}

// ServeOps serves /healthz and /metrics on ln (ops_listen) in plain HTTP
// until ctx ends.
func (s *Service) ServeOps(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s.srv.Ops(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	ctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	err := hs.Serve(ln)
	stop()
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// work runs what a node that stores does, until ctx ends: consuming the
// queue (nothing to do in process) and, while it holds the lease, the
// shared work.
func (s *Service) work(ctx context.Context) {
	if s.cfg.Role == RoleIngest {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.q.Consume(ctx, s.storeQueued); err != nil {
			s.log.Error("queue: consume", "err", err)
		}
	}()
	defer func() { <-done }()
	for {
		held, release, err := s.lease.Acquire(ctx)
		if err != nil {
			return
		}
		s.leading.Store(true)
		s.lead(ctx, held)
		s.leading.Store(false)
		release()
	}
}

// lead runs the shared work (aggregation and its publishing, retention,
// the report and scan schedules) until held ends. A node that lost the
// lease stops without saving; one that shuts down flushes and saves first,
// still holding it.
func (s *Service) lead(ctx, held context.Context) {
	followed := make(chan struct{})
	if s.shared != nil {
		err := s.restoreShared(held)
		if err != nil {
			s.log.Error("aggregation state not loaded; leaving the lease to another node", "err", err)
			sleepCtx(held, s.leaseTTL)
			return
		}
		go func() {
			defer close(followed)
			if err := s.follow(held); err != nil && held.Err() == nil {
				s.log.Error("aggregation feed", "err", err)
			}
		}()
	} else {
		close(followed)
	}
	defer s.startScans(held)()
	defer s.startSchedule(held)()
	publish := time.NewTicker(s.cfg.Aggregate.PublishEvery)
	defer publish.Stop()
	retain := time.NewTicker(time.Hour)
	defer retain.Stop()
	for {
		select {
		case <-publish.C:
			if err := s.flushShared(held); err != nil && held.Err() == nil {
				s.log.Error("aggregation", "err", err)
			}
		case <-retain.C:
			if err := s.retain(held, time.Now()); err != nil && held.Err() == nil {
				s.log.Error("retention", "err", err)
			}
		case <-held.Done():
			<-followed
			if ctx.Err() == nil {
				s.log.Warn("lease lost; shared work stops here")
				return
			}
			if err := s.flushShared(context.WithoutCancel(ctx)); err != nil {
				s.log.Error("final aggregation flush", "err", err)
			}
			return
		}
	}
}

// retain deletes what is older than its retention at now: stored batches
// and, where this node scans, the scan audit log's probes.
func (s *Service) retain(ctx context.Context, now time.Time) error {
	n, err := s.Store.Retain(ctx, now.AddDate(0, 0, -s.cfg.Store.RetentionDays))
	if n > 0 {
		s.log.Info("retention", "deleted", n)
	}
	if err != nil || s.scanner == nil {
		return err
	}
	n, err = s.scanner.Store.RetainAudit(ctx, now.AddDate(0, 0, -s.cfg.Scan.AuditRetentionDays))
	if n > 0 {
		s.log.Info("scan audit retention", "deleted", n)
	}
	return err
}

// follow feeds the aggregator every batch stored after the position it
// has seen up to, until ctx ends: from the stream, or from the store.
func (s *Service) follow(ctx context.Context) error {
	if s.js != nil {
		s.mu.Lock()
		after := s.fed.seq
		s.mu.Unlock()
		return s.js.Follow(ctx, after, func(seq uint64, b *store.Batch) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.observe(*b)
			s.fed.seq = seq
			return nil
		})
	}
	return s.followStore(ctx)
}

// storePoll is how often the leader on PostgreSQL without a queue cluster
// looks for newly stored detections and summaries.
const storePoll = 250 * time.Millisecond

// followStore feeds the aggregator from the store, paging detections and
// summaries by id. The PostgreSQL store gives ids in commit order, so a
// page never passes a row that commits later.
func (s *Service) followStore(ctx context.Context) error {
	t := time.NewTicker(storePoll)
	defer t.Stop()
	for {
		if _, _, err := s.catchUp(ctx, time.Time{}); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// feedPage is how many rows of each table the aggregator is fed at once
// from the store: it bounds what a catch-up holds (a page of
// store.MaxLimit detections with their JSON is over 100 MB), and larger
// pages are no faster.
const feedPage = 4096

// catchUp feeds the aggregator every row stored after its position, of
// those seen (detections) or in their minute (summaries) at or after since
// (zero for all), and returns how many of each it fed.
func (s *Service) catchUp(ctx context.Context, since time.Time) (detections, summaries int, err error) {
	for {
		d, f, err := s.feedStored(ctx, since)
		detections, summaries = detections+d, summaries+f
		if err != nil || max(d, f) < feedPage {
			return detections, summaries, err
		}
	}
}

// feedStored feeds the aggregator one page of each table from its
// position and returns the pages' lengths.
func (s *Service) feedStored(ctx context.Context, since time.Time) (detections, summaries int, err error) {
	s.mu.Lock()
	pos := s.fed
	s.mu.Unlock()
	ds, err := s.Store.Detections(ctx, store.DetectionFilter{After: pos.detection, Since: since, Limit: feedPage})
	if err != nil {
		return 0, 0, err
	}
	ss, err := s.Store.Summaries(ctx, store.SummaryFilter{After: pos.summary, Since: since, Limit: feedPage})
	if err != nil {
		return 0, 0, err
	}
	if len(ds) == 0 && len(ss) == 0 {
		return 0, 0, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observeRows(ds, ss)
	if len(ds) > 0 {
		s.fed.detection = ds[len(ds)-1].ID
	}
	if len(ss) > 0 {
		s.fed.summary = ss[len(ss)-1].ID
	}
	return len(ds), len(ss), nil
}

// fedPosition is how far the aggregator has seen the stored batches: the
// stream sequence on a queue cluster, else the last detection and summary
// ids.
type fedPosition struct {
	seq                uint64
	detection, summary int64
}

// The state the leader saves is the position it has fed up to, then the
// aggregator's snapshot.
const positionBytes = 8 + 8 + 8

func (p fedPosition) append(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, p.seq)
	b = binary.BigEndian.AppendUint64(b, uint64(p.detection))
	return binary.BigEndian.AppendUint64(b, uint64(p.summary))
}

// parsePosition reads what append wrote.
func parsePosition(b []byte) fedPosition {
	return fedPosition{seq: binary.BigEndian.Uint64(b), detection: int64(binary.BigEndian.Uint64(b[8:])),
		summary: int64(binary.BigEndian.Uint64(b[16:]))}
}

// flushShared is Flush, then saving the aggregation state with the
// position it holds, so the next leader, or this node after a crash,
// resumes there.
func (s *Service) flushShared(ctx context.Context) error {
	if err := s.Flush(ctx, time.Now()); err != nil {
		return err
	}
	if s.shared == nil {
		return s.saveAggregate()
	}
	s.mu.Lock()
	snap := s.Agg.Snapshot()
	pos := s.fed
	s.mu.Unlock()
	data, err := snap.AppendBinary(pos.append(nil))
	if err != nil {
		return err
	}
	return s.shared.SaveState(ctx, aggregateState, data)
}

// restoreShared loads the aggregation state the last leader saved, with
// the position it holds batches up to. Without a saved state, a cluster
// on PostgreSQL alone rebuilds it from the store's horizon, rather than
// follow the store from its first row as if everything it holds arrived
// now; with a queue cluster the aggregator starts empty, from the first
// batch the stream holds.
func (s *Service) restoreShared(ctx context.Context) error {
	data, err := s.shared.LoadState(ctx, aggregateState)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if data == nil && s.js == nil {
		if err := s.rebuildFromStore(ctx); err != nil {
			return err
		}
		s.lastIndicators = nil
		return s.storeLiveCampaigns(ctx)
	}
	var pos fedPosition
	snapshot := s.emptyAggregate
	if data != nil {
		if len(data) < positionBytes {
			return errors.New("aggregation state: truncated")
		}
		pos = parsePosition(data)
		snapshot = data[positionBytes:]
	}
	if err := s.Agg.UnmarshalBinary(snapshot); err != nil {
		return fmt.Errorf("aggregation state: %w", err)
	}
	s.fed = pos
	s.lastIndicators = nil
	return s.storeLiveCampaigns(ctx)
}

// Settled reports whether every batch published so far is stored and,
// on the node that leads the shared work, seen by the aggregator. On one
// node with SQLite it is always true.
func (s *Service) Settled(ctx context.Context) (bool, error) {
	switch {
	case s.js != nil:
		pending, err := s.js.Pending(ctx)
		if err != nil || pending > 0 {
			return false, err
		}
		if !s.leading.Load() {
			return true, nil
		}
		last, err := s.js.LastSeq(ctx)
		if err != nil {
			return false, err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.fed.seq >= last, nil
	case s.pg != nil:
		if !s.leading.Load() {
			return true, nil
		}
		s.mu.Lock()
		pos := s.fed
		s.mu.Unlock()
		ds, err := s.Store.Detections(ctx, store.DetectionFilter{After: pos.detection, Limit: 1})
		if err != nil || len(ds) > 0 {
			return false, err
		}
		ss, err := s.Store.Summaries(ctx, store.SummaryFilter{After: pos.summary, Limit: 1})
		return len(ss) == 0, err
	}
	return true, nil
}

// Leading reports whether this node runs the shared work now.
func (s *Service) Leading() bool { return s.leading.Load() }

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// startScans runs the members' scan schedules while ctx lasts, on the node
// that holds the lease of shared work, so a cluster scans each member once
// a turn. It returns a function that waits for them to stop.
func (s *Service) startScans(ctx context.Context) (wait func()) {
	if s.scanner == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.scanner.Schedule(ctx, time.Minute)
	}()
	return func() { <-done }
}
