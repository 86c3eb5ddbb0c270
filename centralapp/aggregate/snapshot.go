package aggregate

import (
	"encoding"
	"encoding/json"
	"fmt"
	"net/netip"
)

// snapshotFormat is the version of the snapshot encoding. Format 2 stamps
// state with processing time; format 1 snapshots, whose eviction ran on
// event time, are refused (central then starts afresh).
const snapshotFormat = 2

type snapshot struct {
	Format int
	State  state
}

// MarshalBinary encodes the aggregation state (not the configuration) as
// JSON. Campaign changes not yet returned by Changes are not part of it: after
// a restore, Campaigns gives the full current set.
func (a *Aggregator) MarshalBinary() ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.st
	st.Sources = make(map[netip.Addr]*sourceState, a.sourceCount())
	for addr, s := range a.allSources {
		st.Sources[addr] = s
	}
	return json.Marshal(snapshot{Format: snapshotFormat, State: st})
}

// UnmarshalBinary replaces the state with a snapshot from MarshalBinary.
// The aggregator keeps its own configuration.
func (a *Aggregator) UnmarshalBinary(data []byte) error {
	var snap snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return fmt.Errorf("aggregate: snapshot: %w", err)
	}
	if snap.Format != snapshotFormat {
		return fmt.Errorf("aggregate: snapshot format %d, want %d", snap.Format, snapshotFormat)
	}
	if err := snap.State.check(); err != nil {
		return fmt.Errorf("aggregate: snapshot: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reset(snap.State)
	return nil
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
