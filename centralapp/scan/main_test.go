package scan

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cyberalarm/cyberalarm/centralapp/store/postgres/pgtest"
)

// cluster is the PostgreSQL the store tests share; nil when PostgreSQL is
// not installed, and those tests skip.
var cluster *pgtest.Cluster

func TestMain(m *testing.M) {
	// Scans, kill watchers and fixture servers all end with their test
	// (pgtest.Main checks with goleak). Each database copies a template
	// that holds the scan schema already.
	pgtest.Main(m, &cluster, pgtest.Options{Template: func(ctx context.Context, dsn string) error {
		s, err := OpenPostgres(ctx, PostgresOptions{DSN: dsn})
		if err != nil {
			return err
		}
		return s.Close()
	}})
}

// backends are the Store implementations; each test of the conformance
// suite runs on every one, with the same code.
var backends = []struct {
	name string
	open func(t *testing.T) Store
}{
	{"sqlite", func(t *testing.T) Store { return openSQLite(t, t.TempDir()) }},
	{"postgres", func(t *testing.T) Store { return openPostgres(t, cluster.NewDatabase(t)) }},
}

// forEachStore runs fn as a subtest on a fresh store of each backend.
func forEachStore(t *testing.T, fn func(t *testing.T, st Store)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b.open(t)) })
	}
}

func openSQLite(t *testing.T, dir string) *SQLite {
	t.Helper()
	st, err := OpenSQLite(t.Context(), filepath.Join(dir, "scan.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// openPostgres opens a store on dsn: called twice on one database, it is
// two nodes sharing it.
func openPostgres(t *testing.T, dsn string) *Postgres {
	t.Helper()
	st, err := OpenPostgres(t.Context(), PostgresOptions{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
