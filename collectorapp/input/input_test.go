package input

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// collector is a Sink that keeps copies of the lines it is given.
type collector struct {
	mu      sync.Mutex
	lines   []Line // Data copied
	batches []*Batch
	offsets []position // for file batches: the batch's Offset
	changed chan struct{}
	// gate, when set, is received from before each batch is taken: the
	// test controls the pipeline's pace.
	gate chan struct{}
}

func newCollector() *collector { return &collector{changed: make(chan struct{}, 1)} }

func (c *collector) sink(ctx context.Context, b *Batch) error {
	if c.gate != nil {
		select {
		case <-c.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.mu.Lock()
	for _, l := range b.Lines {
		l.Data = append([]byte(nil), l.Data...)
		c.lines = append(c.lines, l)
	}
	meta := *b
	meta.Lines, meta.slab, meta.pool = nil, nil, nil
	c.batches = append(c.batches, &meta)
	if _, id, off, ok := b.Offset(); ok {
		c.offsets = append(c.offsets, position{id: id, off: off})
	}
	c.mu.Unlock()
	b.Release()
	select {
	case c.changed <- struct{}{}:
	default:
	}
	return nil
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.lines)
}

func (c *collector) texts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.lines))
	for i, l := range c.lines {
		out[i] = string(l.Data)
	}
	return out
}

// wait waits until the collector holds n lines, failing the test after
// timeout.
func (c *collector) wait(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for c.count() < n {
		select {
		case <-c.changed:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("got %d lines, want %d", c.count(), n)
		}
	}
}

// lastOffset returns the position after the last file batch taken.
func (c *collector) lastOffset() (position, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.offsets) == 0 {
		return position{}, false
	}
	return c.offsets[len(c.offsets)-1], true
}

// eventually polls cond until it holds, failing after timeout.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s %06d", prefix, i)
	}
	return out
}

func diffLines(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d lines, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("line %d: got %q, want %q", i, got[i], want[i])
		}
	}
}

func TestValidateNamesSettings(t *testing.T) {
	tests := []struct {
		name string
		cfg  interface{ Validate() error }
		want []string
	}{
		{"udp empty", &UDPConfig{}, []string{"name: required", "listen: required"}},
		{"udp bad", &UDPConfig{Common: Common{Name: "u", Format: "Bad-Name", TimeZone: "Mars/Base", MaxMessage: -1, Rate: math.Inf(1)}, Listen: "nohostport", ReadBuffer: -5},
			[]string{"format: ", "time_zone: unknown time zone \"Mars/Base\"", "max_message: ", "rate: ", "listen: \"nohostport\" is not host:port", "read_buffer: "}},
		{"tcp bad port", &TCPConfig{Common: Common{Name: "t"}, Listen: ":99999", MaxConnections: -1}, []string{"listen: \":99999\" has no valid port number", "max_connections: "}},
		{"tls missing", &TCPConfig{Common: Common{Name: "t"}, Listen: ":6514", TLS: &TLSConfig{}}, []string{"tls.cert: required", "tls.key: required"}},
		{"tls unreadable", &TCPConfig{Common: Common{Name: "t"}, Listen: ":6514", TLS: &TLSConfig{Cert: "/nonexistent/c.pem", Key: "/nonexistent/k.pem"}}, []string{"tls.cert: open /nonexistent/c.pem"}},
		{"burst alone", &StdinConfig{Common: Common{Name: "s", Burst: 5}}, []string{"burst: set without rate"}},
		{"file", &FileConfig{Common: Common{Name: "f"}, StartAt: "middle", PollInterval: time.Hour}, []string{"path: required", "start_at: \"middle\"", "poll_interval: 1h0m0s is outside"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			var se *SettingError
			if !errors.As(err, &se) || se.Setting == "" {
				t.Errorf("error %q holds no SettingError", err)
			}
		})
	}
	good := []interface{ Validate() error }{
		&UDPConfig{Common: Common{Name: "u", Format: "cisco_asa", TimeZone: "Europe/Amsterdam", Rate: 100}, Listen: "127.0.0.1:514"},
		&TCPConfig{Common: Common{Name: "t", Format: "auto"}, Listen: "[::1]:601"},
		&FileConfig{Common: Common{Name: "f"}, Path: "x.log", StartAt: "end", PollInterval: time.Second},
		&StdinConfig{Common: Common{Name: "s"}},
	}
	for _, c := range good {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

func TestLifecycle(t *testing.T) {
	// Close before Start, and twice.
	u, err := NewUDP(UDPConfig{Common: Common{Name: "u"}, Listen: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	u.Close()
	u.Close()
	<-u.Done()
	if err := u.Start(context.Background(), newCollector().sink); err == nil {
		t.Error("Start after Close succeeded")
	}

	// Start twice; ctx's end stops the input.
	ctx, cancel := context.WithCancel(context.Background())
	tc, err := NewTCP(TCPConfig{Common: Common{Name: "t"}, Listen: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.Start(ctx, newCollector().sink); err != nil {
		t.Fatal(err)
	}
	if err := tc.Start(ctx, newCollector().sink); err == nil {
		t.Error("second Start succeeded")
	}
	cancel()
	select {
	case <-tc.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("input did not stop at ctx's end")
	}
	tc.Close()

	// A listen failure is an error naming the setting, and Close returns.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy, err := NewTCP(TCPConfig{Common: Common{Name: "b"}, Listen: taken.Addr().String()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := busy.Start(context.Background(), newCollector().sink); err == nil || !strings.HasPrefix(err.Error(), "listen: ") {
		t.Errorf("Start on a taken port: %v, want an error naming listen", err)
	}
	busy.Close()
	<-busy.Done()
}

func TestZoneAndFormatCarried(t *testing.T) {
	r, w := pipe(t)
	s, err := NewStdin(StdinConfig{Common: Common{Name: "in", Format: "cisco_asa", TimeZone: "Europe/Amsterdam"}}, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	if err := s.Start(context.Background(), c.sink); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fmt.Fprintln(w, "hello")
	c.wait(t, 1, 5*time.Second)
	b := c.batches[0]
	if b.Input != "in" || b.Format != "cisco_asa" || b.Loc.String() != "Europe/Amsterdam" || b.File != nil {
		t.Errorf("batch = %+v", b)
	}
}
