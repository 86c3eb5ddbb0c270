// Package cve holds CVE data offline and matches it against the software
// that service banners name.
//
// A DB is an SQLite file that NVD CVE API 2.0 feeds (the yearly
// nvdcve-2.0-YYYY.json.gz files and -modified) and CISA's Known Exploited
// Vulnerabilities catalogue are imported into. Match maps a banner's
// software and version to CPE names through an alias table, compares
// versions as NVD's ranges mean them and evaluates each record's
// configurations. A banner match is only a potential vulnerability:
// distributions backport fixes without changing the version they announce.
package cve

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	_ "github.com/mattn/go-sqlite3" // the database/sql driver
	"github.com/pressly/goose/v3"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Vuln is one CVE as the report shows it.
type Vuln struct {
	ID          string  // CVE-2021-41773
	Description string  // English description
	CVSS        float64 // base score of the best metric (v4.0 > v3.1 > v3.0 > v2; Primary before Secondary)
	Version     string  // "3.1", ...; empty when the record has no metric
	Vector      string
	Severity    string // Critical, High, Medium, Low (or None); empty when unscored
	Published   time.Time
	KEV         bool // on CISA's Known Exploited Vulnerabilities catalogue
	KEVAdded    time.Time
	Advice      string // plain-language remedy (from the product/alias table + fixed version when known)
}

// DB is the CVE database: an SQLite file in WAL mode, so Match reads
// beside an import.
type DB struct {
	path string
	db   *sql.DB
	mu   sync.Mutex // one import at a time in this process
	now  func() time.Time
}

// busyTimeout bounds the wait for another process's import.
const busyTimeout = 30 * time.Second

// Open opens or creates the database at path and migrates its schema.
func Open(path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("cve db: no path given")
	}
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	dsn := fmt.Sprintf("file:%s?_txlock=immediate&_busy_timeout=%d&_synchronous=NORMAL&_journal_mode=WAL",
		esc, busyTimeout.Milliseconds())
	sdb, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("cve db %s: %w", path, err)
	}
	sdb.SetMaxOpenConns(4)
	db := &DB{path: path, db: sdb, now: time.Now}
	if err := db.migrate(); err != nil {
		sdb.Close()
		return nil, err
	}
	return db, nil
}

func (db *DB) migrate() error {
	ctx := context.Background()
	var mode string
	if err := db.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("cve db %s: %w", db.path, err)
	}
	if mode != "wal" {
		return fmt.Errorf("cve db %s: journal mode is %q, not wal", db.path, mode)
	}
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("cve db: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db.db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("cve db: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("cve db %s: migrate: %w", db.path, err)
	}
	return nil
}

// Close closes the database.
func (db *DB) Close() error {
	if err := db.db.Close(); err != nil {
		return fmt.Errorf("cve db %s: close: %w", db.path, err)
	}
	return nil
}

// Imported returns when the latest import ran, or the zero time if none
// has: the date every report shows its CVE data as of.
func (db *DB) Imported(ctx context.Context) (time.Time, error) {
	var n sql.NullInt64
	if err := db.db.QueryRowContext(ctx, "SELECT max(imported) FROM imports").Scan(&n); err != nil {
		return time.Time{}, fmt.Errorf("cve db %s: %w", db.path, err)
	}
	return fromTS(n.Int64), nil
}

func ts(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromTS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
