package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/detect"
)

// where builds a conjunction of conditions with numbered parameters.
type where struct {
	conds []string
	args  []any
}

// add appends cond, in which each "?" stands for the next of args.
func (w *where) add(cond string, args ...any) {
	for _, a := range args {
		w.args = append(w.args, a)
		cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(w.args)), 1)
	}
	w.conds = append(w.conds, cond)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// timeWindow adds col >= since and col < until, each when set.
func (w *where) timeWindow(col string, since, until time.Time) {
	if !since.IsZero() {
		w.add(col+" >= ?", since)
	}
	if !until.IsZero() {
		w.add(col+" < ?", until)
	}
}

const detectionSelect = `SELECT id, member_id, collector_id, batch_id, rule_id, rule_name, severity, techniques,
	source_ip, destination_ip, coalesce(destination_port, 0), related_ips, distinct_sources, count, first_seen,
	last_seen, received, raw FROM detections`

// Detections implements store.Store.
func (s *Store) Detections(ctx context.Context, f store.DetectionFilter) (ds []store.Detection, err error) {
	var w where
	if f.MemberID != "" {
		w.add("member_id = ?", f.MemberID)
	}
	if f.Source.IsValid() {
		w.add("source_ip = ?", addr(f.Source))
	}
	w.timeWindow("last_seen", f.Since, f.Until)
	if f.RuleID != "" {
		w.add("rule_id = ?", f.RuleID)
	}
	if f.After > 0 {
		w.add("id > ?", f.After)
	}
	q := detectionSelect + w.String() + " ORDER BY id LIMIT " + strconv.Itoa(limit(f.Limit))
	err = s.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, q, w.args...)
		ds, err = collect(rows, err, scanDetection)
		return err
	})
	return ds, s.wrap("detections", err)
}

func scanDetection(r pgx.Row) (store.Detection, error) {
	var d store.Detection
	var severity int16
	var port, distinct int32
	err := r.Scan(&d.ID, &d.MemberID, &d.CollectorID, &d.BatchID, &d.RuleID, &d.RuleName, &severity, &d.Techniques,
		&d.Source, &d.Destination, &port, &d.Related, &distinct, &d.Count, ts(&d.FirstSeen), ts(&d.LastSeen),
		ts(&d.Received), &d.Raw)
	if len(d.Techniques) == 0 {
		d.Techniques = nil
	}
	d.Severity, d.DestinationPort, d.DistinctSources = int(severity), uint16(port), int(distinct)
	d.Source, d.Destination = d.Source.Unmap(), d.Destination.Unmap()
	for i, a := range d.Related {
		d.Related[i] = a.Unmap()
	}
	return d, err
}

// Summaries implements store.Store.
func (s *Store) Summaries(ctx context.Context, f store.SummaryFilter) (ss []store.Summary, err error) {
	var w where
	if f.MemberID != "" {
		w.add("member_id = ?", f.MemberID)
	}
	w.timeWindow("minute", f.Since, f.Until)
	if f.After > 0 {
		w.add("id > ?", f.After)
	}
	q := `SELECT id, member_id, collector_id, received, minute, source_ip, destination_port, transport, event_type,
		device, dataset, count, destination FROM summaries` + w.String() + " ORDER BY id LIMIT " + strconv.Itoa(limit(f.Limit))
	err = s.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, q, w.args...)
		ss, err = collect(rows, err, func(r pgx.Row) (store.Summary, error) {
			var x store.Summary
			var port int32
			err := r.Scan(&x.ID, &x.MemberID, &x.CollectorID, ts(&x.Received), ts(&x.Minute), &x.SourceIP, &port,
				&x.Transport, &x.EventType, &x.Device, &x.Dataset, &x.Count, &x.Destination)
			x.DestinationPort, x.SourceIP = uint16(port), x.SourceIP.Unmap()
			return x, err
		})
		return err
	})
	return ss, s.wrap("summaries", err)
}

// SummaryCounts implements store.Store.
func (s *Store) SummaryCounts(ctx context.Context, f store.SummaryCountFilter) (cs []store.SummaryCount, err error) {
	var unit string
	switch f.Bucket {
	case store.Hour:
		unit = "hour"
	case store.Day:
		unit = "day"
	default:
		return nil, s.wrap("summary counts", fmt.Errorf("%w: bucket %d", store.ErrInvalid, f.Bucket))
	}
	w := where{args: []any{unit}} // $1
	if f.MemberID != "" {
		w.add("member_id = ?", f.MemberID)
	}
	w.timeWindow("minute", f.Since, f.Until)
	q := `SELECT date_trunc($1, minute, 'UTC') AS bucket, destination_port, source_ip, member_id, sum(count)::bigint
		FROM summaries` + w.String() + `
		GROUP BY bucket, destination_port, source_ip, member_id
		ORDER BY bucket, destination_port, source_ip, member_id`
	err = s.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, q, w.args...)
		cs, err = collect(rows, err, func(r pgx.Row) (store.SummaryCount, error) {
			var x store.SummaryCount
			var port int32
			err := r.Scan(ts(&x.Bucket), &port, &x.Source, &x.MemberID, &x.Count)
			x.Port, x.Source = uint16(port), x.Source.Unmap()
			return x, err
		})
		return err
	})
	return cs, s.wrap("summary counts", err)
}

// Health implements store.Store: the collectors with their latest report,
// then the devices of all of them in one query.
func (s *Store) Health(ctx context.Context, memberID string) (out []store.CollectorHealth, err error) {
	err = s.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT c.id, c.member_id, c.cert_serial, c.cert_not_after, c.created, c.revoked,
			c.last_seen, h.health FROM collectors c LEFT JOIN collector_health h ON h.collector_id = c.id
			WHERE $1 = '' OR c.member_id = $1 ORDER BY c.id`, memberID)
		out, err = collect(rows, err, func(r pgx.Row) (store.CollectorHealth, error) {
			var ch store.CollectorHealth
			var js []byte
			col := &ch.Collector
			if err := r.Scan(&col.ID, &col.MemberID, &col.CertSerial, ts(&col.CertNotAfter), ts(&col.Created),
				ts(&col.Revoked), ts(&col.LastSeen), &js); err != nil {
				return ch, err
			}
			if js != nil {
				ch.Health = new(detect.Health)
				if err := json.Unmarshal(js, ch.Health); err != nil {
					return ch, fmt.Errorf("health of %s: %w", col.ID, err)
				}
			}
			return ch, nil
		})
		if err != nil || len(out) == 0 {
			return err
		}
		rows, err = c.Query(ctx, `SELECT d.collector_id, d.device, d.dataset, d.last_seen FROM device_health d
			JOIN collectors c ON c.id = d.collector_id WHERE $1 = '' OR c.member_id = $1
			ORDER BY d.collector_id, d.device`, memberID)
		type seen struct {
			collector string
			store.DeviceSeen
		}
		devs, err := collect(rows, err, func(r pgx.Row) (seen, error) {
			var d seen
			err := r.Scan(&d.collector, &d.Device, &d.Dataset, ts(&d.LastSeen))
			return d, err
		})
		if err != nil {
			return err
		}
		// Both lists are ordered by collector id.
		i := 0
		for _, d := range devs {
			for i < len(out) && out[i].Collector.ID < d.collector {
				i++
			}
			if i < len(out) && out[i].Collector.ID == d.collector {
				out[i].Devices = append(out[i].Devices, d.DeviceSeen)
			}
		}
		return nil
	})
	return out, s.wrap("health", err)
}

// Counts implements store.Store. Each batch row holds its number of
// detections and summaries, and retention deletes a batch with its rows,
// so the sums over batches are exact without counting the large tables.
func (s *Store) Counts(ctx context.Context, memberID string) (n store.Counts, err error) {
	err = s.with(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT count(*), coalesce(sum(detections), 0)::bigint, coalesce(sum(summaries), 0)::bigint
			FROM batches WHERE $1 = '' OR member_id = $1`, memberID).Scan(&n.Batches, &n.Detections, &n.Summaries)
	})
	return n, s.wrap("counts", err)
}

// sourceActivitySQL reads a window's detections with a source, only what
// SourceActivity groups of them, ordered by source; the window comes from
// the BRIN index on last_seen. SourceActivity groups each source's run as
// it streams. Grouping in the database instead costs more than the sort:
// each detection is nearly a group of its own (source, member,
// techniques, port), the planner's estimate of groups is far off, and its
// hash aggregate spills to disk. techniques comes as text, its array
// literal, so that each distinct set is decoded once.
const sourceActivitySQL = `SELECT source_ip, member_id, techniques::text, coalesce(destination_port, 0), count,
		first_seen, last_seen
	FROM detections
	WHERE last_seen >= $1 AND last_seen < $2 AND source_ip IS NOT NULL
	ORDER BY source_ip`

// SourceActivity implements store.Store. It reads millions of rows for a
// wide window, so a row costs no allocation: members and technique sets
// are interned, and each source's lists are cut from shared blocks.
func (s *Store) SourceActivity(ctx context.Context, since, until time.Time) (out []store.SourceActivity, err error) {
	if until.IsZero() {
		until = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	}
	err = s.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, sourceActivitySQL, since, until)
		if err != nil {
			return err
		}
		defer rows.Close()
		var (
			acts       chunks[store.SourceActivity]
			members    = make(map[string]string)
			techSets   = make(map[string][]string)
			strs       arena[string]
			portBlocks arena[uint16]
			// The source being grouped, and its lists so far.
			cur                  store.SourceActivity
			curMembers, curTechs []string
			curPorts             []uint16
			src                  netip.Addr
			member, techniques   pgtype.DriverBytes
			port                 int32
			count                int64
			first, last          time.Time
		)
		flush := func() {
			if !cur.Source.IsValid() {
				return
			}
			slices.Sort(curMembers)
			slices.Sort(curTechs)
			slices.Sort(curPorts)
			cur.Members, cur.Techniques, cur.Ports = strs.copy(curMembers), strs.copy(curTechs), portBlocks.copy(curPorts)
			acts.add(cur)
		}
		for rows.Next() {
			if err := rows.Scan(&src, &member, &techniques, &port, &count, ts(&first), ts(&last)); err != nil {
				return err
			}
			src = src.Unmap()
			if src != cur.Source {
				flush()
				cur = store.SourceActivity{Source: src, FirstSeen: first, LastSeen: last}
				curMembers, curTechs, curPorts = curMembers[:0], curTechs[:0], curPorts[:0]
			}
			m, ok := members[string(member)]
			if !ok {
				m = string(member)
				members[m] = m
			}
			set, ok := techSets[string(techniques)]
			if !ok {
				if err := c.TypeMap().Scan(pgtype.TextArrayOID, pgx.TextFormatCode, techniques, &set); err != nil {
					return fmt.Errorf("techniques %q: %w", techniques, err)
				}
				techSets[string(techniques)] = set
			}
			curMembers = appendNew(curMembers, m)
			for _, t := range set {
				curTechs = appendNew(curTechs, t)
			}
			if port != 0 && !slices.Contains(curPorts, uint16(port)) {
				curPorts = append(curPorts, uint16(port))
			}
			cur.Detections++
			cur.Count += count
			if first.Before(cur.FirstSeen) {
				cur.FirstSeen = first
			}
			if last.After(cur.LastSeen) {
				cur.LastSeen = last
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		flush()
		out = acts.all()
		return nil
	})
	if err != nil {
		return nil, s.wrap("source activity", err)
	}
	return out, nil
}

// chunks collects a list of unknown length in blocks, and copies it into
// one slice once, at the end: appending to one slice would copy a list of
// a million sources several times over as it grows.
type chunks[T any] struct {
	full [][]T
	last []T
	n    int
}

func (c *chunks[T]) add(v T) {
	if len(c.last) == cap(c.last) {
		if c.last != nil {
			c.full = append(c.full, c.last)
		}
		c.last = make([]T, 0, min(max(c.n, 1024), 1<<16))
	}
	c.last = append(c.last, v)
	c.n++
}

func (c *chunks[T]) all() []T {
	if len(c.full) == 0 {
		return c.last
	}
	out := make([]T, 0, c.n)
	for _, b := range c.full {
		out = append(out, b...)
	}
	return append(out, c.last...)
}

// arena cuts small slices from large blocks: one allocation for the lists
// of thousands of sources instead of one each. A slice it returns has no
// spare capacity, so appending to it copies.
type arena[T any] struct{ block []T }

func (a *arena[T]) copy(v []T) []T {
	if len(v) == 0 {
		return nil
	}
	if cap(a.block)-len(a.block) < len(v) {
		a.block = make([]T, 0, max(4096, len(v)))
	}
	n := len(a.block)
	a.block = append(a.block, v...)
	return a.block[n:len(a.block):len(a.block)]
}

func appendNew(list []string, v string) []string {
	if slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

// SourceMembers implements store.Store: one query with the sources as an
// array parameter.
func (s *Store) SourceMembers(ctx context.Context, sources []netip.Addr, since time.Time) (map[netip.Addr][]string, error) {
	out := make(map[netip.Addr][]string)
	arg := make([]netip.Addr, 0, len(sources))
	for _, a := range sources {
		if a.IsValid() {
			arg = append(arg, addr(a))
		}
	}
	if len(arg) == 0 {
		return out, nil
	}
	err := s.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT DISTINCT source_ip, member_id FROM detections
			WHERE last_seen >= $1 AND source_ip = ANY ($2::inet[]) ORDER BY source_ip, member_id`, since, arg)
		if err != nil {
			return err
		}
		defer rows.Close()
		var a netip.Addr
		var m string
		for rows.Next() {
			if err := rows.Scan(&a, &m); err != nil {
				return err
			}
			a = a.Unmap()
			out[a] = append(out[a], m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.wrap("source members", err)
	}
	return out, nil
}
