package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStorePostgres(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "central.dsn")
	if err := os.WriteFile(file, []byte("postgres://central:s3cret@db.example:5432/central\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Parse(filepath.Join(dir, "c.yaml"), []byte("store:\n  driver: postgres\n  dsn_file: central.dsn\n  max_conns: 16\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.DSN != "postgres://central:s3cret@db.example:5432/central" || c.Store.MaxConns != 16 {
		t.Errorf("store: %+v", c.Store)
	}
	c, err = Parse("c.yaml", []byte("store:\n  driver: postgres\n  dsn: host=db.example dbname=central\n"))
	if err != nil || c.Store.DSN != "host=db.example dbname=central" {
		t.Errorf("dsn: %+v, %v", c.Store, err)
	}
}

func TestStoreErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"store:\n  driver: mysql\n", `c.yaml:2:11: store.driver: "mysql": want sqlite or postgres`},
		{"store:\n  driver: postgres\n", "c.yaml:2:11: store.driver: postgres needs store.dsn or store.dsn_file"},
		{"store:\n  driver: postgres\n  dsn: postgres://u:pw@h:x/db\n", "c.yaml:3:8: store.dsn: cannot parse"},
		{"store:\n  driver: postgres\n  dsn: postgres://h/db\n  dsn_file: f\n", "c.yaml:4:13: store.dsn_file: give store.dsn or store.dsn_file, not both"},
		{"store:\n  driver: postgres\n  dsn_file: missing.dsn\n", "c.yaml:3:13: store.dsn_file: open "},
		{"store:\n  driver: postgres\n  dsn: postgres://h/db\n  max_conns: -1\n", "c.yaml:4:14: store.max_conns: -1 must not be negative"},
		{"store:\n  dsn: postgres://h/db\n", "c.yaml:2:8: store.dsn: only with driver postgres"},
	} {
		_, err := Parse("c.yaml", []byte(c.in))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: got %v\nwant %s", c.in, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("%q: the error shows the password: %v", c.in, err)
		}
	}
}
