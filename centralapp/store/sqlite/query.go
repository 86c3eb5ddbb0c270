package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/detect"
)

// where builds a conjunction of conditions and their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// untilTS maps an unset upper bound to the largest time.
func untilTS(t time.Time) int64 {
	if t.IsZero() {
		return math.MaxInt64
	}
	return t.UnixNano()
}

// Detections implements store.Store.
func (s *Store) Detections(ctx context.Context, f store.DetectionFilter) ([]store.Detection, error) {
	var w where
	if f.MemberID != "" {
		w.add("member_id = ?", f.MemberID)
	}
	if f.Source.IsValid() {
		w.add("source_ip = ?", ip(f.Source))
	}
	if !f.Since.IsZero() || !f.Until.IsZero() {
		w.add("last_seen >= ? AND last_seen < ?", ts(f.Since), untilTS(f.Until))
	}
	if f.RuleID != "" {
		w.add("rule_id = ?", f.RuleID)
	}
	if f.After > 0 {
		w.add("id > ?", f.After)
	}
	q := `SELECT id, member_id, collector_id, batch_id, rule_id, rule_name, severity, techniques, source_ip,
		destination_ip, coalesce(destination_port, 0), related_ips, distinct_sources, count, first_seen, last_seen,
		received, raw FROM detections` + w.String() + " ORDER BY id LIMIT " + strconv.Itoa(limit(f.Limit))
	rows, err := s.r.QueryContext(ctx, q, w.args...)
	if err != nil {
		return nil, s.wrap("detections", err)
	}
	ds, err := collect(rows, scanDetection)
	return ds, s.wrap("detections", err)
}

func scanDetection(sc interface{ Scan(...any) error }) (store.Detection, error) {
	var d store.Detection
	var techniques string
	var src, dst, related []byte
	var port int64
	var first, last, received int64
	if err := sc.Scan(&d.ID, &d.MemberID, &d.CollectorID, &d.BatchID, &d.RuleID, &d.RuleName, &d.Severity,
		&techniques, &src, &dst, &port, &related, &d.DistinctSources, &d.Count, &first, &last, &received,
		&d.Raw); err != nil {
		return d, err
	}
	if techniques != "" {
		d.Techniques = strings.Split(techniques, ",")
	}
	var err error
	if d.Source, err = fromIP(src); err != nil {
		return d, err
	}
	if d.Destination, err = fromIP(dst); err != nil {
		return d, err
	}
	if d.Related, err = fromIPs(related); err != nil {
		return d, err
	}
	d.DestinationPort = uint16(port)
	d.FirstSeen, d.LastSeen, d.Received = fromTS(first), fromTS(last), fromTS(received)
	return d, nil
}

// Summaries implements store.Store.
func (s *Store) Summaries(ctx context.Context, f store.SummaryFilter) ([]store.Summary, error) {
	var w where
	if f.MemberID != "" {
		w.add("member_id = ?", f.MemberID)
	}
	if !f.Since.IsZero() || !f.Until.IsZero() {
		w.add("minute >= ? AND minute < ?", ts(f.Since), untilTS(f.Until))
	}
	if f.After > 0 {
		w.add("id > ?", f.After)
	}
	q := `SELECT id, member_id, collector_id, received, minute, source_ip, destination_port, transport, event_type,
		device, dataset, count, destination FROM summaries` + w.String() + " ORDER BY id LIMIT " + strconv.Itoa(limit(f.Limit))
	rows, err := s.r.QueryContext(ctx, q, w.args...)
	if err != nil {
		return nil, s.wrap("summaries", err)
	}
	ss, err := collect(rows, func(sc interface{ Scan(...any) error }) (store.Summary, error) {
		var x store.Summary
		var received, minute int64
		var src []byte
		err := sc.Scan(&x.ID, &x.MemberID, &x.CollectorID, &received, &minute, &src, &x.DestinationPort,
			&x.Transport, &x.EventType, &x.Device, &x.Dataset, &x.Count, &x.Destination)
		if err != nil {
			return x, err
		}
		x.Received, x.Minute = fromTS(received), fromTS(minute)
		x.SourceIP, err = fromIP(src)
		return x, err
	})
	return ss, s.wrap("summaries", err)
}

// SummaryCounts implements store.Store.
func (s *Store) SummaryCounts(ctx context.Context, f store.SummaryCountFilter) ([]store.SummaryCount, error) {
	var width int64
	switch f.Bucket {
	case store.Hour:
		width = int64(time.Hour)
	case store.Day:
		width = int64(24 * time.Hour)
	default:
		return nil, s.wrap("summary counts", fmt.Errorf("%w: bucket %d", store.ErrInvalid, f.Bucket))
	}
	var w where
	if f.MemberID != "" {
		w.add("member_id = ?", f.MemberID)
	}
	w.add("minute >= ? AND minute < ?", ts(f.Since), untilTS(f.Until))
	// Times are after 1970, so integer division floors.
	q := `SELECT minute / ? * ? AS bucket, destination_port, source_ip, member_id, sum(count) FROM summaries` +
		w.String() + " GROUP BY bucket, destination_port, source_ip, member_id ORDER BY bucket, destination_port, source_ip, member_id"
	rows, err := s.r.QueryContext(ctx, q, append([]any{width, width}, w.args...)...)
	if err != nil {
		return nil, s.wrap("summary counts", err)
	}
	cs, err := collect(rows, func(sc interface{ Scan(...any) error }) (store.SummaryCount, error) {
		var c store.SummaryCount
		var bucket int64
		var src []byte
		if err := sc.Scan(&bucket, &c.Port, &src, &c.MemberID, &c.Count); err != nil {
			return c, err
		}
		c.Bucket = time.Unix(0, bucket).UTC()
		var err error
		c.Source, err = fromIP(src)
		return c, err
	})
	return cs, s.wrap("summary counts", err)
}

// Health implements store.Store.
func (s *Store) Health(ctx context.Context, memberID string) ([]store.CollectorHealth, error) {
	cs, err := s.Collectors(ctx, memberID)
	if err != nil {
		return nil, err
	}
	out := make([]store.CollectorHealth, len(cs))
	for i, c := range cs {
		out[i].Collector = c
		var js []byte
		err := s.r.QueryRowContext(ctx, "SELECT health FROM collector_health WHERE collector_id = ?", c.ID).Scan(&js)
		switch {
		case err == sql.ErrNoRows:
		case err != nil:
			return nil, s.wrap("health", err)
		default:
			out[i].Health = new(detect.Health)
			if err := json.Unmarshal(js, out[i].Health); err != nil {
				return nil, s.wrap("health of "+c.ID, err)
			}
		}
		rows, err := s.r.QueryContext(ctx,
			"SELECT device, dataset, last_seen FROM device_health WHERE collector_id = ? ORDER BY device", c.ID)
		if err != nil {
			return nil, s.wrap("health", err)
		}
		out[i].Devices, err = collect(rows, func(sc interface{ Scan(...any) error }) (store.DeviceSeen, error) {
			var d store.DeviceSeen
			var last int64
			err := sc.Scan(&d.Device, &d.Dataset, &last)
			d.LastSeen = fromTS(last)
			return d, err
		})
		if err != nil {
			return nil, s.wrap("health", err)
		}
	}
	return out, nil
}

// Counts implements store.Store.
func (s *Store) Counts(ctx context.Context, memberID string) (store.Counts, error) {
	var c store.Counts
	err := s.r.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM batches WHERE ? = '' OR member_id = ?),
		(SELECT count(*) FROM detections WHERE ? = '' OR member_id = ?),
		(SELECT count(*) FROM summaries WHERE ? = '' OR member_id = ?)`,
		memberID, memberID, memberID, memberID, memberID, memberID).Scan(&c.Batches, &c.Detections, &c.Summaries)
	return c, s.wrap("counts", err)
}

// sourceActivitySQL groups a window of detections by source in two steps:
// first by source, member, techniques and port with plain aggregates, then
// by source, concatenating those few distinct combinations, so one row per
// source crosses into Go, and no DISTINCT aggregate (a temporary table per
// group, measured several times slower) is needed. SourceActivity removes
// the repeats the concatenations can still hold. Its plan must stay on the
// covering time index (see TestPlans).
const sourceActivitySQL = `SELECT source_ip, group_concat(member_id), group_concat(techniques), group_concat(port),
	sum(n), sum(c), min(f), max(l)
	FROM (SELECT source_ip, member_id, techniques, coalesce(destination_port, 0) AS port, count(*) AS n,
			sum(count) AS c, min(first_seen) AS f, max(last_seen) AS l
		FROM detections
		WHERE last_seen >= ? AND last_seen < ? AND source_ip IS NOT NULL
		GROUP BY source_ip, member_id, techniques, destination_port)
	GROUP BY source_ip ORDER BY source_ip`

// sourceMembersSQL finds the members that saw some sources; the list of
// sources is appended.
const sourceMembersSQL = `SELECT DISTINCT source_ip, member_id FROM detections WHERE last_seen >= ? AND source_ip IN (?`

// SourceActivity implements store.Store. SQLite reads the window from the
// covering time index and groups it (see sourceActivitySQL).
func (s *Store) SourceActivity(ctx context.Context, since, until time.Time) ([]store.SourceActivity, error) {
	rows, err := s.r.QueryContext(ctx, sourceActivitySQL, ts(since), untilTS(until))
	if err != nil {
		return nil, s.wrap("source activity", err)
	}
	defer rows.Close()
	var out []store.SourceActivity
	var src, members, techniques, ports sql.RawBytes
	var first, last int64
	for rows.Next() {
		var a store.SourceActivity
		if err := rows.Scan(&src, &members, &techniques, &ports, &a.Detections, &a.Count, &first, &last); err != nil {
			return nil, s.wrap("source activity", err)
		}
		if len(src) != 16 {
			return nil, s.wrap("source activity", fmt.Errorf("stored address has %d bytes", len(src)))
		}
		a.Source = netip.AddrFrom16([16]byte(src)).Unmap()
		a.Members = splitSet(members)
		a.Techniques = splitSet(techniques)
		for p := range strings.SplitSeq(string(ports), ",") {
			n, err := strconv.ParseUint(p, 10, 16)
			if err != nil {
				return nil, s.wrap("source activity", fmt.Errorf("stored port %q: %w", p, err))
			}
			if n != 0 && !slices.Contains(a.Ports, uint16(n)) {
				a.Ports = append(a.Ports, uint16(n))
			}
		}
		slices.Sort(a.Ports)
		a.FirstSeen, a.LastSeen = fromTS(first), fromTS(last)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("source activity", err)
	}
	return out, nil
}

// splitSet splits a comma-joined list into its distinct parts, sorted.
func splitSet(b []byte) []string {
	var out []string
	for p := range strings.SplitSeq(string(b), ",") {
		if p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// SourceMembers implements store.Store.
func (s *Store) SourceMembers(ctx context.Context, sources []netip.Addr, since time.Time) (map[netip.Addr][]string, error) {
	out := make(map[netip.Addr][]string)
	const chunk = 30_000 // under SQLite's limit of 32,766 bound parameters
	for len(sources) > 0 {
		n := min(len(sources), chunk)
		args := make([]any, 0, n+1)
		for _, a := range sources[:n] {
			if a.IsValid() {
				args = append(args, ip(a))
			}
		}
		sources = sources[n:]
		if len(args) == 0 {
			continue
		}
		args = append([]any{ts(since)}, args...)
		rows, err := s.r.QueryContext(ctx, sourceMembersSQL+strings.Repeat(",?", len(args)-2)+")", args...)
		if err != nil {
			return nil, s.wrap("source members", err)
		}
		type pair struct {
			a netip.Addr
			m string
		}
		ps, err := collect(rows, func(sc interface{ Scan(...any) error }) (pair, error) {
			var p pair
			var src []byte
			if err := sc.Scan(&src, &p.m); err != nil {
				return p, err
			}
			var err error
			p.a, err = fromIP(src)
			return p, err
		})
		if err != nil {
			return nil, s.wrap("source members", err)
		}
		for _, p := range ps {
			out[p.a] = append(out[p.a], p.m)
		}
	}
	for _, ms := range out {
		slices.Sort(ms)
	}
	return out, nil
}

func splitPorts(s string) ([]uint16, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	ports := make([]uint16, 0, len(parts))
	for _, p := range parts {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("stored port %q: %w", p, err)
		}
		ports = append(ports, uint16(n))
	}
	slices.Sort(ports)
	return slices.Compact(ports), nil
}
