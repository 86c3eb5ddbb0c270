package aggregate

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
)

// Caps on what one campaign lists; counts stay exact beyond them.
const (
	maxCampaignTechniques = 32
	maxCampaignPorts      = 64
	// maxSpans bounds the activity spans kept per member of an unconfirmed
	// session; beyond it the two closest spans merge, which can only make
	// the window test more generous.
	maxSpans = 32
)

// Campaign is one source seen, with related techniques, at MinMembers or
// more members within the window.
type Campaign struct {
	// ID is stable for a campaign: it derives from the source, the
	// technique group and the first seen time. It changes only when an
	// earlier observation arrives late, or two campaigns merge; Replaces
	// then names the old ids.
	ID         string
	Source     netip.Addr
	Group      string // the technique relation group
	FirstSeen  time.Time
	LastSeen   time.Time
	Members    []MemberCount // sorted by member id
	Techniques []string      // sorted
	Ports      []uint16      // sorted
	Count      int64
	// Replaces lists ids this campaign superseded since it was last
	// returned by Changes.
	Replaces []string
}

// MemberCount is what one member saw of a campaign.
type MemberCount struct {
	Member    string
	Count     int64
	FirstSeen time.Time
	LastSeen  time.Time
}

// MemberIDs returns the members hit, sorted.
func (c *Campaign) MemberIDs() []string {
	ids := make([]string, len(c.Members))
	for i, m := range c.Members {
		ids[i] = m.Member
	}
	return ids
}

// AppendJSON appends c as a cross-member detection (DESIGN.md §3.5), nested
// as §3.2 detections are: source.ip, threat.technique.id, members and
// detection.count/first_seen/last_seen. threat is left out when the
// campaign has no technique ids.
func (c *Campaign) AppendJSON(b []byte) []byte {
	b = append(b, `{"source":{"ip":"`...)
	b = c.Source.AppendTo(b)
	b = append(b, `"}`...)
	if len(c.Techniques) > 0 {
		b = append(b, `,"threat":{"technique":{"id":[`...)
		for i, t := range c.Techniques {
			if i > 0 {
				b = append(b, ',')
			}
			b = detect.AppendJSONString(b, t)
		}
		b = append(b, `]}}`...)
	}
	b = append(b, `,"members":[`...)
	for i, m := range c.Members {
		if i > 0 {
			b = append(b, ',')
		}
		b = detect.AppendJSONString(b, m.Member)
	}
	b = append(b, `],"detection":{"count":`...)
	b = strconv.AppendInt(b, c.Count, 10)
	b = append(b, `,"first_seen":"`...)
	b = detect.AppendTimestamp(b, c.FirstSeen)
	b = append(b, `","last_seen":"`...)
	b = detect.AppendTimestamp(b, c.LastSeen)
	return append(b, `"}}`...)
}

// campaignID derives a campaign's id from its source, group and first seen
// time.
func campaignID(src netip.Addr, group string, first int64) string {
	h := sha256.New()
	a := src.As16()
	h.Write(a[:])
	h.Write([]byte(group))
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], uint64(first))
	h.Write(t[:])
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:10])
}

// session is one source's activity under one technique group, observations
// no more than Window apart. A session that reaches MinMembers within
// Window is a campaign (Qualified) and stays one.
type session struct {
	Group      string
	ID         string `json:",omitempty"`
	First      int64
	Last       int64
	Count      int64
	Qualified  bool
	Touched    int64        // processing time data for the session last arrived
	Members    []sessMember // sorted by member index
	Techniques []string     // sorted
	Ports      []uint16     // sorted

	// dirty is set while the session is in Aggregator.changed.
	dirty bool

	// Most sessions are one source at one member: these hold their first
	// entries without further allocations.
	memberBuf [1]sessMember
	techBuf   [2]string
	portBuf   [2]uint16
}

func newSession(group string, f, l int64) *session {
	s := &session{Group: group, First: f, Last: l}
	s.Members, s.Techniques, s.Ports = s.memberBuf[:0], s.techBuf[:0], s.portBuf[:0]
	return s
}

type sessMember struct {
	Idx   uint32
	Count int64
	First int64
	Last  int64
	// Spans are the member's activity, merged where less than Window
	// apart; kept only until the session qualifies, and only once there
	// is more than one: nil means the one span [First, Last].
	Spans []span `json:",omitempty"`
}

// add records activity [f, l] at the member; with spans, it keeps the
// member's spans too.
func (m *sessMember) add(f, l, w int64, spans bool) {
	if spans && m.First <= m.Last {
		if m.Spans == nil && (f > m.Last+w || l < m.First-w) {
			m.Spans = append(make([]span, 0, 2), span{m.First, m.Last})
		}
		if m.Spans != nil {
			m.Spans = addSpan(m.Spans, span{f, l}, w)
		}
	}
	m.First, m.Last = min(m.First, f), max(m.Last, l)
}

type span struct{ From, To int64 }

// member returns the session's entry for member idx, adding it.
func (s *session) member(idx uint32) *sessMember {
	lo, hi := 0, len(s.Members)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.Members[m].Idx < idx {
			lo = m + 1
		} else {
			hi = m
		}
	}
	i, ok := lo, lo < len(s.Members) && s.Members[lo].Idx == idx
	if !ok {
		s.Members = slices.Insert(s.Members, i, sessMember{Idx: idx, First: 1<<63 - 1, Last: -1 << 63})
	}
	return &s.Members[i]
}

// observe adds [f, l] with count n at member idx.
func (s *session) observe(idx uint32, f, l, n, w int64, techniques []string, port uint16) {
	s.First, s.Last = min(s.First, f), max(s.Last, l)
	s.Count += n
	m := s.member(idx)
	m.Count += n
	m.add(f, l, w, !s.Qualified)
	for _, t := range techniques {
		s.Techniques = insertCapped(s.Techniques, t, maxCampaignTechniques)
	}
	if port != 0 {
		s.Ports = insertCapped(s.Ports, port, maxCampaignPorts)
	}
}

// absorb merges session x into s.
func (s *session) absorb(x *session, w int64) {
	s.First, s.Last = min(s.First, x.First), max(s.Last, x.Last)
	s.Count += x.Count
	s.Qualified = s.Qualified || x.Qualified
	for _, xm := range x.Members {
		m := s.member(xm.Idx)
		m.Count += xm.Count
		if xm.Spans == nil {
			m.add(xm.First, xm.Last, w, !s.Qualified)
		}
		for _, sp := range xm.Spans {
			m.add(sp.From, sp.To, w, !s.Qualified)
		}
	}
	for _, t := range x.Techniques {
		s.Techniques = insertCapped(s.Techniques, t, maxCampaignTechniques)
	}
	for _, p := range x.Ports {
		s.Ports = insertCapped(s.Ports, p, maxCampaignPorts)
	}
}

// qualify reports whether n or more members were active within some window
// [t, t+w], and if so drops the spans, which are no longer needed.
//
// A member active in span [a, b] is active in [t, t+w] exactly when t lies
// in [a-w, b]. A member's spans are more than w apart, so its shifted spans
// do not overlap: a sweep over all shifted spans counting open ones counts
// distinct members.
func (s *session) qualify(n int, w int64) bool {
	if s.Qualified {
		return true
	}
	if len(s.Members) < n {
		return false
	}
	type edge struct {
		t     int64
		delta int
	}
	var edges []edge
	for _, m := range s.Members {
		if m.Spans == nil {
			edges = append(edges, edge{m.First - w, 1}, edge{m.Last, -1})
		}
		for _, sp := range m.Spans {
			edges = append(edges, edge{sp.From - w, 1}, edge{sp.To, -1})
		}
	}
	slices.SortFunc(edges, func(a, b edge) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return cmp.Compare(b.delta, a.delta) // openings first: the window is closed
	})
	open := 0
	for _, e := range edges {
		open += e.delta
		if open >= n {
			s.Qualified = true
			for i := range s.Members {
				s.Members[i].Spans = nil
			}
			return true
		}
	}
	return false
}

// addSpan inserts sp into spans (sorted, more than w apart), merging the
// spans it comes within w of.
func addSpan(spans []span, sp span, w int64) []span {
	i := 0
	for i < len(spans) && spans[i].To+w < sp.From {
		i++
	}
	j := i
	for j < len(spans) && spans[j].From-w <= sp.To {
		sp.From, sp.To = min(sp.From, spans[j].From), max(sp.To, spans[j].To)
		j++
	}
	spans = slices.Replace(spans, i, j, sp)
	if len(spans) > maxSpans {
		k := 0
		for x := 1; x < len(spans)-1; x++ {
			if spans[x+1].From-spans[x].To < spans[k+1].From-spans[k].To {
				k = x
			}
		}
		spans[k].To = spans[k+1].To
		spans = slices.Delete(spans, k+1, k+2)
	}
	return spans
}

func insertCapped[T cmp.Ordered](s []T, v T, limit int) []T {
	i, ok := slices.BinarySearch(s, v)
	if ok || len(s) >= limit {
		return s
	}
	return slices.Insert(s, i, v)
}

// campaign renders a qualified session.
func (a *Aggregator) campaign(src netip.Addr, s *session) Campaign {
	c := Campaign{
		ID:         s.ID,
		Source:     src,
		Group:      s.Group,
		FirstSeen:  time.Unix(0, s.First).UTC(),
		LastSeen:   time.Unix(0, s.Last).UTC(),
		Members:    make([]MemberCount, len(s.Members)),
		Techniques: slices.Clone(s.Techniques),
		Ports:      slices.Clone(s.Ports),
		Count:      s.Count,
	}
	for i, m := range s.Members {
		c.Members[i] = MemberCount{
			Member:    a.st.Members[m.Idx],
			Count:     m.Count,
			FirstSeen: time.Unix(0, m.First).UTC(),
			LastSeen:  time.Unix(0, m.Last).UTC(),
		}
	}
	slices.SortFunc(c.Members, func(x, y MemberCount) int { return cmp.Compare(x.Member, y.Member) })
	return c
}

func compareCampaigns(x, y Campaign) int {
	if c := x.FirstSeen.Compare(y.FirstSeen); c != 0 {
		return c
	}
	if c := x.Source.Compare(y.Source); c != 0 {
		return c
	}
	return cmp.Compare(x.Group, y.Group)
}
