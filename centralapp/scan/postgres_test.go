package scan

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestPostgresExists(t *testing.T) {
	dsn := cluster.NewDatabase(t)
	if ok, err := PostgresExists(t.Context(), dsn); err != nil || !ok {
		t.Fatalf("migrated database: exists %v, %v", ok, err)
	}
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(t.Context())
	if _, err := c.Exec(t.Context(), "DROP TABLE scan_goose_db_version"); err != nil {
		t.Fatal(err)
	}
	if ok, err := PostgresExists(t.Context(), dsn); err != nil || ok {
		t.Errorf("database without the scan schema: exists %v, %v", ok, err)
	}
}

func TestOpenPostgresErrors(t *testing.T) {
	for dsn, want := range map[string]string{
		"":                           "scan store: no dsn given",
		"postgres://u:secret@h:x/db": "scan store: dsn: ",
		"postgres://u@127.0.0.1:1/db?connect_timeout=5": "scan store: connect: ",
	} {
		_, err := OpenPostgres(t.Context(), PostgresOptions{DSN: dsn})
		if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("%q: err %v, want %q without the password", dsn, err, want)
		}
	}
}
