package aggregate

import (
	"cmp"
	"math"
	"net/netip"
	"slices"
	"time"
)

// Targeted is a source as one member's report ranks it.
//
// Score says how targeted the source looks from this member, in [0, 1]:
//
//	score = 1/(1+o) · 1/(1+log10 p)
//
// where o is the number of other members whose detections or flow
// summaries show the source, and p the number of distinct destination ports
// it was seen on across all members (at least 1; counted up to 1024). A
// source seen only here on one port scores 1; each other member that saw it
// divides the score, since internet-wide noise (mass scanners, botnets)
// reaches many members; flow summaries count as much as detections, because
// they are exactly the background traffic no rule found worth naming. Many
// ports also mark a scanner, but less sharply: 10 ports halve the score,
// 1000 quarter it.
type Targeted struct {
	Source    netip.Addr
	Score     float64
	Count     int64     // observations at this member
	FirstSeen time.Time // at this member
	LastSeen  time.Time
	Members   int // members that saw the source, this one included
	Ports     int // distinct destination ports, across members
}

func (s *sourceState) targetedness() float64 {
	o := len(s.Members) - 1
	p := max(len(s.Ports), 1)
	if s.PortsCap {
		p = maxSourcePorts
	}
	return 1 / float64(1+o) / (1 + math.Log10(float64(p)))
}

// TopSources returns up to k sources seen at member, most targeted first
// (then by count, then by address); k ≤ 0 means all.
func (a *Aggregator) TopSources(member string, k int) []Targeted {
	a.mu.Lock()
	defer a.mu.Unlock()
	idx, ok := a.memberIdx[member]
	if !ok {
		return nil
	}
	var out []Targeted
	for addr, s := range a.allSources {
		i, ok := findSeen(s.Members, idx)
		if !ok {
			continue
		}
		m := s.Members[i]
		ports := len(s.Ports)
		if s.PortsCap {
			ports = maxSourcePorts
		}
		out = append(out, Targeted{
			Source:    addr,
			Score:     s.targetedness(),
			Count:     m.Count,
			FirstSeen: time.Unix(0, m.First).UTC(),
			LastSeen:  time.Unix(0, m.Last).UTC(),
			Members:   len(s.Members),
			Ports:     ports,
		})
	}
	slices.SortFunc(out, func(x, y Targeted) int {
		if c := cmp.Compare(y.Score, x.Score); c != 0 {
			return c
		}
		if c := cmp.Compare(y.Count, x.Count); c != 0 {
			return c
		}
		return x.Source.Compare(y.Source)
	})
	if k > 0 && len(out) > k {
		out = out[:k]
	}
	return out
}

// Targetedness returns the score of src for member (see Targeted); false
// when member has not seen src.
func (a *Aggregator) Targetedness(member string, src netip.Addr) (float64, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	idx, ok := a.memberIdx[member]
	if !ok {
		return 0, false
	}
	s := a.source(src.Unmap())
	if s == nil {
		return 0, false
	}
	if _, ok := findSeen(s.Members, idx); !ok {
		return 0, false
	}
	return s.targetedness(), true
}
