package scan

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkAuditProbe is what the audit log costs one probe: its entry
// before the connection, its result after. Parallel runs 8 at once, as a
// scan's default concurrency does.
func BenchmarkAuditProbe(b *testing.B) {
	e := AuditEntry{RunID: "01A", MemberID: "acme", By: "schedule", Probe: "tcp-connect", Host: "www.acme.example",
		Addr: netip.MustParseAddr("192.0.2.7"), Port: 443, Started: t0}
	for _, bk := range []struct {
		name string
		open func(t *testing.B) Store
	}{
		{"sqlite", func(b *testing.B) Store {
			st, err := OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "scan.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			return st
		}},
		{"postgres", func(b *testing.B) Store {
			st, err := OpenPostgres(b.Context(), PostgresOptions{DSN: cluster.NewDatabase(b), MaxConns: 8})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			return st
		}},
	} {
		for _, par := range []bool{false, true} {
			name := bk.name
			if par {
				name += "/parallel8"
			}
			b.Run(name, func(b *testing.B) {
				st := bk.open(b)
				probe := func() {
					id, err := st.AuditStart(b.Context(), e)
					if err == nil {
						err = st.AuditFinish(b.Context(), id, t0.Add(time.Millisecond), "open")
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				if !par {
					for b.Loop() {
						probe()
					}
					return
				}
				b.SetParallelism(8)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						probe()
					}
				})
			})
		}
	}
}
