package aggregate

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSelectLeast(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 2, 5, 17, 100, 1000, 5000} {
		for _, spread := range []int{2, 10, 1 << 30} { // many ties, some, none
			s := make([]int, n)
			for i := range s {
				s[i] = r.IntN(spread)
			}
			sorted := slices.Sorted(slices.Values(s))
			for _, k := range []int{0, 1, n / 8, n / 2, n * 7 / 8, n - 1, n} {
				if k < 0 || k > n {
					continue
				}
				got := slices.Clone(s)
				selectLeast(got, k, cmp.Compare[int])
				least := slices.Sorted(slices.Values(got[:k]))
				if !slices.Equal(least, sorted[:k]) {
					t.Fatalf("n=%d spread=%d k=%d: least %v, want %v", n, spread, k, least, sorted[:k])
				}
				if rest := slices.Sorted(slices.Values(got[k:])); !slices.Equal(rest, sorted[k:]) {
					t.Fatalf("n=%d spread=%d k=%d: the rest is not the input's rest", n, spread, k)
				}
			}
		}
	}
}
