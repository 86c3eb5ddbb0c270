package sqlite_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/sqlite"
	"github.com/cyberalarm/cyberalarm/centralapp/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) {
		if large.dir != "" {
			os.RemoveAll(large.dir)
		}
	}))
}

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		NewDSN: func(t *testing.T) string { return filepath.Join(t.TempDir(), "central.db") },
		Open: func(t *testing.T, dsn string) (store.Store, error) {
			return sqlite.Open(t.Context(), sqlite.Options{Path: dsn})
		},
	})
}

// TestCheckpointer checks that committed batches reach the database file
// while the store is open. The writer checkpoints itself only after
// thousands of WAL pages, far more than this test writes, so the file grows
// only if the background checkpointer runs.
func TestCheckpointer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "central.db")
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if err := s.AddMember(ctx, store.Member{ID: "m0", Name: "M0", Created: at}); err != nil {
		t.Fatal(err)
	}
	tok := store.HashToken("t")
	if err := s.AddEnrolToken(ctx, store.EnrolToken{Hash: tok, MemberID: "m0", Created: at, Expires: at.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.UseEnrolToken(ctx, tok, at, store.Collector{ID: "c0", MemberID: "m0", CertSerial: "01",
		CertNotAfter: at.Add(time.Hour), Created: at}); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// About 8 MiB: above the checkpointer's wake-up, far below the
	// writer's backstop.
	ds := benchDetections(t, 1000)
	for i := range 8 {
		if _, err := s.IngestBatch(ctx, &store.Batch{ID: fmt.Sprintf("b%d", i), CollectorID: "c0", MemberID: "m0",
			Created: at, Received: at, Detections: ds}); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > before.Size()+4<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("database file still %d bytes (%d before ingest): no checkpoint", fi.Size(), before.Size())
		}
		time.Sleep(10 * time.Millisecond)
	}
	c, err := s.Counts(ctx, "")
	if err != nil || c.Detections != 8000 {
		t.Fatalf("after checkpoints: %+v, %v", c, err)
	}
}
