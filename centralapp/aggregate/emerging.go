package aggregate

import (
	"cmp"
	"slices"
	"strconv"
	"time"
)

// Emerging is a source, port or signature first seen within the emerging
// window (default 24h) that is spreading: at least two members have seen
// it, and at least one of them first saw it in the last hour.
type Emerging struct {
	Dimension Dimension // DimSource, DimPort or DimSignature
	Key       string
	FirstSeen time.Time
	Members   []string // members that have seen it, sorted
	// Growth is the number of members that first saw it in the hour
	// before now.
	Growth int
}

// emergingMinMembers is how many members make a new key spreading.
const emergingMinMembers = 2

// Emerging returns the emerging threats as of now, fastest growing first
// (then most members, earliest first seen, dimension and key).
func (a *Aggregator) Emerging(now time.Time) []Emerging {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := now.UnixNano()
	since := t - int64(a.cfg.Emerging)
	hour := t - int64(time.Hour)
	var out []Emerging
	consider := func(dim Dimension, key string, first int64, members func(yield func(idx uint32, first int64) bool)) {
		if first < since || first > t {
			return
		}
		e := Emerging{Dimension: dim, Key: key, FirstSeen: time.Unix(0, first).UTC()}
		for idx, f := range members {
			if f > t {
				continue
			}
			e.Members = append(e.Members, a.st.Members[idx])
			if f > hour {
				e.Growth++
			}
		}
		if len(e.Members) >= emergingMinMembers && e.Growth > 0 {
			slices.Sort(e.Members)
			out = append(out, e)
		}
	}
	for addr, s := range a.allSources {
		consider(DimSource, addr.String(), s.First, func(yield func(uint32, int64) bool) {
			for _, m := range s.Members {
				if !yield(m.Idx, m.First) {
					return
				}
			}
		})
	}
	for p, s := range a.st.Ports {
		consider(DimPort, strconv.Itoa(int(p)), s.First, mapMembers(s.Members))
	}
	for r, s := range a.st.Rules {
		consider(DimSignature, r, s.First, mapMembers(s.Members))
	}
	slices.SortFunc(out, func(x, y Emerging) int {
		if c := cmp.Compare(y.Growth, x.Growth); c != 0 {
			return c
		}
		if c := cmp.Compare(len(y.Members), len(x.Members)); c != 0 {
			return c
		}
		if c := x.FirstSeen.Compare(y.FirstSeen); c != 0 {
			return c
		}
		if c := cmp.Compare(x.Dimension, y.Dimension); c != 0 {
			return c
		}
		return cmp.Compare(x.Key, y.Key)
	})
	return out
}

func mapMembers(m map[uint32]int64) func(yield func(uint32, int64) bool) {
	return func(yield func(uint32, int64) bool) {
		for idx, f := range m {
			if !yield(idx, f) {
				return
			}
		}
	}
}
