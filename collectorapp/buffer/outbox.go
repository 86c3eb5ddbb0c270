package buffer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Oldest returns the oldest sealed batch that is neither delivered nor
// quarantined: its batch id and its body, the zstd-compressed batch JSON to
// POST as is. ok is false when the outbox is empty; then wait on Ready. It
// returns the same batch until Delivered or Quarantine moves it on (or the
// size bound drops it).
func (b *Buffer) Oldest(ctx context.Context) (id string, body []byte, ok bool, err error) {
	if b.closed.Load() {
		return "", nil, false, fmt.Errorf("buffer: oldest: %w", ErrClosed)
	}
	err = b.stmtOldest.QueryRowContext(ctx).Scan(&id, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, b.wrap("oldest", err)
	}
	return id, body, true, nil
}

// Delivered deletes a batch central has accepted (or reported a duplicate).
// An id that is not in the outbox is not an error: the size bound may have
// dropped it meanwhile, and that drop was counted.
func (b *Buffer) Delivered(id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return fmt.Errorf("buffer: delivered: %w", ErrClosed)
	}
	res, err := b.db.Exec("DELETE FROM outbox WHERE batch_id = ?", id)
	if err != nil {
		return b.wrap("delivered "+id, err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		b.sealed.Add(-n)
	}
	return nil
}

// Quarantine moves a batch central rejected for good (a 4xx) out of the send
// queue into the quarantine table, with the status and the reason, and
// counts it. It stays on disk for people to look at. As with Delivered, an
// id no longer in the outbox is not an error. reason is cut to 4 KiB.
func (b *Buffer) Quarantine(id string, status int, reason string) error {
	if len(reason) > maxReason {
		reason = strings.ToValidUTF8(reason[:maxReason], "")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return fmt.Errorf("buffer: quarantine: %w", ErrClosed)
	}
	op := fmt.Sprintf("quarantine %s (status %d)", id, status)
	ctx := context.Background()
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return b.wrap(op, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO quarantine
		(batch_id, seq, created, records, raw_bytes, body, quarantined, status, reason)
		SELECT batch_id, seq, created, records, raw_bytes, body, ?, ?, ?
		FROM outbox WHERE batch_id = ?`, time.Now().UnixNano(), status, reason, id)
	if err != nil {
		return b.wrap(op, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM outbox WHERE batch_id = ?", id); err != nil {
		return b.wrap(op, err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE state SET value = value + 1 WHERE key = 'quarantined'"); err != nil {
		return b.wrap(op, err)
	}
	if err := tx.Commit(); err != nil {
		return b.wrap(op, err)
	}
	b.sealed.Add(-1)
	b.quarantined.Add(1)
	b.quarantinedTotal.Add(1)
	return nil
}

const maxReason = 4 << 10

// Ready is signalled after a batch is sealed (and at Open when the outbox is
// not empty). It holds one signal at most, for one forwarder: after a
// receive, drain Oldest until ok is false before waiting again.
func (b *Buffer) Ready() <-chan struct{} { return b.ready }
