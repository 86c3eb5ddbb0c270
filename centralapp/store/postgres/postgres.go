package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pressly/goose/v3/lock"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultMaxConns is the pool size when Options.MaxConns is 0.
const DefaultMaxConns = 8

// Options configure a Store. Only DSN is required.
type Options struct {
	// DSN is a libpq connection string, as a URL
	// (postgres://user@host:5432/db?sslmode=verify-full) or as key=value
	// pairs. pgx's own settings such as default_query_exec_mode apply.
	DSN string
	// MaxConns bounds the connections this store opens (at least 2).
	MaxConns int
	// Logger receives migration and partition progress. Default: discarded.
	Logger *slog.Logger
}

// Store is the PostgreSQL implementation of store.Store. Several central
// nodes may share one database.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger

	// months are the months whose partitions this store knows to exist.
	mu     sync.Mutex
	months map[time.Time]bool

	// ingests hands batches to the ingester goroutine (group commit);
	// closing ends it, and ingestDone tells it ended.
	ingests    chan *ingestReq
	closing    chan struct{}
	ingestDone chan struct{}

	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at opts.DSN, migrates its schema (one node
// at a time, under an advisory lock) and makes the partitions of this
// month and the next.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.DSN == "" {
		return nil, errors.New("postgres store: no dsn given")
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pool, err := Connect(ctx, "postgres store", opts.DSN, "cyberalarm-central", opts.MaxConns)
	if err != nil {
		return nil, err
	}
	s := &Store{pool: pool, log: log, months: map[time.Time]bool{}}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	now := time.Now()
	if err := s.ensureMonth(ctx, now); err != nil {
		pool.Close()
		return nil, s.wrap("partitions", err)
	}
	s.ingests, s.closing, s.ingestDone = make(chan *ingestReq), make(chan struct{}), make(chan struct{})
	go s.ingester()
	return s, nil
}

// migrateLockID is the advisory lock nodes take to migrate one at a time:
// goose's default, spelled out because other code must not reuse it.
const migrateLockID = lock.DefaultLockID

func (s *Store) migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("postgres store: migrations: %w", err)
	}
	return s.wrap("migrate", Migrate(ctx, s.pool, fsys, migrateLockID, "", s.log))
}

// Close writes the batches the ingester has taken, refuses the others, and
// closes the store's connections.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		<-s.ingestDone
		s.pool.Close()
	})
	return nil
}

// with runs fn on a pooled connection. The pool drops a connection fn
// leaves broken or inside a transaction.
func (s *Store) with(ctx context.Context, fn func(*pgx.Conn) error) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	return fn(c.Conn())
}

// tx runs fn in one transaction on a pooled connection: committed if fn
// returns nil, rolled back otherwise.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return s.with(ctx, func(c *pgx.Conn) error { return pgx.BeginFunc(ctx, c, fn) })
}

// write runs fn in a transaction and wraps its error for op.
func (s *Store) write(ctx context.Context, op string, fn func(pgx.Tx) error) error {
	return s.wrap(op, s.tx(ctx, fn))
}

// PostgreSQL error classes and codes the store maps to its sentinels.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	classIntegrity          = "23"
	classData               = "22"
)

func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == codeUniqueViolation:
			err = fmt.Errorf("%w: %w", store.ErrExists, err)
		case pe.Code == codeForeignKeyViolation:
			err = fmt.Errorf("%w: %w", store.ErrNotFound, err)
		case len(pe.Code) == 5 && (pe.Code[:2] == classIntegrity || pe.Code[:2] == classData):
			err = fmt.Errorf("%w: %w", store.ErrInvalid, err)
		}
	}
	return fmt.Errorf("postgres store: %s: %w", op, err)
}

// notFound turns pgx.ErrNoRows into store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// affected turns an update or delete of no row into store.ErrNotFound.
func affected(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// tsOut reads a timestamptz into t in UTC; NULL is the zero time. pgx
// alone reads into the local zone and refuses NULL.
type tsOut struct{ t *time.Time }

func (x tsOut) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid {
		*x.t = time.Time{}
		return nil
	}
	*x.t = v.Time.UTC()
	return nil
}

func ts(t *time.Time) tsOut { return tsOut{t} }

// nullTS writes the zero time as NULL.
func nullTS(t time.Time) pgtype.Timestamptz { return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()} }

// addr is a as stored: IPv4-mapped addresses as IPv4, no zone. The zero
// Addr is NULL.
func addr(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

func limit(n int) int {
	if n <= 0 {
		return store.DefaultLimit
	}
	return min(n, store.MaxLimit)
}

// collect reads every row with scan, and closes rows.
func collect[T any](rows pgx.Rows, err error, scan func(pgx.Row) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
