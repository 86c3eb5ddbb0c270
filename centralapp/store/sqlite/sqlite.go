package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
	"github.com/pressly/goose/v3"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Defaults for zero Options fields.
const (
	DefaultBusyTimeout = 5 * time.Second
	DefaultReaders     = 4
	DefaultCacheMiB    = 64
)

// pageSize is the page size of new files. Detections are rows of about a
// kilobyte; 16 KiB pages write a batch in a quarter of the page writes of
// SQLite's 4 KiB default, and each page write is a system call.
const pageSize = 16384

// walBackstopPages is the writer's wal_autocheckpoint. The checkpointer
// (see checkpointer) copies the WAL into the database beside ingest, so the
// WAL stays far below this; the writer checkpoints itself, in its commit,
// only when the checkpointer falls this far behind: 64 MiB of 16 KiB pages.
const walBackstopPages = 4096

// Options configure a Store. Only Path is required.
type Options struct {
	// Path is the database file; SQLite keeps -wal and -shm files beside
	// it, so its directory must be writable.
	Path string
	// BusyTimeout bounds the wait for a lock held by another process.
	BusyTimeout time.Duration
	// Readers is the number of read connections.
	Readers int
	// CacheMiB is the page cache of each connection.
	CacheMiB int
	// Logger receives migration progress. Default: discarded.
	Logger *slog.Logger
}

// Store is the SQLite implementation of store.Store.
type Store struct {
	path string
	w    *sql.DB // one connection: SQLite has one writer, and the pool queues the rest
	r    *sql.DB // read-only pool, beside the writer thanks to WAL

	// Multi-row inserts, one per chunkRows size.
	insDetections, insSummaries inserts

	// ingests hands batches to the ingester goroutine (group commit);
	// closing ends it, and ingestDone tells it ended.
	ingests    chan *ingestReq
	closing    chan struct{}
	ingestDone chan struct{}

	// ck is the checkpointer's connection; wake asks it for a checkpoint
	// (see committed), and stop and done end it.
	ck       *sql.DB
	unsynced atomic.Int64 // bytes ingested since the last wake-up, roughly
	wake     chan struct{}
	stop     context.CancelFunc
	done     chan struct{}
	log      *slog.Logger

	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the store at opts.Path and migrates its schema.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Path == "" {
		return nil, errors.New("sqlite store: no path given")
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = DefaultBusyTimeout
	}
	if opts.Readers <= 0 {
		opts.Readers = DefaultReaders
	}
	if opts.CacheMiB <= 0 {
		opts.CacheMiB = DefaultCacheMiB
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dsn := fmt.Sprintf("file:%s?_synchronous=NORMAL&_busy_timeout=%d&_foreign_keys=1&_cache_size=%d",
		uriEscaper.Replace(opts.Path), opts.BusyTimeout.Milliseconds(), -opts.CacheMiB*1024)
	s := &Store{path: opts.Path, log: log}
	var err error
	// The writer keeps its statements prepared: ingest runs the same few
	// per batch, and preparing a small statement costs more than running
	// it. Its one connection goes without SQLite's mutex (_mutex=no), which
	// every call would take: database/sql never uses a connection from two
	// goroutines at once, and ingest makes a call per bound value.
	if s.w, err = sql.Open("sqlite3", dsn+"&_txlock=immediate&_stmt_cache_size=32&_mutex=no"); err != nil {
		return nil, s.wrap("open", err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	if err := s.init(ctx, log); err != nil {
		s.w.Close()
		return nil, err
	}
	// The read pool opens only after the writer made the file a WAL
	// database, so query_only connections never need to write to set up.
	// Its connections go without SQLite's mutex too: reading a row took it
	// for every column, most of a replay's time in SQLite.
	if s.r, err = sql.Open("sqlite3", dsn+"&_query_only=1&_mutex=no"); err != nil {
		s.Close()
		return nil, s.wrap("open", err)
	}
	s.r.SetMaxOpenConns(opts.Readers)
	s.r.SetMaxIdleConns(opts.Readers)
	if s.ck, err = sql.Open("sqlite3", dsn); err != nil {
		s.Close()
		return nil, s.wrap("open", err)
	}
	s.ck.SetMaxOpenConns(1)
	s.ck.SetMaxIdleConns(1)
	s.ck.SetConnMaxLifetime(0)
	ckCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.wake, s.stop, s.done = make(chan struct{}, 1), stop, make(chan struct{})
	go s.checkpointer(ckCtx)
	s.ingests, s.closing, s.ingestDone = make(chan *ingestReq), make(chan struct{}), make(chan struct{})
	go s.ingester()
	return s, nil
}

// checkpointer copies committed WAL frames into the database file on its
// own connection, woken every few megabytes of ingest. SQLite would
// otherwise do this in the writer's commit every wal_autocheckpoint pages,
// stalling ingest for the copy and its fsync; a PASSIVE checkpoint takes no
// writer lock, so here it runs beside the next batches. Wake-ups while it
// works coalesce into one more run.
func (s *Store) checkpointer(ctx context.Context) {
	defer close(s.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		// Without a context that can end, as the writer's statements: the
		// driver's cancellable path ran this pragma without checkpointing
		// under the race detector (see TestCheckpointer). Close waits for
		// one checkpoint at most.
		var busy, frames, copied int
		err := s.ck.QueryRowContext(context.WithoutCancel(ctx), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
		if err != nil && ctx.Err() == nil {
			// The writer's backstop checkpoints still bound the WAL.
			s.log.Warn("sqlite store: checkpoint", "path", s.path, "err", err)
		}
	}
}

// checkpointBytes is about how much committed ingest wakes the
// checkpointer: each checkpoint syncs the database file, which per small
// batch would cost more than it saves.
const checkpointBytes = 4 << 20

// committed counts n bytes of rows just committed and wakes the
// checkpointer each checkpointBytes, unless a wake-up is pending.
func (s *Store) committed(n int64) {
	if s.unsynced.Add(n) < checkpointBytes {
		return
	}
	s.unsynced.Store(0)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Store) init(ctx context.Context, log *slog.Logger) error {
	// page_size applies only to a new file, and only before it turns to
	// WAL, so it comes first; an existing file keeps its own.
	if _, err := s.w.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d", pageSize)); err != nil {
		return s.wrap("open", err)
	}
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return s.wrap("open", err)
	}
	if mode != "wal" {
		return fmt.Errorf("sqlite store: open %s: journal mode is %q, not wal", s.path, mode)
	}
	// A connection setting: should the pool ever replace the writer's
	// connection, the new one checkpoints at SQLite's default, which is
	// slower but as correct.
	if _, err := s.w.ExecContext(ctx, fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", walBackstopPages)); err != nil {
		return s.wrap("open", err)
	}
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite store: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.w, fsys,
		goose.WithDisableGlobalRegistry(true), goose.WithSlog(log))
	if err != nil {
		return fmt.Errorf("sqlite store: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return s.wrap("migrate", err)
	}
	// Each multi-row INSERT keeps the pages it changes in a journal, to
	// undo the statement alone should a row fail, and so does a batch's
	// savepoint. Past 64 KiB SQLite moves that journal to a temporary
	// file, which ingest then writes more than twice as much as the WAL.
	// In memory it holds one statement's or batch's pages at most. Set
	// after the migrations, whose index builds may sort more than memory
	// should hold.
	if _, err := s.w.ExecContext(ctx, "PRAGMA temp_store = MEMORY"); err != nil {
		return s.wrap("open", err)
	}
	for i, n := range chunkRows {
		if s.insDetections[i], err = s.w.PrepareContext(ctx, insertSQL("detections", detectionShared, detectionCols, n)); err != nil {
			return s.wrap("open", err)
		}
		if s.insSummaries[i], err = s.w.PrepareContext(ctx, insertSQL("summaries", summaryShared, summaryCols, n)); err != nil {
			return s.wrap("open", err)
		}
	}
	return nil
}

// Close closes the store's connections.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.closing != nil {
			close(s.closing)
			<-s.ingestDone
		}
		if s.stop != nil {
			s.stop()
			<-s.done
		}
		if s.ck != nil {
			errs = append(errs, s.ck.Close())
		}
		for _, st := range append(s.insDetections[:], s.insSummaries[:]...) {
			if st != nil {
				errs = append(errs, st.Close())
			}
		}
		if s.r != nil {
			errs = append(errs, s.r.Close())
		}
		errs = append(errs, s.w.Close())
		if err := errors.Join(errs...); err != nil {
			s.closeErr = s.wrap("close", err)
		}
	})
	return s.closeErr
}

// uriEscaper escapes what would end the path part of an SQLite URI.
var uriEscaper = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var se sqlite3.Error
	if errors.As(err, &se) && se.Code == sqlite3.ErrConstraint {
		switch se.ExtendedCode {
		case sqlite3.ErrConstraintPrimaryKey, sqlite3.ErrConstraintUnique:
			err = fmt.Errorf("%w: %w", store.ErrExists, err)
		case sqlite3.ErrConstraintForeignKey:
			err = fmt.Errorf("%w: %w", store.ErrNotFound, err)
		default:
			err = fmt.Errorf("%w: %w", store.ErrInvalid, err)
		}
	}
	return fmt.Errorf("sqlite store %s: %s: %w", s.path, op, err)
}

// write runs fn in one write transaction (BEGIN IMMEDIATE).
func (s *Store) write(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(op, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return s.wrap(op, err)
	}
	return s.wrap(op, tx.Commit())
}

// Times are nanoseconds since 1970; the zero time is 0 (NULL where the
// column is optional).

func ts(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func nullTS(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

func fromTS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func fromNullTS(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromTS(n.Int64)
}

// ip returns a's 16-byte form, or nil (NULL) for an invalid address.
func ip(a netip.Addr) []byte {
	if !a.IsValid() {
		return nil
	}
	b := a.As16()
	return b[:]
}

func fromIP(b []byte) (netip.Addr, error) {
	switch len(b) {
	case 0:
		return netip.Addr{}, nil
	case 16:
		return netip.AddrFrom16([16]byte(b)).Unmap(), nil
	}
	return netip.Addr{}, fmt.Errorf("stored address has %d bytes", len(b))
}

func ips(as []netip.Addr) []byte {
	if len(as) == 0 {
		return nil
	}
	b := make([]byte, 0, 16*len(as))
	for _, a := range as {
		x := a.As16()
		b = append(b, x[:]...)
	}
	return b
}

func fromIPs(b []byte) ([]netip.Addr, error) {
	if len(b)%16 != 0 {
		return nil, fmt.Errorf("stored address list has %d bytes", len(b))
	}
	if len(b) == 0 {
		return nil, nil
	}
	as := make([]netip.Addr, len(b)/16)
	for i := range as {
		as[i] = netip.AddrFrom16([16]byte(b[16*i:])).Unmap()
	}
	return as, nil
}

func limit(n int) int {
	if n <= 0 {
		return store.DefaultLimit
	}
	return min(n, store.MaxLimit)
}
