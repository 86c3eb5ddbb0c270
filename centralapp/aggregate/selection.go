package aggregate

// selectLeast reorders s so that s[:k] hold its k least elements under
// cmp, in no particular order: eviction needs the set, not its order, and
// finding it is linear where sorting the millions of sessions a flood
// leaves was most of the aggregator's time. cmp must be a total order, so
// that the set is the same whatever s's order was.
func selectLeast[T any](s []T, k int, cmp func(a, b T) int) {
	lo, hi := 0, len(s) // the k-th least lies in s[lo:hi]
	for hi-lo > 16 {
		// Median of three as pivot, moved to s[lo].
		mid := lo + (hi-lo)/2
		if cmp(s[mid], s[lo]) < 0 {
			s[mid], s[lo] = s[lo], s[mid]
		}
		if cmp(s[hi-1], s[lo]) < 0 {
			s[hi-1], s[lo] = s[lo], s[hi-1]
		}
		if cmp(s[hi-1], s[mid]) < 0 {
			s[hi-1], s[mid] = s[mid], s[hi-1]
		}
		pivot := s[mid]
		// Three-way partition of s[lo:hi]: below the pivot, equal, above;
		// equal runs (ties) then cost nothing more.
		lt, i, gt := lo, lo, hi
		for i < gt {
			switch c := cmp(s[i], pivot); {
			case c < 0:
				s[lt], s[i] = s[i], s[lt]
				lt++
				i++
			case c > 0:
				gt--
				s[i], s[gt] = s[gt], s[i]
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt
		case k > gt:
			lo = gt
		default:
			return // s[lt:gt] equal the k-th least: the split is done
		}
	}
	// Few left: insertion sort them.
	for i := lo + 1; i < hi; i++ {
		for j := i; j > lo && cmp(s[j], s[j-1]) < 0; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
