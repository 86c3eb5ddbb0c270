package plugins

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
)

// collector keeps a Batcher's results.
type collector struct {
	mu   sync.Mutex
	seqs []uint64
	errs map[uint64]error
	got  chan struct{}
}

func newCollector() *collector {
	return &collector{errs: make(map[uint64]error), got: make(chan struct{}, 1<<16)}
}

func (c *collector) emit(seq uint64, ev *detect.Event, err error) {
	c.mu.Lock()
	c.seqs = append(c.seqs, seq)
	if err != nil {
		c.errs[seq] = err
	} else if ev == nil {
		c.errs[seq] = errors.New("neither event nor error")
	}
	c.mu.Unlock()
	c.got <- struct{}{}
}

func TestBatcher(t *testing.T) {
	p := startTest(t, Spec{Name: "testplugin", Path: testPlugin, SHA256: testPluginSum, BatchLines: 100, BatchWait: 20 * time.Millisecond}, Options{})
	c := newCollector()
	b := NewBatcher(p.NewSession(), c.emit)
	ctx := context.Background()

	// A lone line is sent once it is BatchWait old, not held for more.
	if err := b.Add(ctx, []byte("tp 192.0.2.1 10.0.0.1 22")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.got:
	case <-time.After(5 * time.Second):
		t.Fatal("a lone line was held back")
	}

	// A burst, with a line that crashes the plugin: every line gets one
	// result, in order.
	lines := tpLines(2500)
	lines[1500] = "tp CRASH 1.2.3.4 5"
	for _, l := range lines {
		if err := b.Add(ctx, []byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if len(c.seqs) != 1+len(lines) {
		t.Fatalf("%d results for %d lines", len(c.seqs), 1+len(lines))
	}
	for i, s := range c.seqs {
		if s != uint64(i) {
			t.Fatalf("result %d is for line %d", i, s)
		}
	}
	for seq, err := range c.errs {
		if seq != 1501 || !errors.Is(err, ErrPluginShutdown) {
			t.Errorf("line %d: %v", seq, err)
		}
	}
	if len(c.errs) != 1 {
		t.Errorf("%d errors, want 1", len(c.errs))
	}
}

func TestBatcherAbort(t *testing.T) {
	p := startTest(t, testSpec(), Options{})
	b := NewBatcher(p.NewSession(), func(uint64, *detect.Event, error) {})
	b.Abort()
	if err := b.Add(context.Background(), []byte("x")); err == nil {
		t.Error("Add after Abort: no error")
	}
}
