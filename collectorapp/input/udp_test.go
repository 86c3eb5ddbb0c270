package input

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

func startUDP(t testing.TB, cfg UDPConfig, c *collector) *UDP {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "udp"
	}
	cfg.Listen = "127.0.0.1:0"
	in, err := NewUDP(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Start(context.Background(), c.sink); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	return in
}

func dialUDP(t testing.TB, in *UDP) *net.UDPConn {
	t.Helper()
	conn, err := net.DialUDP("udp", nil, in.Addr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestUDP(t *testing.T) {
	c := newCollector()
	in := startUDP(t, UDPConfig{Common: Common{MaxMessage: 200}}, c)
	if in.ReadBuffer() <= 0 {
		t.Errorf("ReadBuffer() = %d", in.ReadBuffer())
	}
	conn := dialUDP(t, in)
	var want []string
	for i := range 500 {
		msg := fmt.Sprintf("<13>Nov 27 10:00:00 host app: datagram %d", i)
		want = append(want, msg)
		switch i % 3 {
		case 1:
			msg += "\n"
		case 2:
			msg += "\r\n\x00"
		}
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			conn.Write([]byte(strings.Repeat("o", 201))) // oversize
			conn.Write([]byte("\n"))                     // empty
		}
	}
	c.wait(t, len(want), 10*time.Second)
	diffLines(t, c.texts(), want)
	st := in.Stats()
	if st.Oversize.Load() != 5 || st.Lines.Load() != 500 {
		t.Errorf("Stats: oversize %d, lines %d; want 5, 500", st.Oversize.Load(), st.Lines.Load())
	}
	if got, want := c.lines[0].Source, conn.LocalAddr().(*net.UDPAddr).AddrPort(); got != want {
		t.Errorf("source = %v, want %v", got, want)
	}
	// A datagram of exactly max_message is kept.
	conn.Write([]byte(strings.Repeat("m", 200)))
	c.wait(t, len(want)+1, 5*time.Second)
}

func TestUDPRateDrops(t *testing.T) {
	c := newCollector()
	in := startUDP(t, UDPConfig{Common: Common{Rate: 1, Burst: 5}}, c)
	conn := dialUDP(t, in)
	for i := range 50 {
		fmt.Fprintf(conn, "flood %d", i)
	}
	eventually(t, 5*time.Second, "50 datagrams to be metered", func() bool {
		return in.Stats().Lines.Load() == 50
	})
	c.wait(t, 5, 5*time.Second)
	if got := in.Stats().RateDropped.Load(); got < 44 || got > 45 {
		t.Errorf("Stats.RateDropped = %d, want 45 (44 if a token refilled)", got)
	}
	// Another source has its own bucket.
	other, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}, in.Addr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	fmt.Fprint(other, "other source")
	eventually(t, 5*time.Second, "the other source's line", func() bool {
		for _, l := range c.texts() {
			if l == "other source" {
				return true
			}
		}
		return false
	})
}

// While the pipeline takes nothing, datagrams beyond the queue are dropped
// and counted; the input keeps reading, and recovers.
func TestUDPQueueFullDrops(t *testing.T) {
	c := newCollector()
	c.gate = make(chan struct{})
	// A buffer that holds every datagram sent, however late the reader.
	in := startUDP(t, UDPConfig{ReadBuffer: 64 << 20}, c)
	conn := dialUDP(t, in)
	// At most the queue, the batch being delivered and the batch filling
	// are held; fewer lines when the flush timer queued partial batches.
	capacity := (udpQueue + 2) * maxBatchLines
	sent := capacity + 2000
	for i := range sent {
		fmt.Fprintf(conn, "queued %d", i)
		if i%500 == 0 {
			time.Sleep(time.Millisecond) // stay under the kernel's buffer
		}
	}
	st := in.Stats()
	eventually(t, 10*time.Second, "every datagram to be read", func() bool {
		return st.Lines.Load() == uint64(sent)
	})
	dropped := st.QueueDropped.Load()
	if dropped < 2000 || dropped >= uint64(sent) {
		t.Errorf("Stats.QueueDropped = %d, want at least 2000", dropped)
	}
	close(c.gate)
	c.wait(t, sent-int(dropped), 10*time.Second)
	fmt.Fprint(conn, "after")
	c.wait(t, sent-int(dropped)+1, 5*time.Second)
	if k := st.KernelDropped.Load(); k != 0 {
		t.Logf("the kernel dropped %d datagrams", k)
	}
}

// The kernel's drop count is read when the receive buffer overflows.
func TestUDPKernelDrops(t *testing.T) {
	if oobSize == 0 {
		t.Skip("the kernel's drop count is read on Linux only")
	}
	c := newCollector()
	c.gate = make(chan struct{})
	in := startUDP(t, UDPConfig{ReadBuffer: 4096}, c)
	conn := dialUDP(t, in)
	// Block the reader: fill the queue and the batches, then overflow the
	// small socket buffer.
	st := in.Stats()
	msg := []byte(strings.Repeat("k", 100))
	for i := 0; st.KernelDropped.Load() == 0; i++ {
		conn.Write(msg)
		if i > 200_000 {
			t.Fatalf("no kernel drops reported after %d datagrams (read %d, queue-dropped %d)", i, st.Lines.Load(), st.QueueDropped.Load())
		}
		if i%1000 == 999 {
			time.Sleep(time.Millisecond)
		}
	}
	close(c.gate)
}
