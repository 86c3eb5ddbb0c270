package service

import (
	"context"
	"errors"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/aggregate"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// replayChunk is the span of event time a rebuild feeds the aggregator at
// one processing time.
const replayChunk = time.Hour

// chunk is the stored data of [start, end), as observations.
type chunk struct {
	start, end time.Time
	obs        []aggregate.Observation
	detections int
	summaries  int
}

// rebuild feeds the aggregator every detection last seen, and summary
// whose minute is, at or after since, in order of event time, an hour at
// a time; each hour arrives at its end (now, if that is later), so that
// what the aggregator keeps, and evicts, is what it kept as the data
// arrived, and its state stays as small as it was then. Fed all at one
// instant, a month of data would all be kept at once. One goroutine reads
// the store while this one aggregates. It feeds the rows stored when it
// starts, up to the store's last ids then, and returns those ids: the
// position to follow the store from, while batches may be stored
// meanwhile (on a cluster).
func (s *Service) rebuild(ctx context.Context, since, now time.Time) (detections, summaries int, pos fedPosition, err error) {
	if pos.detection, pos.summary, err = s.Store.LastIDs(ctx); err != nil {
		return 0, 0, pos, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan chunk, 2)
	// Chunks' buffers go back to the reader: grown afresh for every
	// chunk, they were a tenth of a rebuild's time.
	free := make(chan []aggregate.Observation, cap(chunks)+2)
	read := make(chan error, 1)
	go func() {
		defer close(chunks)
		read <- s.readChunks(ctx, since, now, pos, chunks, free)
	}()
	for c := range chunks {
		at := c.end
		if at.After(now) {
			at = now
		}
		s.addReplayed(at, c.obs)
		select {
		case free <- c.obs[:0]:
		default:
		}
		detections, summaries = detections+c.detections, summaries+c.summaries
	}
	s.Agg.Advance(now)
	return detections, summaries, pos, <-read
}

// addReplayed adds obs at processing time at. Stored rows were checked
// when they were ingested, so an observation the aggregator refuses is
// logged and left out, not the hour with it.
func (s *Service) addReplayed(at time.Time, obs []aggregate.Observation) {
	for {
		err := s.Agg.AddAt(at, obs)
		var be *aggregate.BatchError
		if !errors.As(err, &be) {
			return
		}
		s.log.Warn("aggregation refused a stored row", "member", obs[be.Index].Member, "err", be.Err)
		obs = append(obs[:be.Index], obs[be.Index+1:]...)
	}
}

// readChunks sends the chunks from since on, of the rows with ids up to
// upTo's: detections as the store replays them, and with each chunk the
// summaries of its span, the last chunk taking the summaries after it too.
// A chunk before a gap in the detections spans the gap, so that a month's
// gap is not read an hour at a time.
func (s *Service) readChunks(ctx context.Context, since, now time.Time, upTo fedPosition, out chan<- chunk, free <-chan []aggregate.Observation) error {
	next := func(start, end time.Time) chunk {
		c := chunk{start: start, end: end}
		select {
		case c.obs = <-free:
		default:
		}
		return c
	}
	cur := next(since, since.Truncate(replayChunk).Add(replayChunk))
	// send completes cur with its summaries and sends it; last takes
	// every summary from its start on.
	send := func(last bool) error {
		until := cur.end
		if last {
			until = time.Time{}
		}
		f := store.SummaryFilter{Since: cur.start, Until: until, Limit: store.MaxLimit}
		for {
			ss, err := s.Store.Summaries(ctx, f)
			if err != nil {
				return err
			}
			for i := range ss {
				if ss[i].ID <= upTo.summary {
					cur.obs = append(cur.obs, aggregate.SummaryObservation(ss[i].MemberID, &ss[i].FlowSummary))
					cur.summaries++
				}
			}
			if len(ss) < f.Limit {
				break
			}
			f.After = ss[len(ss)-1].ID
		}
		select {
		case out <- cur:
		case <-ctx.Done():
			return ctx.Err()
		}
		cur = next(cur.end, cur.end.Add(replayChunk))
		return nil
	}
	err := s.Store.Replay(ctx, since, time.Time{}, func(page []store.Replayed) error {
		for i := range page {
			d := &page[i]
			if d.ID > upTo.detection {
				continue // stored since the rebuild began
			}
			for !d.LastSeen.Before(cur.end) {
				if h := d.LastSeen.Truncate(replayChunk); cur.detections == 0 && h.After(cur.end) {
					cur.end = h
				}
				if err := send(false); err != nil {
					return err
				}
			}
			o := aggregate.Observation{Member: d.MemberID, Techniques: d.Techniques, RuleID: d.RuleID,
				Port: d.DestinationPort, Count: d.Count, First: d.FirstSeen, Last: d.LastSeen, Kind: aggregate.KindDetection}
			cur.obs = aggregate.AppendSources(cur.obs, o, d.Source, d.Related)
			cur.detections++
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Hours up to now that hold summaries alone, then the rest.
	for cur.end.Before(now) {
		if err := send(false); err != nil {
			return err
		}
	}
	return send(true)
}
