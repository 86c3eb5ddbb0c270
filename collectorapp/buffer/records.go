package buffer

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// Kind says which array of the batch a record goes to.
type Kind uint8

// Record kinds.
const (
	KindDetection Kind = 1 // a §3.2 detection object: detections[]
	KindSummary   Kind = 2 // a detect.FlowSummary: summaries[]
)

func (k Kind) String() string {
	switch k {
	case KindDetection:
		return "detection"
	case KindSummary:
		return "summary"
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Record is one outgoing item, already JSON-encoded by the pipeline.
type Record struct {
	Kind    Kind
	Created time.Time // when the pipeline made it; zero means now
	Payload []byte    // one JSON object; the buffer keeps a copy
}

// FileIdent identifies a tailed file across renames, so the tailer can tell
// a rotated or truncated file from the one it was reading.
type FileIdent struct {
	Dev uint64
	Ino uint64
	// Head is a fingerprint of the file's start (say, a hash of its first
	// line), opaque to the buffer; nil when the tailer does not use one.
	Head []byte
}

// Equal reports whether two idents name the same file.
func (f FileIdent) Equal(g FileIdent) bool {
	return f.Dev == g.Dev && f.Ino == g.Ino && bytes.Equal(f.Head, g.Head)
}

// Offset is a tailed file's read position: every line before Offset has been
// turned into records that are in the buffer.
type Offset struct {
	Key    string // the input's own name for the file, e.g. its configured path
	Ident  FileIdent
	Offset int64
}

// Append stores one record. Prefer AppendBatch: each call is a transaction.
func (b *Buffer) Append(rec Record) error {
	return b.Commit([]Record{rec}, nil)
}

// AppendBatch stores recs in one transaction: all of them or none.
func (b *Buffer) AppendBatch(recs []Record) error {
	return b.Commit(recs, nil)
}

// SaveOffset stores one file offset on its own.
func (b *Buffer) SaveOffset(key string, ident FileIdent, offset int64) error {
	return b.Commit(nil, []Offset{{Key: key, Ident: ident, Offset: offset}})
}

// Commit stores recs and offsets in one transaction: after a crash either
// the records are in the buffer and the offsets past the lines they came
// from, or neither. A record with an unknown kind, or a payload not shaped
// as one JSON object, is refused along with the whole call. A payload shaped
// like an object that is still not valid JSON is found when it is sealed,
// and dropped, logged and counted (Stats.DroppedInvalid), so it cannot stall
// the outbox.
func (b *Buffer) Commit(recs []Record, offsets []Offset) error {
	if len(recs) == 0 && len(offsets) == 0 {
		return nil
	}
	var size int64
	for i := range recs {
		r := &recs[i]
		if r.Kind != KindDetection && r.Kind != KindSummary {
			return fmt.Errorf("buffer: record %d: unknown kind %d", i, r.Kind)
		}
		if err := checkObject(r.Payload); err != nil {
			return fmt.Errorf("buffer: record %d (%s): %w", i, r.Kind, err)
		}
		size += int64(len(r.Payload))
	}
	for i := range offsets {
		if offsets[i].Key == "" {
			return fmt.Errorf("buffer: offset %d: empty key", i)
		}
		if offsets[i].Offset < 0 {
			return fmt.Errorf("buffer: offset %d (%s): negative offset %d", i, offsets[i].Key, offsets[i].Offset)
		}
	}
	now := time.Now().UnixNano()

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return fmt.Errorf("buffer: commit: %w", ErrClosed)
	}
	op := fmt.Sprintf("commit %d records, %d offsets", len(recs), len(offsets))
	if err := b.writer.Raw(func(dc any) error { return b.commitRaw(dc.(*sqlite3.SQLiteConn), recs, offsets, now) }); err != nil {
		return b.wrap(op, err)
	}
	ctx := context.Background()
	if len(recs) > 0 {
		n := b.pending.Add(int64(len(recs)))
		nb := b.pendingBytes.Add(size)
		if n >= int64(b.opts.BatchRecords) || nb >= int64(b.opts.BatchBytes) {
			notify(b.full)
		}
		// The write is committed, so a failed trim must not fail it: the
		// caller would write the records again.
		if err := b.trimLocked(ctx); err != nil {
			b.log.Error("buffer: enforcing the size bound", "path", b.path, "err", err)
		}
	}
	return nil
}

// commitRaw writes one transaction on the writer connection through the
// driver's own prepared statements, reusing one argument slice: database/sql
// would add a lock, argument conversion and allocations to every row.
func (b *Buffer) commitRaw(c *sqlite3.SQLiteConn, recs []Record, offsets []Offset, now int64) error {
	ctx := context.Background() // no Done channel: the driver runs the statement inline
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE", nil); err != nil {
		return err
	}
	err := b.insertRaw(ctx, recs, offsets, now)
	if err == nil {
		_, err = c.ExecContext(ctx, "COMMIT", nil)
	}
	if err != nil {
		// A failed COMMIT may leave the transaction open; ROLLBACK then
		// ends it, and otherwise fails harmlessly.
		c.ExecContext(ctx, "ROLLBACK", nil)
	}
	return err
}

func (b *Buffer) insertRaw(ctx context.Context, recs []Record, offsets []Offset, now int64) error {
	args := b.args[:0]
	args = append(args, driver.NamedValue{Ordinal: 1}, driver.NamedValue{Ordinal: 2}, driver.NamedValue{Ordinal: 3})
	for i := range recs {
		created := now
		if !recs[i].Created.IsZero() {
			created = recs[i].Created.UnixNano()
		}
		args[0].Value, args[1].Value, args[2].Value = int64(recs[i].Kind), created, recs[i].Payload
		if _, err := b.insert.ExecContext(ctx, args); err != nil {
			return err
		}
	}
	args = append(args, driver.NamedValue{Ordinal: 4}, driver.NamedValue{Ordinal: 5})
	for _, o := range offsets {
		args[0].Value, args[1].Value, args[2].Value = o.Key, int64(o.Ident.Dev), int64(o.Ident.Ino)
		args[3].Value, args[4].Value = o.Ident.Head, o.Offset
		if _, err := b.upsertOffset.ExecContext(ctx, args); err != nil {
			return err
		}
	}
	clear(args)
	b.args = args
	return nil
}

// Offset returns the stored offset for key; ok is false when there is none.
func (b *Buffer) Offset(key string) (off Offset, ok bool, err error) {
	if b.closed.Load() {
		return Offset{}, false, fmt.Errorf("buffer: offset: %w", ErrClosed)
	}
	var dev, ino int64
	off.Key = key
	err = b.db.QueryRow("SELECT dev, ino, head, offset FROM offsets WHERE key = ?", key).
		Scan(&dev, &ino, &off.Ident.Head, &off.Offset)
	if errors.Is(err, sql.ErrNoRows) {
		return Offset{}, false, nil
	}
	if err != nil {
		return Offset{}, false, b.wrap("offset "+key, err)
	}
	off.Ident.Dev, off.Ident.Ino = uint64(dev), uint64(ino)
	return off, true, nil
}

// checkObject checks that p has the shape of one JSON object. The full
// check is left to Seal, where building the batch parses every payload
// anyway; here it would cost half the time of the insert.
func checkObject(p []byte) error {
	p = bytes.TrimSpace(p)
	if len(p) < 2 || p[0] != '{' || p[len(p)-1] != '}' {
		return errors.New("payload is not a JSON object")
	}
	return nil
}

// notify does a non-blocking send on a one-slot channel: a pending signal
// already says everything a second one would.
func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
