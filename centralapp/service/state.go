package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/aggregate"
)

// One SQLite node keeps its aggregation state in data_dir/aggregate.state:
// stateMagic, the store position the state covers (fedPosition.append),
// then the aggregator's snapshot. It is saved at every publish tick and at
// Close; on open the node loads it and feeds the aggregator what was
// stored after the position, so a node killed between saves resumes
// exactly. Files before stateMagic held the snapshot alone, without a
// position: the state is then rebuilt from the store.
const stateMagic = "cyberalarm aggregate v2\n"

func (s *Service) snapshotPath() string { return filepath.Join(s.cfg.DataDir, "aggregate.state") }

// observedPosition is the highest detection and summary ids fed to the
// aggregator as their batches were stored; batches are fed concurrently.
type observedPosition struct{ detection, summary atomic.Int64 }

// note raises the position to a stored batch's last ids.
func (p *observedPosition) note(detection, summary int64) {
	for v := p.detection.Load(); detection > v && !p.detection.CompareAndSwap(v, detection); v = p.detection.Load() {
	}
	for v := p.summary.Load(); summary > v && !p.summary.CompareAndSwap(v, summary); v = p.summary.Load() {
	}
}

func (p *observedPosition) load() fedPosition {
	return fedPosition{detection: p.detection.Load(), summary: p.summary.Load()}
}

func (p *observedPosition) store(pos fedPosition) {
	p.detection.Store(pos.detection)
	p.summary.Store(pos.summary)
}

// savedState is the position the state file holds, so that a save with
// nothing new fed is skipped.
type savedState struct {
	mu  sync.Mutex // serialises saves
	pos fedPosition
	ok  bool
}

// restoreAggregate loads the aggregation state saved at the last publish
// tick or shutdown and feeds the aggregator what was stored after the
// position it covers. Without a usable state it rebuilds the state from
// what the store holds within the aggregation's horizon.
func (s *Service) restoreAggregate(ctx context.Context) error {
	start := time.Now()
	s.removeTempStates()
	data, err := os.ReadFile(s.snapshotPath())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := s.loadState(data); err != nil {
		if data != nil {
			s.log.Warn("aggregation state not restored; rebuilding it from the store", "err", err)
		}
		if err := s.rebuildFromStore(ctx); err != nil {
			return err
		}
	} else {
		loaded := time.Now()
		ds, ss, err := s.catchUp(ctx, time.Time{})
		if err != nil {
			return fmt.Errorf("aggregation feed: %w", err)
		}
		s.log.Info("aggregation state restored", "from", "state file", "replayed_detections", ds, "replayed_summaries", ss,
			"load", loaded.Sub(start).Round(time.Millisecond), "replay", time.Since(loaded).Round(time.Millisecond))
	}
	s.observed.store(s.fed)
	return s.storeLiveCampaigns(ctx)
}

// rebuildFromStore replaces the aggregation state, and its position, with
// one rebuilt from what the store holds within the aggregation's horizon.
func (s *Service) rebuildFromStore(ctx context.Context) error {
	start := time.Now()
	if err := s.Agg.UnmarshalBinary(s.emptyAggregate); err != nil {
		return err
	}
	ds, ss, fed, err := s.rebuild(ctx, rebuildSince(s.Agg.Config(), start), start)
	if err != nil {
		return fmt.Errorf("aggregation rebuild: %w", err)
	}
	s.fed = fed
	s.log.Info("aggregation state rebuilt from the store", "detections", ds, "summaries", ss,
		"took", time.Since(start).Round(time.Millisecond))
	return nil
}

// storeLiveCampaigns stores every live campaign again after the state was
// loaded or rebuilt: changes not yet stored when it was saved are not in
// it.
func (s *Service) storeLiveCampaigns(ctx context.Context) error {
	now := time.Now()
	return s.putCampaigns(ctx, s.Agg.Campaigns(now.Add(-s.Agg.Config().CampaignTTL)), now)
}

// rebuildSince is the earliest event time a rebuild from the store feeds:
// the longest span the aggregator keeps anything for, the trend baseline
// included.
func rebuildSince(c aggregate.Config, now time.Time) time.Time {
	return now.Add(-max(c.CampaignTTL, c.Window+c.Lateness, c.Emerging, time.Duration(c.BaselineDays+1)*24*time.Hour))
}

// loadState restores the aggregator and its position from a state file's
// data; nil data is os.ErrNotExist.
func (s *Service) loadState(data []byte) error {
	rest, ok := bytes.CutPrefix(data, []byte(stateMagic))
	switch {
	case data == nil:
		return os.ErrNotExist
	case !ok:
		return errors.New("state file of an older version, without the store position")
	case len(rest) < positionBytes:
		return errors.New("state file truncated")
	}
	if err := s.Agg.UnmarshalBinary(rest[positionBytes:]); err != nil {
		return err
	}
	s.fed = parsePosition(rest)
	s.saved.pos, s.saved.ok = s.fed, true
	return nil
}

// soloState returns a snapshot of the aggregator and the position it
// covers, taken while no batch is between the store and the aggregator:
// ingest waits for the snapshot to be taken, not for its encoding to be
// finished and written.
func (s *Service) soloState() (fedPosition, *aggregate.Snapshot) {
	s.ingestMu.Lock()
	defer s.ingestMu.Unlock()
	return s.observed.load(), s.Agg.Snapshot()
}

// saveAggregate writes the aggregation state and its position to the
// state file atomically, unless nothing was fed since the last save.
func (s *Service) saveAggregate() error {
	s.saved.mu.Lock()
	defer s.saved.mu.Unlock()
	if s.saved.ok && s.observed.load() == s.saved.pos {
		return nil
	}
	start := time.Now()
	pos, snap := s.soloState()
	pause := time.Since(start)
	data, err := snap.AppendBinary(pos.append([]byte(stateMagic)))
	if err != nil {
		return err
	}
	if err := writeFileSync(s.snapshotPath(), data); err != nil {
		return fmt.Errorf("saving aggregation state: %w", err)
	}
	s.saved.pos, s.saved.ok = pos, true
	s.log.Debug("aggregation state saved", "bytes", len(data), "ingest_pause", pause, "took", time.Since(start))
	return nil
}

// tempStates matches the temporary files writeFileSync makes for the
// state file.
const tempStates = "aggregate.state.*.tmp"

// removeTempStates removes what a save cut short left.
func (s *Service) removeTempStates() {
	leftovers, _ := filepath.Glob(filepath.Join(s.cfg.DataDir, tempStates))
	for _, p := range leftovers {
		os.Remove(p)
	}
}

// writeFileSync replaces path with data through a synced temporary file,
// and syncs the directory so the rename is durable too: a crash leaves the
// old file or the new one.
func writeFileSync(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
