package aggregate

import (
	"cmp"
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
)

// snapshotFormat is the version of the snapshot encoding, its first byte.
// Format 3 is binary. Formats 1 and 2 were JSON (their first byte is '{'):
// format 1 ran eviction on event time, and format 2 is refused too rather
// than kept decodable; central then rebuilds from the store.
const snapshotFormat = 3

// Snapshot is the aggregation state (not the configuration) as
// Aggregator.Snapshot took it, encoded but for the order of the sources.
//
// Taking it holds the aggregator for one pass over the state, the shards
// encoded in parallel: an encoded source is smaller than a copy of its
// structures would be, and writing it is no slower. Sorting the sources,
// so that the encoding does not depend on the sharding or map order, and
// joining the parts run afterwards, without the aggregator.
type Snapshot struct {
	head   []byte // format byte to stats
	stats  Stats
	parts  []sourceBlobs // one per shard
	trends []byte
}

// sourceBlobs is one shard's sources, each encoded whole in one chunk:
// chunks are not regrown and recopied as a single buffer would be.
type sourceBlobs struct {
	chunks [][]byte
	refs   []blobRef
}

type blobRef struct {
	addr            netip.Addr
	chunk, from, to uint32
}

// blobChunk is the size of the chunks sources are encoded in; a source
// starts a new chunk when less than blobRoom is left in the current one.
const (
	blobChunk = 1 << 20
	blobRoom  = 4 << 10
)

// Snapshot takes the state for MarshalBinary or AppendBinary, holding the
// aggregator only while it encodes the sources and the trends: Add waits
// for one pass over the state, not for sorting and joining it.
func (a *Aggregator) Snapshot() *Snapshot {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := &Snapshot{stats: a.st.Stats, parts: make([]sourceBlobs, len(a.shards))}
	e := encoder{b: []byte{snapshotFormat}}
	e.uv(uint64(len(a.st.Members)))
	for _, m := range a.st.Members {
		e.str(m)
	}
	st := &a.st.Stats
	for _, v := range []int64{a.st.Clock, a.st.Swept, a.st.FirstDay, st.Observations, st.Campaigns,
		st.EvictedSources, st.EvictedSessions, st.EvictedKeys, st.TooOldForTrends} {
		e.i64(v)
	}
	s.head = e.b
	a.eachShard(func(k int, sh *shard) {
		// The first shard's goroutine also encodes the trends.
		if k == 0 {
			e := encoder{}
			encodeSeries(&e, a.st.Ports, func(e *encoder, p uint16) { e.b = binary.LittleEndian.AppendUint16(e.b, p) })
			encodeSeries(&e, a.st.Technique, (*encoder).str)
			encodeSeries(&e, a.st.Rules, (*encoder).str)
			s.trends = e.b
		}
		s.parts[k].encode(sh)
	})
	return s
}

func (p *sourceBlobs) encode(sh *shard) {
	p.refs = make([]blobRef, 0, len(sh.sources))
	e := encoder{b: make([]byte, 0, blobChunk)}
	for addr, s := range sh.sources {
		if cap(e.b)-len(e.b) < blobRoom {
			p.chunks = append(p.chunks, e.b)
			e.b = make([]byte, 0, blobChunk)
		}
		from := len(e.b)
		encodeSource(&e, addr, s)
		p.refs = append(p.refs, blobRef{addr, uint32(len(p.chunks)), uint32(from), uint32(len(e.b))})
	}
	p.chunks = append(p.chunks, e.b)
}

// MarshalBinary encodes the aggregation state (not the configuration).
// Campaign changes not yet returned by Changes are not part of it: after a
// restore, Campaigns gives the full current set.
func (a *Aggregator) MarshalBinary() ([]byte, error) {
	return a.Snapshot().AppendBinary(nil)
}

// MarshalBinary encodes the snapshot as Aggregator.MarshalBinary does.
func (s *Snapshot) MarshalBinary() ([]byte, error) { return s.AppendBinary(nil) }

// AppendBinary appends the encoding of the snapshot to b. The encoding is
// deterministic: sources and trend keys are sorted, so equal states encode
// to equal bytes however their shards hold them.
//
// Layout (integers little-endian; counts and small numbers uvarints,
// event counts varints, times 8 bytes): format byte, members, clock,
// swept, first day, stats, sources by address (profile, member views,
// ports, sessions with their members, spans, techniques and ports), then
// the port, technique and rule trend keys by key, with their days and the
// members that saw them.
func (s *Snapshot) AppendBinary(b []byte) ([]byte, error) {
	type ref struct {
		blobRef
		part int
	}
	n, size := 0, len(s.head)+binary.MaxVarintLen64+len(s.trends)
	for i := range s.parts {
		n += len(s.parts[i].refs)
		for _, c := range s.parts[i].chunks {
			size += len(c)
		}
	}
	refs := make([]ref, 0, n)
	for k := range s.parts {
		for _, r := range s.parts[k].refs {
			refs = append(refs, ref{r, k})
		}
	}
	slices.SortFunc(refs, func(x, y ref) int { return x.addr.Compare(y.addr) })
	b = slices.Grow(b, size)
	b = append(b, s.head...)
	b = binary.AppendUvarint(b, uint64(len(refs)))
	for _, r := range refs {
		b = append(b, s.parts[r.part].chunks[r.chunk][r.from:r.to]...)
	}
	return append(b, s.trends...), nil
}

func encodeSource(e *encoder, addr netip.Addr, s *sourceState) {
	e.addr(addr)
	e.i64(s.First)
	e.i64(s.Last)
	e.i64(s.Touched)
	e.bool(s.PortsCap)
	e.uv(uint64(len(s.Members)))
	for i := range s.Members {
		m := &s.Members[i]
		e.uv(uint64(m.Idx))
		e.v64(m.Count)
		e.i64(m.First)
		e.i64(m.Last)
	}
	e.ports(s.Ports)
	e.uv(uint64(len(s.Sessions)))
	for _, x := range s.Sessions {
		e.str(x.Group)
		e.str(x.ID)
		e.i64(x.First)
		e.i64(x.Last)
		e.v64(x.Count)
		e.bool(x.Qualified)
		e.i64(x.Touched)
		e.uv(uint64(len(x.Members)))
		for i := range x.Members {
			m := &x.Members[i]
			e.uv(uint64(m.Idx))
			e.v64(m.Count)
			e.i64(m.First)
			e.i64(m.Last)
			e.uv(uint64(len(m.Spans)))
			for _, sp := range m.Spans {
				e.i64(sp.From)
				e.i64(sp.To)
			}
		}
		e.uv(uint64(len(x.Techniques)))
		for _, t := range x.Techniques {
			e.str(t)
		}
		e.ports(x.Ports)
	}
}

func encodeSeries[K cmp.Ordered](e *encoder, m map[K]*series, key func(*encoder, K)) {
	e.uv(uint64(len(m)))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		s := m[k]
		key(e, k)
		e.i64(s.First)
		e.i64(s.Last)
		e.uv(uint64(len(s.Days)))
		for i := range s.Days {
			d := &s.Days[i]
			e.i64(d.Day)
			e.v64(d.Records)
			e.distinct(&d.Sources)
			e.distinct(&d.Targets)
		}
		e.uv(uint64(len(s.Members)))
		for _, idx := range slices.Sorted(maps.Keys(s.Members)) {
			e.uv(uint64(idx))
			e.i64(s.Members[idx])
		}
	}
}

func (e *encoder) distinct(d *distinct) {
	if d.Regs != nil {
		e.b = append(e.b, 1)
		e.b = append(e.b, d.Regs...)
		return
	}
	e.b = append(e.b, 0, byte(len(d.Small)))
	for _, h := range d.Small {
		e.b = binary.LittleEndian.AppendUint64(e.b, h)
	}
}

type encoder struct{ b []byte }

func (e *encoder) uv(v uint64)  { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) v64(v int64)  { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) i64(v int64)  { e.b = binary.LittleEndian.AppendUint64(e.b, uint64(v)) }
func (e *encoder) str(s string) { e.uv(uint64(len(s))); e.b = append(e.b, s...) }

func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) addr(a netip.Addr) {
	n := len(e.b)
	e.b = append(e.b, 0)
	e.b, _ = a.AppendBinary(e.b) // never fails
	e.b[n] = byte(len(e.b) - n - 1)
}

func (e *encoder) ports(ps []uint16) {
	e.uv(uint64(len(ps)))
	for _, p := range ps {
		e.b = binary.LittleEndian.AppendUint16(e.b, p)
	}
}

// UnmarshalBinary replaces the state with a snapshot from MarshalBinary.
// The aggregator keeps its own configuration. Corrupt input, or a snapshot
// of another format, is refused with an error and leaves the state as it
// was.
func (a *Aggregator) UnmarshalBinary(data []byte) error {
	switch {
	case len(data) == 0:
		return errors.New("aggregate: snapshot empty")
	case data[0] == '{':
		return fmt.Errorf("aggregate: snapshot in the JSON format of an older version, want format %d", snapshotFormat)
	case data[0] != snapshotFormat:
		return fmt.Errorf("aggregate: snapshot format %d, want %d", data[0], snapshotFormat)
	}
	d := decoder{b: data[1:], total: len(data), strs: make(map[string]string)}
	st := d.state()
	if d.err == nil && len(d.b) > 0 {
		d.fail("trailing data")
	}
	if d.err != nil {
		return fmt.Errorf("aggregate: snapshot: %w", d.err)
	}
	if err := st.check(); err != nil {
		return fmt.Errorf("aggregate: snapshot: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reset(st)
	return nil
}

// decoder reads what AppendBinary wrote. The first error sticks: every
// read after it returns zero values, so callers check err once.
type decoder struct {
	b     []byte
	total int
	err   error
	strs  map[string]string // groups, techniques and rules, shared
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("corrupt at byte %d: %s", d.total-len(d.b), what)
	}
	d.b = nil
}

func (d *decoder) state() state {
	var st state
	n := d.count(1, "members")
	st.Members = make([]string, n)
	for i := range st.Members {
		st.Members[i] = d.str(false)
	}
	st.Clock, st.Swept, st.FirstDay = d.i64(), d.i64(), d.i64()
	st.Stats = Stats{d.i64(), d.i64(), d.i64(), d.i64(), d.i64(), d.i64()}
	n = d.count(1+4+3*8+1+3, "sources")
	st.Sources = make(map[netip.Addr]*sourceState, n)
	for range n {
		addr := d.addr()
		if _, dup := st.Sources[addr]; dup && d.err == nil {
			d.fail(fmt.Sprintf("source %s repeated", addr))
		}
		if d.err != nil {
			return st
		}
		st.Sources[addr] = d.source()
	}
	st.Ports = decodeSeries(d, func() uint16 { return d.u16() })
	st.Technique = decodeSeries(d, func() string { return d.str(true) })
	st.Rules = decodeSeries(d, func() string { return d.str(true) })
	return st
}

func (d *decoder) source() *sourceState {
	s := newSourceState(d.i64(), d.i64())
	s.Touched = d.i64()
	s.PortsCap = d.bool()
	n := d.count(1+1+16, "source members")
	if n > len(s.Members) {
		s.Members = make([]seen, 0, n)
	}
	for range n {
		s.Members = append(s.Members, seen{Idx: d.idx(), Count: d.v64(), First: d.i64(), Last: d.i64()})
	}
	s.Ports = d.ports(s.Ports)
	n = d.count(2+3*8+1+1+1+1+1, "sessions")
	for range n {
		x := newSession(d.str(true), 0, 0)
		x.ID = d.str(false)
		x.First, x.Last, x.Count = d.i64(), d.i64(), d.v64()
		x.Qualified, x.Touched = d.bool(), d.i64()
		m := d.count(1+1+16+1, "session members")
		if m > cap(x.Members) {
			x.Members = make([]sessMember, 0, m)
		}
		for range m {
			sm := sessMember{Idx: d.idx(), Count: d.v64(), First: d.i64(), Last: d.i64()}
			if k := d.count(16, "spans"); k > 0 {
				sm.Spans = make([]span, k)
				for i := range sm.Spans {
					sm.Spans[i] = span{d.i64(), d.i64()}
				}
			}
			x.Members = append(x.Members, sm)
		}
		t := d.count(1, "techniques")
		for range t {
			x.Techniques = append(x.Techniques, d.str(true))
		}
		x.Ports = d.ports(x.Ports)
		s.Sessions = append(s.Sessions, x)
		if d.err != nil {
			break
		}
	}
	return s
}

func decodeSeries[K comparable](d *decoder, key func() K) map[K]*series {
	n := d.count(1+16+1+1, "trend keys")
	m := make(map[K]*series, n)
	for range n {
		k := key()
		if _, dup := m[k]; dup && d.err == nil {
			d.fail(fmt.Sprintf("trend key %v repeated", k))
		}
		if d.err != nil {
			return m
		}
		s := &series{First: d.i64(), Last: d.i64()}
		if days := d.count(8+1+2*2, "days"); days > 0 {
			s.Days = make([]dayStat, days)
			for i := range s.Days {
				s.Days[i] = dayStat{Day: d.i64(), Records: d.v64(), Sources: d.distinct(), Targets: d.distinct()}
			}
		}
		if firsts := d.count(1+8, "trend members"); firsts > 0 {
			s.Members = make(map[uint32]int64, firsts)
			for range firsts {
				idx := d.idx()
				if _, dup := s.Members[idx]; dup && d.err == nil {
					d.fail("trend member repeated")
				}
				s.Members[idx] = d.i64()
			}
		}
		m[k] = s
	}
	return m
}

func (d *decoder) distinct() distinct {
	switch d.u8() {
	case 0:
		n := d.u8()
		if n > smallDistinct {
			d.fail("distinct counter too large")
			return distinct{}
		}
		var x distinct
		if n > 0 && d.need(int(n)*8) {
			x.Small = make([]uint64, n)
			for i := range x.Small {
				x.Small[i] = binary.LittleEndian.Uint64(d.b[8*i:])
			}
			d.b = d.b[8*int(n):]
		}
		return x
	case 1:
		if !d.need(hllRegs) {
			return distinct{}
		}
		x := distinct{Regs: slices.Clone(d.b[:hllRegs])}
		d.b = d.b[hllRegs:]
		return x
	}
	d.fail("invalid distinct counter")
	return distinct{}
}

// need reports whether n more bytes are there, failing if not.
func (d *decoder) need(n int) bool {
	if len(d.b) < n {
		d.fail("truncated")
		return false
	}
	return true
}

func (d *decoder) u8() byte {
	if !d.need(1) {
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) u16() uint16 {
	if !d.need(2) {
		return 0
	}
	v := binary.LittleEndian.Uint16(d.b)
	d.b = d.b[2:]
	return v
}

func (d *decoder) i64() int64 {
	if !d.need(8) {
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return int64(v)
}

func (d *decoder) uv() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("invalid number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) v64() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("invalid number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bool() bool {
	switch d.u8() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("invalid flag")
	return false
}

// idx reads a member index; check bounds it by the members.
func (d *decoder) idx() uint32 {
	v := d.uv()
	if v > 1<<32-1 {
		d.fail("member index out of range")
		return 0
	}
	return uint32(v)
}

// count reads the number of entries that follow, each at least min bytes
// long: a count the remaining input cannot hold is refused, so corrupt
// input cannot make the decoder allocate beyond its own size.
func (d *decoder) count(min int, what string) int {
	v := d.uv()
	if v > uint64(len(d.b)/min) {
		d.fail(what + ": count exceeds the input")
		return 0
	}
	return int(v)
}

// str reads a string; shared ones are interned (a snapshot repeats few
// groups and techniques thousands of times).
func (d *decoder) str(shared bool) string {
	n := d.count(1, "string")
	if !d.need(n) {
		return ""
	}
	b := d.b[:n]
	d.b = d.b[n:]
	if !shared {
		return string(b)
	}
	if s, ok := d.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	d.strs[s] = s
	return s
}

func (d *decoder) addr() netip.Addr {
	n := int(d.u8())
	if !d.need(n) {
		return netip.Addr{}
	}
	var a netip.Addr
	if err := a.UnmarshalBinary(d.b[:n]); err != nil || !a.IsValid() {
		d.fail("invalid address")
		return netip.Addr{}
	}
	d.b = d.b[n:]
	return a
}

func (d *decoder) ports(dst []uint16) []uint16 {
	n := d.count(2, "ports")
	if n > cap(dst) {
		dst = make([]uint16, 0, n)
	}
	for range n {
		dst = append(dst, d.u16())
	}
	return dst
}

// check refuses a snapshot that would break the aggregator's invariants.
func (st *state) check() error {
	n := uint32(len(st.Members))
	seenNames := make(map[string]bool, n)
	for _, m := range st.Members {
		if m == "" || seenNames[m] {
			return fmt.Errorf("member %q empty or repeated", m)
		}
		seenNames[m] = true
	}
	for addr, s := range st.Sources {
		if s == nil || !addr.IsValid() || addr != addr.Unmap() {
			return fmt.Errorf("source %s: invalid entry", addr)
		}
		if s.Touched > st.Clock {
			return fmt.Errorf("source %s: touched after the clock", addr)
		}
		for i, m := range s.Members {
			if m.Idx >= n || i > 0 && s.Members[i-1].Idx >= m.Idx {
				return fmt.Errorf("source %s: member index %d out of range or unsorted", addr, m.Idx)
			}
		}
		for _, x := range s.Sessions {
			if x == nil || x.Group == "" || x.Touched > st.Clock {
				return fmt.Errorf("source %s: invalid session", addr)
			}
			for i, m := range x.Members {
				if m.Idx >= n || i > 0 && x.Members[i-1].Idx >= m.Idx {
					return fmt.Errorf("source %s: session member index %d out of range or unsorted", addr, m.Idx)
				}
			}
			if x.Qualified && x.ID == "" {
				return fmt.Errorf("source %s: campaign without id", addr)
			}
		}
	}
	checkSeries := func(name string, s *series) error {
		if s == nil {
			return fmt.Errorf("%s: invalid entry", name)
		}
		for i, d := range s.Days {
			if i > 0 && s.Days[i-1].Day >= d.Day {
				return fmt.Errorf("%s: days unsorted", name)
			}
			for _, x := range []distinct{d.Sources, d.Targets} {
				if x.Regs != nil && len(x.Regs) != hllRegs || len(x.Small) > smallDistinct {
					return fmt.Errorf("%s: invalid distinct counter", name)
				}
			}
		}
		for idx := range s.Members {
			if idx >= n {
				return fmt.Errorf("%s: member index %d out of range", name, idx)
			}
		}
		return nil
	}
	for p, s := range st.Ports {
		if err := checkSeries(fmt.Sprintf("port %d", p), s); err != nil {
			return err
		}
	}
	for k, s := range st.Technique {
		if err := checkSeries("technique "+k, s); err != nil {
			return err
		}
	}
	for k, s := range st.Rules {
		if err := checkSeries("signature "+k, s); err != nil {
			return err
		}
	}
	return nil
}

var (
	_ encoding.BinaryMarshaler   = (*Aggregator)(nil)
	_ encoding.BinaryUnmarshaler = (*Aggregator)(nil)
)
