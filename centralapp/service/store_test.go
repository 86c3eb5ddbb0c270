package service

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/config"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/postgres"
	"github.com/cyberalarm/cyberalarm/centralapp/store/postgres/pgtest"
)

// TestPostgresStore: store.driver postgres opens the PostgreSQL store, and
// what one node stores another node, on the same database, reads.
func TestPostgresStore(t *testing.T) {
	dsn := pgtest.New(t, pgtest.Options{}).NewDatabase(t)
	ctx := context.Background()
	nodes := make([]*Service, 2)
	for i := range nodes {
		cfg, err := config.Parse(filepath.Join(t.TempDir(), "central.yaml"),
			[]byte("data_dir: state\nstore:\n  driver: postgres\n  dsn: "+dsn+"\n  max_conns: 4\n"))
		if err != nil {
			t.Fatal(err)
		}
		if nodes[i], err = Open(ctx, cfg, nil); err != nil {
			t.Fatal(err)
		}
		defer nodes[i].Close()
		if _, ok := nodes[i].Store.(*postgres.Store); !ok {
			t.Fatalf("store is %T", nodes[i].Store)
		}
	}
	if _, err := nodes[0].AddMember(ctx, store.Member{ID: "acme", Name: "Acme", TimeZone: "UTC"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	m, err := nodes[1].Store.Member(ctx, "acme")
	if err != nil || m.Name != "Acme" {
		t.Fatalf("member from the other node: %+v, %v", m, err)
	}
}
