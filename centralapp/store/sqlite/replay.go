package sqlite

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/internal/intern"
)

// replayPage is how many detections Replay hands fn at once.
const replayPage = 4096

// replaySQL reads detections through the time index alone, which covers
// every column it names (migration 00005): a month of detections is read
// without touching the rows, whose raw JSON is most of the table. The
// texts come joined in one value, the addresses in another, which saves
// an allocation each a row; integers stay apart, as SQLite makes text of
// an integer far slower than Go parses it. The addresses are a byte
// saying whether source_ip follows, source_ip, then related_ips (|| makes
// text of blobs, byte for byte: the CAST makes it a blob again).
const replaySQL = `SELECT rowid, last_seen, first_seen, count, coalesce(destination_port, 0), octet_length(member_id),
		octet_length(rule_id), member_id || rule_id || techniques,
		CAST(CASE WHEN source_ip IS NULL THEN x'00' ELSE x'01' || source_ip END || coalesce(related_ips, x'') AS BLOB)
	FROM detections INDEXED BY detections_last_seen WHERE last_seen >= ? AND last_seen < ? ORDER BY last_seen`

var replayColumnNames = []string{"id", "last_seen", "first_seen", "count", "destination_port", "member_id length",
	"rule_id length", "texts", "addresses"}

// Replay implements store.Store. Members, rules and technique lists repeat
// from row to row: each is kept once, and rows share it.
func (s *Store) Replay(ctx context.Context, since, until time.Time, fn func([]store.Replayed) error) error {
	names, lists := intern.Strings{}, intern.Lists{}
	page := make([]store.Replayed, 0, replayPage)
	err := s.queryRows(ctx, replaySQL, []any{ts(since), untilTS(until)}, len(replayColumnNames), func(vs []driver.Value) error {
		r := rowReader{vs: vs, names: replayColumnNames}
		d := store.Replayed{ID: r.int(), LastSeen: r.time(), FirstSeen: r.time(), Count: r.int(), DestinationPort: uint16(r.int())}
		lm, lr, texts, addrs := r.int(), r.int(), r.text(), r.blob()
		if r.err != nil {
			return r.err
		}
		if lm < 0 || lr < 0 || lm+lr > int64(len(texts)) {
			return fmt.Errorf("column texts: member and rule of %d and %d bytes overrun its %d", lm, lr, len(texts))
		}
		d.MemberID, d.RuleID, d.Techniques = names.Of(texts[:lm]), names.Of(texts[lm:lm+lr]), lists.Of(texts[lm+lr:])
		if len(addrs) == 0 || len(addrs)%16 != 1 {
			return fmt.Errorf("column addresses: %d bytes", len(addrs))
		}
		var err error
		if addrs[0] == 1 {
			if d.Source, err = fromIP(addrs[1:17]); err != nil {
				return fmt.Errorf("column addresses: %w", err)
			}
			addrs = addrs[17:]
		} else {
			addrs = addrs[1:]
		}
		if d.Related, err = fromIPs(addrs); err != nil {
			return fmt.Errorf("column addresses: %w", err)
		}
		page = append(page, d)
		if len(page) == replayPage {
			if err := fn(page); err != nil {
				return err
			}
			page = page[:0]
		}
		return nil
	})
	if err == nil && len(page) > 0 {
		err = fn(page)
	}
	return s.wrap("replay", err)
}

// LastIDs implements store.Store.
func (s *Store) LastIDs(ctx context.Context) (detection, summary int64, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT (SELECT coalesce(max(id), 0) FROM detections),
		(SELECT coalesce(max(id), 0) FROM summaries)`).Scan(&detection, &summary)
	return detection, summary, s.wrap("last ids", err)
}
