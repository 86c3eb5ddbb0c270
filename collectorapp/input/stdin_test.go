package input

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// pipe returns an os.Pipe, closed at the end of the test.
func pipe(t testing.TB) (*os.File, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

func TestStdinToEOF(t *testing.T) {
	r, w := pipe(t)
	s, err := NewStdin(StdinConfig{Common: Common{Name: "stdin", MaxMessage: 50}}, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	if err := s.Start(context.Background(), c.sink); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := numbered("line", 1000)
	go func() {
		for _, l := range want {
			fmt.Fprintln(w, l)
		}
		fmt.Fprintln(w, strings.Repeat("x", 80)) // oversize
		fmt.Fprint(w, "last line without newline")
		w.Close()
	}()
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("stdin input did not end at EOF")
	}
	diffLines(t, c.texts(), append(want, "last line without newline"))
	if got := s.Stats().Oversize.Load(); got != 1 {
		t.Errorf("Stats.Oversize = %d, want 1", got)
	}
}

// Close interrupts a blocked read of a reader with deadlines.
func TestStdinClose(t *testing.T) {
	r, w := pipe(t)
	s, err := NewStdin(StdinConfig{Common: Common{Name: "stdin"}}, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	if err := s.Start(context.Background(), c.sink); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(w, "one")
	c.wait(t, 1, 5*time.Second)
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not interrupt the read")
	}
}
