package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"

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
