package buffer

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAppendBatch measures appends in transactions of 1k and 10k rows
// of a typical detection (about 300 bytes). The table is emptied outside the
// timer now and then, as sealing would.
func BenchmarkAppendBatch(b *testing.B) {
	for _, rows := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			buf := open(b, Options{Path: filepath.Join(b.TempDir(), "b.db")})
			recs := records(0, rows)
			var size int64
			for _, r := range recs {
				size += int64(len(r.Payload))
			}
			b.SetBytes(size)
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if err := buf.AppendBatch(recs); err != nil {
					b.Fatal(err)
				}
				if (i+1)*rows%200000 == 0 {
					b.StopTimer()
					c := cpuTime()
					if _, err := buf.db.Exec("DELETE FROM records"); err != nil {
						b.Fatal(err)
					}
					buf.pending.Store(0)
					buf.pendingBytes.Store(0)
					cpu0 += cpuTime() - c
					b.StartTimer()
				}
			}
			perRow := float64(b.Elapsed().Nanoseconds()) / float64(b.N*rows)
			b.ReportMetric(perRow, "ns/row")
			b.ReportMetric(1e9/perRow, "rows/s")
			// CPU time per row: on a machine shared with other work the
			// wall clock says more about the neighbours.
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*rows), "cpu-ns/row")
		})
	}
}

// BenchmarkSeal seals 1,000 pending detections into one batch.
func BenchmarkSeal(b *testing.B) {
	buf := open(b, Options{Path: filepath.Join(b.TempDir(), "b.db"), BatchRecords: 1000, BatchBytes: 4 << 20})
	recs := records(0, 1000)
	ctx := context.Background()
	var raw, compressed int64
	for b.Loop() {
		b.StopTimer()
		if err := buf.AppendBatch(recs); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if ok, err := buf.Seal(ctx, meta); err != nil || !ok {
			b.Fatalf("sealed %v: %v", ok, err)
		}
		b.StopTimer()
		id, body, _, err := buf.Oldest(ctx)
		if err != nil {
			b.Fatal(err)
		}
		var r int64
		if err := buf.db.QueryRow("SELECT raw_bytes FROM outbox WHERE batch_id = ?", id).Scan(&r); err != nil {
			b.Fatal(err)
		}
		raw, compressed = raw+r, compressed+int64(len(body))
		if err := buf.Delivered(id); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(raw)/float64(compressed), "ratio")
	b.ReportMetric(float64(compressed)/float64(b.N), "B/batch")
}
