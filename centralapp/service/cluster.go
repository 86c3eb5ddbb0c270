package service

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/queue"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
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
// for. With the in-process queue a batch is stored, and fed to the
// aggregator, before the collector is answered.
func (s *Service) openQueue(ctx context.Context) error {
	q := s.cfg.Queue
	if q.Driver != "nats" {
		s.q = queue.NewInProcess(s.storeAndObserve)
		s.lease = queue.Solo{}
		return nil
	}
	js, err := queue.OpenJetStream(ctx, queue.JetStreamConfig{
		URLs: q.URLs, Stream: q.Stream, Replicas: q.Replicas, Dedupe: q.DedupeWindow, MaxAge: q.MaxAge,
		Name: "cyberalarm-central " + s.cfg.Role, Logger: s.log,
	})
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	s.q, s.js = js, js
	if s.lease, err = js.Lease(ctx, "shared", "", s.leaseTTL()); err != nil {
		return err
	}
	return nil
}

func (s *Service) leaseTTL() time.Duration {
	if s.testLeaseTTL > 0 {
		return s.testLeaseTTL
	}
	return leaseTTL
}

// storeAndObserve is the in-process queue's handler: store, then feed a
// new batch to the aggregator.
func (s *Service) storeAndObserve(ctx context.Context, b *store.Batch) (bool, error) {
	dup, err := s.Store.IngestBatch(ctx, b)
	if err == nil && !dup {
		s.observe(*b)
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
		if err := s.q.Consume(ctx, s.Store.IngestBatch); err != nil {
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
// the report schedule) until held ends. A node that lost the lease stops without saving; one
// that shuts down flushes and saves first, still holding it.
func (s *Service) lead(ctx, held context.Context) {
	followed := make(chan struct{})
	if s.js != nil {
		after, err := s.restoreShared(held)
		if err != nil {
			s.log.Error("aggregation state not loaded; leaving the lease to another node", "err", err)
			sleepCtx(held, s.leaseTTL())
			return
		}
		go func() {
			defer close(followed)
			err := s.js.Follow(held, after, func(seq uint64, b *store.Batch) error {
				s.mu.Lock()
				defer s.mu.Unlock()
				s.observe(*b)
				s.fed = seq
				return nil
			})
			if err != nil {
				s.log.Error("aggregation feed", "err", err)
			}
		}()
	} else {
		close(followed)
	}
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
			n, err := s.Store.Retain(held, time.Now().AddDate(0, 0, -s.cfg.Store.RetentionDays))
			if n > 0 {
				s.log.Info("retention", "deleted", n)
			}
			if err != nil && held.Err() == nil {
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

// flushShared is Flush, then, on a cluster, saving the aggregation state
// with the stream sequence it holds, so the next leader resumes there.
func (s *Service) flushShared(ctx context.Context) error {
	if err := s.Flush(ctx, time.Now()); err != nil {
		return err
	}
	if s.js == nil {
		return nil
	}
	s.mu.Lock()
	data, err := s.Agg.MarshalBinary()
	seq := s.fed
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.js.SaveState(ctx, aggregateState, append(binary.BigEndian.AppendUint64(nil, seq), data...))
}

// restoreShared loads the aggregation state the last leader saved and
// returns the stream sequence it holds batches up to. Without a saved
// state the aggregator starts empty, from the stream's start.
func (s *Service) restoreShared(ctx context.Context) (uint64, error) {
	data, err := s.js.LoadState(ctx, aggregateState)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := uint64(0)
	snapshot := s.emptyAggregate
	if data != nil {
		if len(data) < 8 {
			return 0, errors.New("aggregation state: truncated")
		}
		seq, snapshot = binary.BigEndian.Uint64(data), data[8:]
	}
	if err := s.Agg.UnmarshalBinary(snapshot); err != nil {
		return 0, fmt.Errorf("aggregation state: %w", err)
	}
	s.fed = seq
	s.lastIndicators = nil
	// Changes the last leader had not stored are not in the state: store
	// every live campaign again.
	now := time.Now()
	if err := s.putCampaigns(ctx, s.Agg.Campaigns(now.Add(-s.Agg.Config().CampaignTTL)), now); err != nil {
		return 0, err
	}
	return seq, nil
}

// Settled reports whether every batch published so far is stored and,
// on the node that leads the shared work, seen by the aggregator. On one
// node with the in-process queue it is always true.
func (s *Service) Settled(ctx context.Context) (bool, error) {
	if s.js == nil {
		return true, nil
	}
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
	return s.fed >= last, nil
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
