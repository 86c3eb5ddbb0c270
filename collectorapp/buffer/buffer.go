package buffer

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
	sqlite3 "github.com/mattn/go-sqlite3"
	"github.com/oklog/ulid/v2"
	"github.com/pressly/goose/v3"
)

// Defaults for zero Options fields.
const (
	DefaultMaxBytes     = 1 << 30 // 1 GiB
	DefaultBatchRecords = 1000
	DefaultBatchBytes   = 1 << 20 // 1 MiB of JSON before compression
	DefaultBusyTimeout  = 5 * time.Second

	// MinMaxBytes is the smallest bound accepted: below it the WAL
	// allowance and SQLite's own pages leave no room for data.
	MinMaxBytes = 256 << 10
)

// Errors a caller can test for with errors.Is. The returned errors wrap these
// and SQLite's own error, and name the operation and the file.
var (
	ErrClosed   = errors.New("buffer is closed")
	ErrDiskFull = errors.New("disk full")
	ErrReadOnly = errors.New("buffer file is read-only")
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options configure a Buffer. Only Path is required.
type Options struct {
	// Path is the database file. Its directory must exist and be writable:
	// SQLite keeps its -wal and -shm files beside it.
	Path string
	// MaxBytes bounds the disk the buffer uses (database and WAL). When it
	// is reached the oldest data is dropped and counted. Default 1 GiB;
	// at least MinMaxBytes.
	MaxBytes int64
	// BatchRecords and BatchBytes cap one sealed batch: at most this many
	// records, and records until their JSON reaches this many bytes.
	BatchRecords int
	BatchBytes   int
	// BusyTimeout is how long a statement waits for a lock held by another
	// process. Default 5s.
	BusyTimeout time.Duration
	// Logger receives errors the buffer handles itself, such as a failed
	// trim after a committed write. Default: discarded.
	Logger *slog.Logger

	// pragmas run on every new connection after the buffer's own; tests use
	// it to cap the file with max_page_count, as a full disk would.
	pragmas []string
	// query is appended to the SQLite URI; tests use it for mode=ro.
	query string
}

// Buffer is the collector's durable store. See the package documentation.
type Buffer struct {
	db   *sql.DB
	path string
	opts Options
	log  *slog.Logger

	pageSize  int64
	dataLimit int64 // bound on page_count*page_size; MaxBytes less the WAL allowance

	// writer is the connection Commit writes on, through the driver's own
	// statements (see commitRaw); args is their reused argument slice.
	writer       *sql.Conn
	insert       *sqlite3.SQLiteStmt
	upsertOffset *sqlite3.SQLiteStmt
	args         []driver.NamedValue
	stmtOldest   *sql.Stmt

	ready chan struct{} // a batch was sealed
	full  chan struct{} // a full batch is pending

	closed atomic.Bool

	// Counters mirrored from the database so Stats and the sealer need not
	// scan tables. They change only under mu, after the commit.
	pending      atomic.Int64
	pendingBytes atomic.Int64
	sealed       atomic.Int64
	quarantined  atomic.Int64 // batches in quarantine now

	// Persistent totals, mirrored from the state table.
	droppedRecords     atomic.Int64
	droppedBatches     atomic.Int64
	droppedQuarantined atomic.Int64
	droppedInvalid     atomic.Int64
	quarantinedTotal   atomic.Int64

	mu      sync.Mutex // serialises writes and guards what follows
	seq     uint64
	lastMs  uint64
	entropy *ulid.MonotonicEntropy
	enc     *zstd.Encoder
	arena   []byte
}

// Open opens or creates the buffer at opts.Path and brings its schema up to
// date.
func Open(opts Options) (*Buffer, error) {
	if opts.Path == "" {
		return nil, errors.New("buffer: no path given")
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxBytes < MinMaxBytes {
		return nil, fmt.Errorf("buffer: max bytes %d is below the minimum %d", opts.MaxBytes, MinMaxBytes)
	}
	if opts.BatchRecords <= 0 {
		opts.BatchRecords = DefaultBatchRecords
	}
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = DefaultBatchBytes
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = DefaultBusyTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := checkPath(opts.Path); err != nil {
		return nil, err
	}

	// The WAL gets a sixteenth of the bound: it is checkpointed at that
	// size and truncated back to it, and the data gets the rest.
	walLimit := min(max(opts.MaxBytes/16, 64<<10), 64<<20)
	const pageSize = 4096 // SQLite's default; the WAL sizes below need only be near
	hook := func(c *sqlite3.SQLiteConn) error {
		p := []string{
			fmt.Sprintf("PRAGMA journal_size_limit = %d", walLimit),
			fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", max(walLimit/pageSize, 16)),
		}
		for _, q := range append(p, opts.pragmas...) {
			if _, err := c.Exec(q, nil); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	}
	// auto_vacuum only takes effect before the first table is created, so
	// it is in the DSN, which sets it on every connection as it opens.
	dsn := fmt.Sprintf("file:%s?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=%d&_txlock=immediate&_auto_vacuum=incremental",
		uriEscaper.Replace(opts.Path), opts.BusyTimeout.Milliseconds())
	if opts.query != "" {
		dsn += "&" + opts.query
	}
	db := sql.OpenDB(connector{driver: &sqlite3.SQLiteDriver{ConnectHook: hook}, dsn: dsn})
	// One connection writes (under mu); the others let the forwarder and
	// Stats read beside it, which WAL allows.
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)

	b := &Buffer{
		db:        db,
		path:      opts.Path,
		opts:      opts,
		log:       log,
		pageSize:  pageSize,
		dataLimit: opts.MaxBytes - walLimit,
		ready:     make(chan struct{}, 1),
		full:      make(chan struct{}, 1),
		entropy:   ulid.Monotonic(rand.Reader, 0),
	}
	if err := b.init(); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func (b *Buffer) init() error {
	ctx := context.Background()
	if err := b.db.PingContext(ctx); err != nil {
		return b.wrap("open", err)
	}
	var mode string
	if err := b.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return b.wrap("open", err)
	}
	if mode != "wal" {
		return fmt.Errorf("buffer: open %s: journal mode is %q, not wal", b.path, mode)
	}
	// Take the write lock once, so a read-only file fails here, clearly,
	// rather than at the first append.
	if err := b.probeWrite(ctx); err != nil {
		return err
	}
	if err := b.migrate(ctx); err != nil {
		return err
	}
	// Trimming relies on incremental auto-vacuum to shrink the file. A
	// file made without it (by another tool) is converted once.
	var av int
	if err := b.db.QueryRowContext(ctx, "PRAGMA auto_vacuum").Scan(&av); err != nil {
		return b.wrap("open", err)
	}
	if av != 2 {
		b.log.Warn("buffer: converting to incremental auto-vacuum", "path", b.path)
		if _, err := b.db.ExecContext(ctx, "PRAGMA auto_vacuum = INCREMENTAL"); err != nil {
			return b.wrap("open", err)
		}
		if _, err := b.db.ExecContext(ctx, "VACUUM"); err != nil {
			return b.wrap("vacuum", err)
		}
	}
	var ps int64
	if err := b.db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&ps); err != nil {
		return b.wrap("open", err)
	}
	b.pageSize = ps
	if err := b.load(ctx); err != nil {
		return err
	}
	var err error
	if b.writer, err = b.db.Conn(ctx); err != nil {
		return b.wrap("open", err)
	}
	err = b.writer.Raw(func(dc any) error {
		c := dc.(*sqlite3.SQLiteConn)
		ins, err := c.Prepare("INSERT INTO records (kind, created, payload) VALUES (?, ?, ?)")
		if err != nil {
			return err
		}
		b.insert = ins.(*sqlite3.SQLiteStmt)
		up, err := c.Prepare(`INSERT INTO offsets (key, dev, ino, head, offset) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET dev = excluded.dev, ino = excluded.ino, head = excluded.head, offset = excluded.offset`)
		if err != nil {
			return err
		}
		b.upsertOffset = up.(*sqlite3.SQLiteStmt)
		return nil
	})
	if err != nil {
		return b.wrap("open", err)
	}
	if b.stmtOldest, err = b.db.PrepareContext(ctx,
		"SELECT batch_id, body FROM outbox ORDER BY id LIMIT 1"); err != nil {
		return b.wrap("open", err)
	}
	if b.enc, err = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1)); err != nil {
		return fmt.Errorf("buffer: zstd: %w", err)
	}
	if b.sealed.Load() > 0 {
		b.ready <- struct{}{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// The bound may have been lowered since the last run.
	if err := b.trimLocked(ctx); err != nil {
		return err
	}
	return nil
}

func (b *Buffer) probeWrite(ctx context.Context) error {
	tx, err := b.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: takes the write lock
	if err != nil {
		return b.wrap("open", err)
	}
	// An empty-database file is only known read-only when a page is
	// written; user_version is harmless to rewrite with its own value.
	var v int64
	if err = tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err == nil {
		_, err = tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v))
	}
	if err != nil {
		tx.Rollback()
		return b.wrap("open", err)
	}
	return b.wrap("open", tx.Commit())
}

func (b *Buffer) migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("buffer: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, b.db, fsys,
		goose.WithDisableGlobalRegistry(true), goose.WithSlog(b.log))
	if err != nil {
		return fmt.Errorf("buffer: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return b.wrap("migrate", err)
	}
	return nil
}

// load reads the persistent counters and sizes the tables once, at open.
func (b *Buffer) load(ctx context.Context) error {
	rows, err := b.db.QueryContext(ctx, "SELECT key, value FROM state")
	if err != nil {
		return b.wrap("open", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v int64
		if err := rows.Scan(&k, &v); err != nil {
			return b.wrap("open", err)
		}
		switch k {
		case "seq":
			b.seq = uint64(v)
		case "dropped_records":
			b.droppedRecords.Store(v)
		case "dropped_batches":
			b.droppedBatches.Store(v)
		case "dropped_quarantined":
			b.droppedQuarantined.Store(v)
		case "dropped_invalid":
			b.droppedInvalid.Store(v)
		case "quarantined":
			b.quarantinedTotal.Store(v)
		}
	}
	if err := rows.Err(); err != nil {
		return b.wrap("open", err)
	}
	var n, nb, s, q int64
	err = b.db.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM records), (SELECT coalesce(sum(length(payload)), 0) FROM records),
		(SELECT count(*) FROM outbox), (SELECT count(*) FROM quarantine)`).Scan(&n, &nb, &s, &q)
	if err != nil {
		return b.wrap("open", err)
	}
	b.pending.Store(n)
	b.pendingBytes.Store(nb)
	b.sealed.Store(s)
	b.quarantined.Store(q)
	return nil
}

// Close closes the database. Every committed write is already on disk; Close
// only checkpoints the WAL. Calls after Close return ErrClosed.
func (b *Buffer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Swap(true) {
		return nil
	}
	var errs []error
	if b.stmtOldest != nil {
		errs = append(errs, b.stmtOldest.Close())
	}
	if b.writer != nil {
		errs = append(errs, b.writer.Raw(func(any) error {
			var errs []error
			for _, s := range []*sqlite3.SQLiteStmt{b.insert, b.upsertOffset} {
				if s != nil {
					errs = append(errs, s.Close())
				}
			}
			return errors.Join(errs...)
		}), b.writer.Close())
	}
	if b.enc != nil {
		errs = append(errs, b.enc.Close())
	}
	errs = append(errs, b.db.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("buffer: close %s: %w", b.path, err)
	}
	return nil
}

// checkPath gives clear errors for the two mistakes SQLite reports only as
// "unable to open database file".
func checkPath(path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("buffer: directory %s does not exist", dir)
	case err != nil:
		return fmt.Errorf("buffer: directory %s: %w", dir, err)
	case !st.IsDir():
		return fmt.Errorf("buffer: %s is not a directory", dir)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("buffer: %s is a directory, not a database file", path)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	switch {
	case err == nil:
		return f.Close()
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("buffer: %s: %w: %w", path, ErrReadOnly, err)
	}
	return nil // missing: SQLite creates it
}

// wrap names the operation and the file, and adds the sentinel for the
// SQLite errors an operator can act on. It returns nil for nil.
func (b *Buffer) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrFull:
			return fmt.Errorf("buffer: %s %s: %w (nothing of this write was kept): %w", op, b.path, ErrDiskFull, err)
		case sqlite3.ErrReadonly:
			return fmt.Errorf("buffer: %s %s: %w: %w", op, b.path, ErrReadOnly, err)
		case sqlite3.ErrCantOpen:
			return fmt.Errorf("buffer: %s %s: cannot open the file or create its -wal and -shm files beside it (is the directory writable?): %w", op, b.path, err)
		}
	}
	return fmt.Errorf("buffer: %s %s: %w", op, b.path, err)
}

// uriEscaper escapes what SQLite's URI parser would otherwise read as
// query or fragment.
var uriEscaper = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// connector opens connections through a driver value of our own, so the
// connect hook needs no global sql.Register.
type connector struct {
	driver *sqlite3.SQLiteDriver
	dsn    string
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.driver.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.driver }

var _ driver.Connector = connector{}
