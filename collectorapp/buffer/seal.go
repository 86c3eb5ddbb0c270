package buffer

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/oklog/ulid/v2"
)

// SealMeta is what a batch carries besides its records.
type SealMeta struct {
	CollectorID string
	MemberID    string
	// Health returns the health snapshot for the batch; nil means none. It
	// is called only when a batch is about to be sealed, outside the
	// buffer's lock, so it may call Stats.
	Health func() *detect.Health
	// AllowEmpty seals a batch even when no record is pending, so health
	// still leaves when nothing else does.
	AllowEmpty bool
}

// wireBatch marshals exactly as detect.Batch does. Summaries stay raw: the
// pipeline stored them as json.Marshal wrote them, and json.Marshal writes a
// RawMessage compacted, as it would write the FlowSummary itself.
type wireBatch struct {
	BatchID     string            `json:"batch_id"`
	CollectorID string            `json:"collector_id"`
	MemberID    string            `json:"member_id"`
	Seq         uint64            `json:"seq"`
	Created     time.Time         `json:"created"`
	Detections  []json.RawMessage `json:"detections"`
	Summaries   []json.RawMessage `json:"summaries"`
	Health      *detect.Health    `json:"health,omitempty"`
}

// Seal moves the oldest pending records, at most Options.BatchRecords of them
// and BatchBytes of JSON (but always at least one), into one sealed batch in
// the outbox. The batch and the removal of its records are one transaction.
// sealed is false when there was nothing to seal.
func (b *Buffer) Seal(ctx context.Context, meta SealMeta) (sealed bool, err error) {
	if b.closed.Load() {
		return false, fmt.Errorf("buffer: seal: %w", ErrClosed)
	}
	if !meta.AllowEmpty && b.pending.Load() == 0 {
		return false, nil
	}
	var health *detect.Health
	if meta.Health != nil {
		health = meta.Health()
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return false, fmt.Errorf("buffer: seal: %w", ErrClosed)
	}
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return false, b.wrap("seal", err)
	}
	res, err := b.sealTx(ctx, tx, meta, health)
	if err != nil {
		tx.Rollback()
		return false, b.wrap("seal", err)
	}
	if res.seq == 0 {
		return false, b.wrap("seal", tx.Rollback())
	}
	if err := tx.Commit(); err != nil {
		return false, b.wrap("seal", err)
	}
	b.seq = res.seq
	b.pending.Add(-res.records)
	b.pendingBytes.Add(-res.bytes)
	b.sealed.Add(1)
	b.droppedInvalid.Add(res.invalid)
	notify(b.ready)
	if err := b.trimLocked(ctx); err != nil {
		b.log.Error("buffer: enforcing the size bound", "path", b.path, "err", err)
	}
	return true, nil
}

type sealResult struct {
	seq            uint64 // 0: nothing sealed
	records, bytes int64  // taken from the pending records
	invalid        int64  // of those, dropped as not JSON
}

func (b *Buffer) sealTx(ctx context.Context, tx *sql.Tx, meta SealMeta, health *detect.Health) (sealResult, error) {
	rows, err := tx.QueryContext(ctx, "SELECT id, kind, payload FROM records ORDER BY id LIMIT ?", b.opts.BatchRecords)
	if err != nil {
		return sealResult{}, err
	}
	defer rows.Close()

	// Payloads are copied into one arena; the slices into it are cut only
	// once it has stopped growing.
	type ref struct {
		kind       Kind
		start, end int
	}
	arena := b.arena[:0]
	var refs []ref
	var lastID int64
	for rows.Next() {
		var id, kind int64
		var p sql.RawBytes
		if err := rows.Scan(&id, &kind, &p); err != nil {
			return sealResult{}, err
		}
		if len(refs) > 0 && len(arena)+len(p) > b.opts.BatchBytes {
			break
		}
		refs = append(refs, ref{Kind(kind), len(arena), len(arena) + len(p)})
		arena = append(arena, p...)
		lastID = id
	}
	if err := rows.Err(); err != nil {
		return sealResult{}, err
	}
	rows.Close()
	b.arena = arena
	if len(refs) == 0 && !meta.AllowEmpty {
		return sealResult{}, nil
	}

	created := time.Now().UTC()
	ms := max(ulid.Timestamp(created), b.lastMs) // ULIDs never go back, even if the clock does
	id, err := ulid.New(ms, b.entropy)
	if err != nil {
		return sealResult{}, fmt.Errorf("batch id: %w", err)
	}
	w := wireBatch{
		BatchID:     id.String(),
		CollectorID: meta.CollectorID,
		MemberID:    meta.MemberID,
		Seq:         b.seq + 1,
		Created:     created,
		Detections:  []json.RawMessage{},
		Summaries:   []json.RawMessage{},
		Health:      health,
	}
	var invalid int64
	var sums []detect.FlowSummary
	merged := map[detect.FlowSummary]int{} // key (count zero) -> index in sums
	for _, r := range refs {
		p := json.RawMessage(arena[r.start:r.end:r.end])
		if r.kind != KindSummary {
			w.Detections = append(w.Detections, p)
			continue
		}
		// The pipeline commits partial counts often, for durability; a
		// batch carries one summary per key, with the counts added up.
		var s detect.FlowSummary
		if err := json.Unmarshal(p, &s); err != nil {
			invalid++
			continue
		}
		k := s
		k.Count = 0
		if i, ok := merged[k]; ok {
			sums[i].Count += s.Count
			continue
		}
		merged[k] = len(sums)
		sums = append(sums, s)
	}
	for i := range sums {
		p, err := json.Marshal(&sums[i])
		if err != nil {
			return sealResult{}, fmt.Errorf("summary JSON: %w", err)
		}
		w.Summaries = append(w.Summaries, p)
	}
	if invalid > 0 {
		if err := addState(ctx, tx, "dropped_invalid", invalid); err != nil {
			return sealResult{}, err
		}
	}
	raw, err := json.Marshal(w)
	if err != nil {
		// Commit checks only a payload's shape; drop and count the
		// detections that are not JSON, so they cannot stall every later
		// seal. Summaries were decoded above.
		kept := w.Detections[:0]
		var bad int64
		for _, d := range w.Detections {
			if json.Valid(d) {
				kept = append(kept, d)
			} else {
				bad++
			}
		}
		w.Detections = kept
		if bad == 0 {
			return sealResult{}, fmt.Errorf("batch JSON: %w", err)
		}
		if err := addState(ctx, tx, "dropped_invalid", bad); err != nil {
			return sealResult{}, err
		}
		invalid += bad
		if raw, err = json.Marshal(w); err != nil {
			return sealResult{}, fmt.Errorf("batch JSON: %w", err)
		}
	}
	if invalid > 0 {
		b.log.Error("buffer: dropped records that are not valid JSON", "path", b.path, "records", invalid, "batch", w.BatchID)
	}
	body := b.enc.EncodeAll(raw, make([]byte, 0, len(raw)/4))

	if _, err := tx.ExecContext(ctx,
		"INSERT INTO outbox (batch_id, seq, created, records, raw_bytes, body) VALUES (?, ?, ?, ?, ?, ?)",
		w.BatchID, int64(w.Seq), created.UnixNano(), int64(len(refs))-invalid, len(raw), body); err != nil {
		return sealResult{}, err
	}
	if len(refs) > 0 {
		if _, err := tx.ExecContext(ctx, "DELETE FROM records WHERE id <= ?", lastID); err != nil {
			return sealResult{}, err
		}
	}
	if _, err := tx.ExecContext(ctx, "UPDATE state SET value = ? WHERE key = 'seq'", int64(w.Seq)); err != nil {
		return sealResult{}, err
	}
	b.lastMs = ms
	return sealResult{seq: w.Seq, records: int64(len(refs)), bytes: int64(len(arena)), invalid: invalid}, nil
}

// SealPolicy says when RunSealer seals.
type SealPolicy struct {
	// MaxAge seals pending records once the oldest is this old, even if
	// they do not fill a batch. Default 10s.
	MaxAge time.Duration
	// HealthEvery seals a batch, empty if need be, when none was sealed for
	// this long, so health leaves regularly. Zero: never an empty batch.
	HealthEvery time.Duration
}

// RunSealer seals until ctx is done: whenever a full batch is pending (by
// Options.BatchRecords or BatchBytes), when the oldest pending record is
// p.MaxAge old, and every p.HealthEvery at least. On return it seals what is
// still pending, so a graceful shutdown leaves nothing unsealed. Seal errors
// are logged and retried at the next tick. RunSealer returns when ctx is
// done, with the error of that last seal if any, or ErrClosed when the
// Buffer is closed under it. meta.AllowEmpty is
// ignored: p.HealthEvery decides when an empty batch goes. Run one per
// Buffer.
func (b *Buffer) RunSealer(ctx context.Context, p SealPolicy, meta SealMeta) error {
	if p.MaxAge <= 0 {
		p.MaxAge = 10 * time.Second
	}
	period := p.MaxAge / 4
	if p.HealthEvery > 0 {
		period = min(period, p.HealthEvery/4)
	}
	period = max(period, 10*time.Millisecond)
	tick := time.NewTicker(period)
	defer tick.Stop()
	meta.AllowEmpty = false
	lastSeal := time.Now()

	for {
		select {
		case <-ctx.Done():
			return b.flush(context.WithoutCancel(ctx), meta)
		case <-b.full:
		case <-tick.C:
		}
		n, err := b.sealDue(ctx, p.MaxAge, meta)
		if err != nil {
			if errors.Is(err, ErrClosed) {
				return err
			}
			b.log.Error("buffer: sealing", "path", b.path, "err", err)
			continue
		}
		if n > 0 {
			lastSeal = time.Now()
			continue
		}
		if p.HealthEvery > 0 && time.Since(lastSeal) >= p.HealthEvery {
			m := meta
			m.AllowEmpty = true
			if _, err := b.Seal(ctx, m); err != nil {
				b.log.Error("buffer: sealing a health batch", "path", b.path, "err", err)
				continue
			}
			lastSeal = time.Now()
		}
	}
}

// sealDue seals while a full batch is pending or the oldest record is due.
func (b *Buffer) sealDue(ctx context.Context, maxAge time.Duration, meta SealMeta) (int, error) {
	n := 0
	for ctx.Err() == nil {
		full := b.pending.Load() >= int64(b.opts.BatchRecords) || b.pendingBytes.Load() >= int64(b.opts.BatchBytes)
		if !full {
			oldest, err := b.oldestPending(ctx)
			if err != nil || oldest.IsZero() || time.Since(oldest) < maxAge {
				return n, err
			}
		}
		sealed, err := b.Seal(ctx, meta)
		if err != nil || !sealed {
			return n, err
		}
		n++
	}
	return n, nil
}

// flush seals everything pending.
func (b *Buffer) flush(ctx context.Context, meta SealMeta) error {
	for {
		sealed, err := b.Seal(ctx, meta)
		if err != nil || !sealed {
			return err
		}
	}
}

// oldestPending returns the creation time of the oldest pending record, or
// the zero time when none is pending.
func (b *Buffer) oldestPending(ctx context.Context) (time.Time, error) {
	var ns int64
	err := b.db.QueryRowContext(ctx, "SELECT created FROM records ORDER BY id LIMIT 1").Scan(&ns)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, b.wrap("oldest pending", err)
	}
	return time.Unix(0, ns), nil
}
