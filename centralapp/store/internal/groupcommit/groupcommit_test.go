package groupcommit_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cyberalarm/cyberalarm/centralapp/store/internal/groupcommit"
)

// TestGroups: requests waiting together are written together, within the
// limits of requests and rows, in the order they came, each exactly once.
func TestGroups(t *testing.T) {
	in := make(chan int, 100)
	for i := range 10 {
		in <- i
	}
	closing := make(chan struct{})
	var groups [][]int
	done := make(chan struct{})
	go func() {
		defer close(done)
		groupcommit.Run(in, closing, 4, 5, func(r int) int { return r%3 + 1 }, func(g []int) {
			groups = append(groups, slices.Clone(g))
			if len(groups) == 4 {
				close(closing)
			}
		})
	}()
	<-done
	// Rows: 0→1 1→2 2→3 3→1 4→2 5→3 6→1 7→2 8→3 9→1. A group stops at 4
	// requests or once it holds 5 rows.
	want := [][]int{{0, 1, 2}, {3, 4, 5}, {6, 7, 8}, {9}}
	if diff := cmp.Diff(want, groups); diff != "" {
		t.Fatalf("groups (-want +got):\n%s", diff)
	}
}

// TestConcurrent: every request sent by many goroutines is written once.
func TestConcurrent(t *testing.T) {
	in := make(chan int)
	closing := make(chan struct{})
	seen := map[int]int{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		groupcommit.Run(in, closing, 8, 1000, func(int) int { return 1 }, func(g []int) {
			if len(g) == 0 || len(g) > 8 {
				t.Errorf("group of %d", len(g))
			}
			for _, r := range g {
				seen[r]++
			}
		})
	}()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 100 {
				in <- w*100 + i
			}
		})
	}
	wg.Wait()
	close(closing)
	<-done
	if len(seen) != 1600 {
		t.Fatalf("%d distinct requests written, want 1600", len(seen))
	}
	for r, n := range seen {
		if n != 1 {
			t.Fatalf("request %d written %d times", r, n)
		}
	}
}
