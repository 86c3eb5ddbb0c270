package input

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countSink is a no-op Sink that counts lines.
type countSink struct{ n atomic.Int64 }

func (s *countSink) sink(_ context.Context, b *Batch) error {
	s.n.Add(int64(len(b.Lines)))
	b.Release()
	return nil
}

func (s *countSink) waitFor(b *testing.B, n int64) {
	deadline := time.Now().Add(2 * time.Minute)
	for s.n.Load() < n {
		if time.Now().After(deadline) {
			b.Fatalf("delivered %d of %d lines", s.n.Load(), n)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// benchLine is a typical firewall line, 150 bytes.
const benchLine = "<166>Nov 27 10:00:00 fw01 %ASA-6-302013: Built inbound TCP connection 4022 for outside:198.51.100.7/51234 (198.51.100.7/51234) to inside:10.1.2.3/443"

func reportRate(b *testing.B, lines int64, d time.Duration) {
	b.ReportMetric(float64(lines)/d.Seconds(), "lines/s")
}

// BenchmarkTCPIngest sends newline-framed lines over loopback connections
// into a no-op sink.
func BenchmarkTCPIngest(b *testing.B) {
	for _, conns := range []int{1, 4} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			sink := &countSink{}
			in, err := NewTCP(TCPConfig{Common: Common{Name: "bench"}, Listen: "127.0.0.1:0"}, nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := in.Start(context.Background(), sink.sink); err != nil {
				b.Fatal(err)
			}
			defer in.Close()
			chunk := strings.Repeat(benchLine+"\n", 1000)
			per := (b.N + conns - 1) / conns
			b.SetBytes(int64(len(benchLine) + 1))
			b.ResetTimer()
			start := time.Now()
			errs := make(chan error, conns)
			for range conns {
				go func() {
					conn, err := net.Dial("tcp", in.Addr().String())
					if err != nil {
						errs <- err
						return
					}
					defer conn.Close()
					w := bufio.NewWriterSize(conn, 256<<10)
					for sent := 0; sent < per; {
						k := min(1000, per-sent)
						w.WriteString(chunk[:k*(len(benchLine)+1)])
						sent += k
					}
					errs <- w.Flush()
				}()
			}
			for range conns {
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
			}
			sink.waitFor(b, int64(per*conns))
			reportRate(b, int64(per*conns), time.Since(start))
		})
	}
}

// BenchmarkUDPIngest sends datagrams from one socket, paced at a target
// rate (0: as fast as the sender can), and reports the share lost: dropped
// by the kernel (its buffer full) or by the input (the queue full). The
// larger read buffer shows how much of the loss is the reader being
// descheduled for a while rather than too slow.
func BenchmarkUDPIngest(b *testing.B) {
	for _, rate := range []int{50_000, 100_000, 200_000, 0} {
		for _, rcvbuf := range []int{8 << 20, DefaultReadBuffer} {
			name := fmt.Sprintf("rate=%dk/buf=%dM", rate/1000, rcvbuf>>20)
			if rate == 0 {
				name = fmt.Sprintf("rate=max/buf=%dM", rcvbuf>>20)
			}
			b.Run(name, func(b *testing.B) { benchUDP(b, rate, rcvbuf) })
		}
	}
}

func benchUDP(b *testing.B, rate, rcvbuf int) {
	sink := &countSink{}
	in, err := NewUDP(UDPConfig{Common: Common{Name: "bench"}, Listen: "127.0.0.1:0", ReadBuffer: rcvbuf}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := in.Start(context.Background(), sink.sink); err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	conn, err := net.DialUDP("udp", nil, in.Addr().(*net.UDPAddr))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	msg := []byte(benchLine)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if rate > 0 && i%100 == 0 {
			// Pace in steps of 100 datagrams.
			due := start.Add(time.Duration(int64(i) * int64(time.Second) / int64(rate)))
			for time.Now().Before(due) {
			}
		}
		conn.Write(msg) //nolint:errcheck // loss is what is measured
	}
	sendTime := time.Since(start)
	// Wait until the input has read everything that reached it.
	st := in.Stats()
	var last uint64
	for {
		time.Sleep(50 * time.Millisecond)
		n := st.Lines.Load()
		if n == last {
			break
		}
		last = n
	}
	lost := uint64(b.N) - st.Lines.Load() + st.QueueDropped.Load()
	sink.waitFor(b, int64(st.Lines.Load()-st.QueueDropped.Load()))
	b.ReportMetric(float64(b.N)/sendTime.Seconds(), "sent/s")
	b.ReportMetric(100*float64(lost)/float64(b.N), "loss-%")
	if k := st.KernelDropped.Load(); k > 0 && lost > 0 {
		b.ReportMetric(100*float64(k)/float64(lost), "kernel-share-%")
	}
}

// BenchmarkFileTail reads a file of b.N lines into a no-op sink.
func BenchmarkFileTail(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.log")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for range b.N {
		w.WriteString(benchLine + "\n")
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	sink := &countSink{}
	in, err := NewFile(FileConfig{Common: Common{Name: "bench"}, Path: path}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchLine) + 1))
	b.ResetTimer()
	start := time.Now()
	if err := in.Start(context.Background(), sink.sink); err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	sink.waitFor(b, int64(b.N))
	reportRate(b, int64(b.N), time.Since(start))
}
