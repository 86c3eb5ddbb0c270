package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
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
	q := `SELECT ` + detectionColumns + ` FROM detections` + w.String() + " ORDER BY id LIMIT " + strconv.Itoa(limit(f.Limit))
	ds := pages[store.Detection]{limit: limit(f.Limit)}
	err := s.queryRows(ctx, q, w.args, len(detectionColumnNames), func(vs []driver.Value) error {
		return scanDetection(ds.next(), vs)
	})
	if err != nil {
		return nil, s.wrap("detections", err)
	}
	return ds.all(), nil
}

// detectionColumns reads a detection as five values. The driver hands
// each value over boxed in an interface, and each string and blob in an
// allocation of its own: with a column per field that was 21 allocations
// a row. So SQLite joins the integers and the text fields into one text,
// the head: the integers in decimal, then the byte lengths of the texts,
// then '|' and the texts one after the other. The texts of a detection
// then share that one string.
const detectionColumns = `printf('%d %d %d %d %d %d %d %d %d %d %d %d %d %d|', id, severity,
		coalesce(destination_port, 0), distinct_sources, count, first_seen, last_seen, received,
		octet_length(member_id), octet_length(collector_id), octet_length(batch_id), octet_length(rule_id),
		octet_length(rule_name), octet_length(techniques))
	|| member_id || collector_id || batch_id || rule_id || rule_name || techniques,
	source_ip, destination_ip, related_ips, raw`

// detectionColumnNames name detectionColumns' values in errors.
var detectionColumnNames = []string{"head", "source_ip", "destination_ip", "related_ips", "raw"}

func scanDetection(d *store.Detection, vs []driver.Value) error {
	r := rowReader{vs: vs, names: detectionColumnNames}
	head := r.text()
	d.Source, d.Destination = r.addr(), r.addr()
	d.Related = r.addrs()
	d.Raw = r.blob()
	if r.err != nil {
		return r.err
	}
	var n [14]int64
	rest := head
	for i := range n {
		sep := byte(' ')
		if i == len(n)-1 {
			sep = '|'
		}
		end := strings.IndexByte(rest, sep)
		if end < 0 {
			return fmt.Errorf("column head: malformed %.40q", head)
		}
		var err error
		if n[i], err = strconv.ParseInt(rest[:end], 10, 64); err != nil {
			return fmt.Errorf("column head: %w", err)
		}
		rest = rest[end+1:]
	}
	d.ID, d.Severity, d.DestinationPort, d.DistinctSources, d.Count = n[0], int(n[1]), uint16(n[2]), int(n[3]), n[4]
	d.FirstSeen, d.LastSeen, d.Received = fromTS(n[5]), fromTS(n[6]), fromTS(n[7])
	texts := [6]*string{&d.MemberID, &d.CollectorID, &d.BatchID, &d.RuleID, &d.RuleName, nil}
	var techniques string
	texts[5] = &techniques
	for i, p := range texts {
		l := n[8+i]
		if l < 0 || l > int64(len(rest)) {
			return fmt.Errorf("column head: text %d of %d bytes overruns the %d left", i, l, len(rest))
		}
		*p, rest = rest[:l], rest[l:]
	}
	if rest != "" {
		return fmt.Errorf("column head: %d bytes beyond its texts", len(rest))
	}
	if techniques != "" {
		d.Techniques = strings.Split(techniques, ",")
	}
	return nil
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
	q := `SELECT ` + strings.Join(summaryColumns, ", ") + ` FROM summaries` + w.String() + " ORDER BY id LIMIT " + strconv.Itoa(limit(f.Limit))
	ss := pages[store.Summary]{limit: limit(f.Limit)}
	err := s.queryRows(ctx, q, w.args, len(summaryColumns), func(vs []driver.Value) error {
		x := ss.next()
		r := rowReader{vs: vs, names: summaryColumns}
		x.ID = r.int()
		x.MemberID, x.CollectorID = r.text(), r.text()
		x.Received, x.Minute = r.time(), r.time()
		x.SourceIP = r.addr()
		x.DestinationPort = uint16(r.int())
		x.Transport, x.EventType, x.Device, x.Dataset = r.text(), r.text(), r.text(), r.text()
		x.Count = r.int()
		x.Destination = r.text()
		return r.err
	})
	if err != nil {
		return nil, s.wrap("summaries", err)
	}
	return ss.all(), nil
}

// summaryColumns are the columns Summaries reads, in order.
var summaryColumns = []string{"id", "member_id", "collector_id", "received", "minute", "source_ip", "destination_port",
	"transport", "event_type", "device", "dataset", "count", "destination"}

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
