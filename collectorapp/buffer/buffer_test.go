package buffer

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
	"github.com/oklog/ulid/v2"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if path := os.Getenv("BUFFER_TEST_CHILD"); path != "" {
		os.Exit(crashChild(path))
	}
	goleak.VerifyTestMain(m)
}

func open(t testing.TB, opts Options) *Buffer {
	t.Helper()
	if opts.Path == "" {
		opts.Path = filepath.Join(t.TempDir(), "buffer.db")
	}
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

// detection returns a payload shaped like a §3.2 detection, numbered n.
func detection(n int) []byte {
	return fmt.Appendf(nil, `{"rule":{"id":"scan.tcp.vertical","name":"TCP port scan of one host"},"event":{"severity":50},`+
		`"threat":{"technique":{"id":["T1046"]}},"source":{"ip":"198.51.100.%d"},"detection":{"count":%d,`+
		`"first_seen":"2026-11-27T10:00:00Z","last_seen":"2026-11-27T10:01:00Z"},"member":{"id":"m1"},"n":%d}`, n%250, 20+n%7, n)
}

func records(from, to int) []Record {
	recs := make([]Record, 0, to-from)
	for n := from; n < to; n++ {
		recs = append(recs, Record{Kind: KindDetection, Payload: detection(n)})
	}
	return recs
}

var meta = SealMeta{CollectorID: "c1", MemberID: "m1"}

// wire is a decoded batch with the numbers of its detections.
type wire struct {
	detect.Batch
	raw []byte
	ns  []int
}

func decode(t testing.TB, body []byte) wire {
	t.Helper()
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	raw, err := dec.DecodeAll(body, nil)
	if err != nil {
		t.Fatalf("zstd: %v", err)
	}
	w := wire{raw: raw}
	if err := json.Unmarshal(raw, &w.Batch); err != nil {
		t.Fatalf("batch JSON: %v\n%s", err, raw)
	}
	for _, d := range w.Detections {
		var v struct{ N int }
		if err := json.Unmarshal(d, &v); err != nil {
			t.Fatal(err)
		}
		w.ns = append(w.ns, v.N)
	}
	return w
}

func seal(t testing.TB, b *Buffer, m SealMeta) bool {
	t.Helper()
	ok, err := b.Seal(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func oldest(t testing.TB, b *Buffer) (string, wire, bool) {
	t.Helper()
	id, body, ok, err := b.Oldest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return "", wire{}, false
	}
	return id, decode(t, body), true
}

func stats(t testing.TB, b *Buffer) Stats {
	t.Helper()
	s, err := b.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func seq(from, to int) []int {
	var s []int
	for n := from; n < to; n++ {
		s = append(s, n)
	}
	return s
}

func TestAppendSealDeliverOldestFirst(t *testing.T) {
	b := open(t, Options{BatchRecords: 1000})
	if err := b.AppendBatch(records(0, 1500)); err != nil {
		t.Fatal(err)
	}
	if err := b.Append(Record{Kind: KindDetection, Payload: detection(1500)}); err != nil {
		t.Fatal(err)
	}
	if err := b.AppendBatch(records(1501, 2500)); err != nil {
		t.Fatal(err)
	}
	if s := stats(t, b); s.PendingRecords != 2500 || s.OldestPending.IsZero() {
		t.Fatalf("stats after append: %+v", s)
	}
	select {
	case <-b.Ready():
		t.Fatal("Ready signalled before any seal")
	default:
	}
	for range 3 {
		if !seal(t, b, meta) {
			t.Fatal("nothing sealed")
		}
	}
	if seal(t, b, meta) {
		t.Fatal("sealed with nothing pending")
	}
	select {
	case <-b.Ready():
	default:
		t.Fatal("Ready not signalled after a seal")
	}
	s := stats(t, b)
	if s.PendingRecords != 0 || s.SealedBatches != 3 || s.Seq != 3 || s.OldestBatch.IsZero() || !s.OldestPending.IsZero() {
		t.Fatalf("stats after seal: %+v", s)
	}
	want := [][]int{seq(0, 1000), seq(1000, 2000), seq(2000, 2500)}
	for i, w := range want {
		id, batch, ok := oldest(t, b)
		if !ok {
			t.Fatalf("batch %d: outbox empty", i)
		}
		if batch.BatchID != id || batch.Seq != uint64(i+1) {
			t.Fatalf("batch %d: id %s seq %d, Oldest said %s", i, batch.BatchID, batch.Seq, id)
		}
		if diff := cmp.Diff(w, batch.ns); diff != "" {
			t.Fatalf("batch %d detections (-want +got):\n%s", i, diff)
		}
		// Oldest keeps returning the same batch until it is delivered.
		if again, _, _ := oldest(t, b); again != id {
			t.Fatalf("Oldest moved on without Delivered: %s then %s", id, again)
		}
		if err := b.Delivered(id); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, ok := oldest(t, b); ok {
		t.Fatal("outbox not empty after delivering everything")
	}
	if err := b.Delivered("01JDOESNOTEXIST0000000000"); err != nil {
		t.Fatalf("Delivered of an unknown id: %v", err)
	}
}

func TestBatchMarshalsAsDetectBatch(t *testing.T) {
	b := open(t, Options{})
	sum := detect.FlowSummary{
		Minute: time.Date(2026, 11, 27, 10, 1, 0, 0, time.UTC), SourceIP: netip.MustParseAddr("203.0.113.9"),
		DestinationPort: 23, Transport: "tcp", EventType: "denied", Device: "fw1 <edge>", Dataset: "cisco_asa", Count: 42,
	}
	sj, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	// A payload as another encoder might write it: spaced, and with a
	// character json.Marshal escapes.
	loose := []byte(`{ "rule": {"id": "a&b"}, "n": 7 }`)
	recs := []Record{
		{Kind: KindDetection, Payload: detection(1)},
		{Kind: KindSummary, Payload: sj},
		{Kind: KindDetection, Payload: loose},
	}
	if err := b.AppendBatch(recs); err != nil {
		t.Fatal(err)
	}
	health := &detect.Health{Time: time.Date(2026, 11, 27, 10, 2, 0, 0, time.UTC), Version: "test",
		Devices: []detect.DeviceHealth{{Device: "fw1", LastSeen: time.Date(2026, 11, 27, 10, 1, 59, 0, time.UTC), Lines: 9}}}
	m := meta
	m.Health = func() *detect.Health {
		// The daemon fills the buffer figures from Stats; that must not
		// deadlock with the seal.
		s := stats(t, b)
		health.Buffer, health.BufferLimit = s.Bytes, s.MaxBytes
		return health
	}
	before := time.Now()
	seal(t, b, m)
	id, w, _ := oldest(t, b)

	var got detect.Batch
	if err := json.Unmarshal(w.raw, &got); err != nil {
		t.Fatal(err)
	}
	remarshalled, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if string(remarshalled) != string(w.raw) {
		t.Fatalf("batch differs from detect.Batch's marshalling:\n got %s\nwant %s", w.raw, remarshalled)
	}
	u, err := ulid.ParseStrict(id)
	if err != nil {
		t.Fatalf("batch id %q: %v", id, err)
	}
	if got.BatchID != id || got.CollectorID != "c1" || got.MemberID != "m1" || got.Seq != 1 {
		t.Fatalf("header: %+v", got)
	}
	if got.Created.Before(before.Truncate(time.Millisecond)) || got.Created.Location() != time.UTC ||
		u.Timestamp().Sub(got.Created).Abs() > time.Millisecond {
		t.Fatalf("created %v, ULID time %v, sealed after %v", got.Created, u.Timestamp(), before)
	}
	if diff := cmp.Diff([]detect.FlowSummary{sum}, got.Summaries, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Fatalf("summaries (-want +got):\n%s", diff)
	}
	if len(got.Detections) != 2 || string(got.Detections[1]) != `{"rule":{"id":"a\u0026b"},"n":7}` {
		t.Fatalf("detections: %s", got.Detections)
	}
	if diff := cmp.Diff(health, got.Health); diff != "" {
		t.Fatalf("health (-want +got):\n%s", diff)
	}
}

func TestSealCapsByBytes(t *testing.T) {
	b := open(t, Options{BatchBytes: 10 << 10})
	if err := b.AppendBatch(records(0, 100)); err != nil {
		t.Fatal(err)
	}
	var got []int
	var sizes []int
	for seal(t, b, meta) {
		id, w, _ := oldest(t, b)
		size := 0
		for _, d := range w.Detections {
			size += len(d)
		}
		sizes = append(sizes, size)
		got = append(got, w.ns...)
		if err := b.Delivered(id); err != nil {
			t.Fatal(err)
		}
	}
	// Each batch but the last is full: within a record of the cap.
	per := len(detection(99))
	for i, size := range sizes {
		if size > 10<<10 || (i < len(sizes)-1 && size <= 10<<10-per) {
			t.Fatalf("batch %d holds %d bytes of detections for a 10 KiB cap (all: %v)", i, size, sizes)
		}
	}
	if diff := cmp.Diff(seq(0, 100), got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}

	// A record larger than the cap still goes, alone.
	big := fmt.Appendf(nil, `{"n":1,"pad":%q}`, strings.Repeat("x", 20<<10))
	if err := b.AppendBatch([]Record{{Kind: KindDetection, Payload: big}, {Kind: KindDetection, Payload: detection(2)}}); err != nil {
		t.Fatal(err)
	}
	seal(t, b, meta)
	if _, w, _ := oldest(t, b); len(w.ns) != 1 || w.ns[0] != 1 {
		t.Fatalf("oversized record: batch holds %v", w.ns)
	}
}

func TestSealEmpty(t *testing.T) {
	b := open(t, Options{})
	calls := 0
	m := meta
	m.Health = func() *detect.Health { calls++; return &detect.Health{Version: "v"} }
	if seal(t, b, m) {
		t.Fatal("sealed an empty batch without AllowEmpty")
	}
	if calls != 0 {
		t.Fatal("Health called with nothing to seal")
	}
	m.AllowEmpty = true
	if !seal(t, b, m) {
		t.Fatal("AllowEmpty did not seal")
	}
	_, w, _ := oldest(t, b)
	if !strings.Contains(string(w.raw), `"detections":[],"summaries":[],"health":{`) || w.Health.Version != "v" {
		t.Fatalf("health-only batch: %s", w.raw)
	}
}

func TestSeqAndIDsAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	ids := map[string]bool{}
	var seqs []uint64
	for run := range 3 {
		b, err := Open(Options{Path: path, BatchRecords: 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.AppendBatch(records(0, 50)); err != nil {
			t.Fatal(err)
		}
		var prev ulid.ULID
		for seal(t, b, meta) {
			id, w, _ := oldest(t, b)
			u := ulid.MustParse(id)
			if ids[id] {
				t.Fatalf("run %d: batch id %s repeated", run, id)
			}
			if u.Compare(prev) <= 0 {
				t.Fatalf("run %d: batch id %s not above %s", run, u, prev)
			}
			ids[id], prev = true, u
			seqs = append(seqs, w.Seq)
			if err := b.Delivered(id); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
	want := make([]uint64, 150)
	for i := range want {
		want[i] = uint64(i + 1)
	}
	if diff := cmp.Diff(want, seqs); diff != "" {
		t.Fatalf("seq (-want +got):\n%s", diff)
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	for range 3 {
		b, err := Open(Options{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		var versions, autoVacuum int
		var mode string
		if err := b.db.QueryRow("SELECT count(*) FROM goose_db_version WHERE version_id > 0").Scan(&versions); err != nil {
			t.Fatal(err)
		}
		if err := b.db.QueryRow("PRAGMA auto_vacuum").Scan(&autoVacuum); err != nil {
			t.Fatal(err)
		}
		if err := b.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if versions != 1 || autoVacuum != 2 || mode != "wal" {
			t.Fatalf("migrations applied %d, auto_vacuum %d, journal_mode %s", versions, autoVacuum, mode)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestConvertsAutoVacuum opens a file made without incremental
// auto-vacuum, which trimming needs, and checks it is converted.
func TestConvertsAutoVacuum(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE other (x)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	b := open(t, Options{Path: path})
	var av int
	if err := b.db.QueryRow("PRAGMA auto_vacuum").Scan(&av); err != nil || av != 2 {
		t.Fatalf("auto_vacuum %d, %v", av, err)
	}
}

func TestQuarantine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	b, err := Open(Options{Path: path, BatchRecords: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.AppendBatch(records(0, 20)); err != nil {
		t.Fatal(err)
	}
	seal(t, b, meta)
	seal(t, b, meta)
	bad, _, _ := oldest(t, b)
	if err := b.Quarantine(bad, 422, "schema: detections[3]: missing rule.id"); err != nil {
		t.Fatal(err)
	}
	next, w, _ := oldest(t, b)
	if next == bad || w.Seq != 2 {
		t.Fatalf("Oldest after quarantine: %s seq %d", next, w.Seq)
	}
	long := strings.Repeat("é", 5000)
	if err := b.Quarantine(next, 400, long); err != nil {
		t.Fatal(err)
	}
	var stored string
	if err := b.db.QueryRow("SELECT reason FROM quarantine WHERE batch_id = ?", next).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if len(stored) > 4<<10 || !strings.HasPrefix(long, stored) || !utf8.ValidString(stored) {
		t.Fatalf("long reason stored as %d bytes", len(stored))
	}
	if err := b.Quarantine("01JDOESNOTEXIST0000000000", 400, "x"); err != nil {
		t.Fatalf("Quarantine of an unknown id: %v", err)
	}
	if s := stats(t, b); s.Quarantined != 2 || s.QuarantinedTotal != 2 || s.SealedBatches != 0 {
		t.Fatalf("stats: %+v", s)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b = open(t, Options{Path: path})
	if s := stats(t, b); s.Quarantined != 2 || s.QuarantinedTotal != 2 || s.SealedBatches != 0 {
		t.Fatalf("stats after reopen: %+v", s)
	}
	var status, records int
	var reason string
	var body []byte
	if err := b.db.QueryRow("SELECT status, reason, records, body FROM quarantine WHERE batch_id = ?", bad).
		Scan(&status, &reason, &records, &body); err != nil {
		t.Fatal(err)
	}
	if q := decode(t, body); status != 422 || reason != "schema: detections[3]: missing rule.id" || records != 10 ||
		!slices.Equal(q.ns, seq(0, 10)) {
		t.Fatalf("quarantined: status %d reason %q records %d detections %v", status, reason, records, q.ns)
	}
}

func TestOffsetsCommitWithRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	b, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := b.Offset("/var/log/fw.log"); ok || err != nil {
		t.Fatalf("Offset before any save: ok %v err %v", ok, err)
	}
	ident := FileIdent{Dev: 2049, Ino: 1<<63 + 5, Head: []byte{1, 2, 3}}
	if err := b.Commit(records(0, 10), []Offset{{Key: "/var/log/fw.log", Ident: ident, Offset: 1234}}); err != nil {
		t.Fatal(err)
	}
	// A bad record fails the whole call: neither records nor offset move.
	bad := append(records(10, 12), Record{Kind: KindDetection, Payload: []byte(`{"n":`)}, Record{Kind: 3, Payload: []byte(`{}`)})
	err = b.Commit(bad, []Offset{{Key: "/var/log/fw.log", Ident: ident, Offset: 9999}})
	if err == nil || !strings.Contains(err.Error(), "record 2 (detection): payload is not a JSON object") {
		t.Fatalf("Commit with a bad record: %v", err)
	}
	if err := b.SaveOffset("/var/log/other.log", FileIdent{Dev: 1, Ino: 2}, 77); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b = open(t, Options{Path: path})
	off, ok, err := b.Offset("/var/log/fw.log")
	if err != nil || !ok {
		t.Fatalf("Offset: ok %v err %v", ok, err)
	}
	if off.Offset != 1234 || !off.Ident.Equal(ident) || off.Key != "/var/log/fw.log" {
		t.Fatalf("offset %+v, want %+v at 1234", off, ident)
	}
	if off, _, _ := b.Offset("/var/log/other.log"); off.Offset != 77 || off.Ident.Head != nil {
		t.Fatalf("other offset %+v", off)
	}
	if s := stats(t, b); s.PendingRecords != 10 {
		t.Fatalf("pending %d, want 10", s.PendingRecords)
	}
}

func TestBadInput(t *testing.T) {
	b := open(t, Options{})
	for _, tc := range []struct {
		rec  Record
		want string
	}{
		{Record{Kind: 0, Payload: []byte(`{}`)}, "unknown kind 0"},
		{Record{Kind: 9, Payload: []byte(`{}`)}, "unknown kind 9"},
		{Record{Kind: KindSummary}, "not a JSON object"},
		{Record{Kind: KindSummary, Payload: []byte(`[1]`)}, "not a JSON object"},
		{Record{Kind: KindDetection, Payload: []byte(`{"a":1`)}, "not a JSON object"},
		{Record{Kind: KindDetection, Payload: []byte(`null`)}, "not a JSON object"},
	} {
		if err := b.Append(tc.rec); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Append(%s %q): %v, want %q", tc.rec.Kind, tc.rec.Payload, err, tc.want)
		}
	}
	if err := b.SaveOffset("", FileIdent{}, 1); err == nil || !strings.Contains(err.Error(), "empty key") {
		t.Errorf("SaveOffset with no key: %v", err)
	}
	if err := b.SaveOffset("k", FileIdent{}, -1); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("SaveOffset at -1: %v", err)
	}
	if s := stats(t, b); s.PendingRecords != 0 {
		t.Fatalf("bad records were kept: %+v", s)
	}
}

// TestInvalidAtSeal: a payload shaped like an object but not JSON is
// dropped and counted when sealed, and the rest of its batch goes.
func TestInvalidAtSeal(t *testing.T) {
	b := open(t, Options{})
	recs := records(0, 3)
	recs[1].Payload = []byte(`{"n": 1, oops}`)
	if err := b.AppendBatch(recs); err != nil {
		t.Fatal(err)
	}
	seal(t, b, meta)
	_, w, _ := oldest(t, b)
	if !slices.Equal(w.ns, []int{0, 2}) {
		t.Fatalf("batch holds %v, want [0 2]", w.ns)
	}
	if s := stats(t, b); s.DroppedInvalid != 1 || s.PendingRecords != 0 {
		t.Fatalf("stats: %+v", s)
	}
	var n int64
	if err := b.db.QueryRow("SELECT records FROM outbox").Scan(&n); err != nil || n != 2 {
		t.Fatalf("outbox records %d, %v", n, err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{}, "no path"},
		{Options{Path: filepath.Join(dir, "missing", "b.db")}, "directory " + filepath.Join(dir, "missing") + " does not exist"},
		{Options{Path: dir}, "is a directory"},
		{Options{Path: filepath.Join(dir, "b.db"), MaxBytes: 1000}, "below the minimum"},
	} {
		b, err := Open(tc.opts)
		if err == nil {
			b.Close()
			t.Errorf("Open(%+v) succeeded", tc.opts)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%+v): %v, want %q", tc.opts, err, tc.want)
		}
	}
}

func TestClosed(t *testing.T) {
	b, err := Open(Options{Path: filepath.Join(t.TempDir(), "b.db")})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := context.Background()
	_, err1 := b.Seal(ctx, meta)
	_, _, _, err2 := b.Oldest(ctx)
	_, _, err3 := b.Offset("k")
	_, err4 := b.Stats(ctx)
	for i, err := range []error{b.Append(Record{Kind: KindDetection, Payload: []byte(`{}`)}), err1, err2, err3, err4,
		b.Delivered("x"), b.Quarantine("x", 400, "")} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("call %d after Close: %v", i, err)
		}
	}
}

// TestReadOnly opens a buffer the process cannot write. As root, file modes
// do not stop writes, so the same path is checked through SQLite's own
// read-only open.
func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "b.db")
	b, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.AppendBatch(records(0, 5)); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	if os.Geteuid() == 0 {
		t.Log("running as root: file modes do not apply; checking SQLite's read-only open instead of chmod")
		_, err := Open(Options{Path: path, query: "mode=ro"})
		if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), path) {
			t.Fatalf("read-only open: %v, want ErrReadOnly naming %s", err, path)
		}
		return
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	_, err = Open(Options{Path: path})
	if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open of a 0400 file: %v, want ErrReadOnly naming %s", err, path)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	_, err = Open(Options{Path: path})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open in a 0500 directory: %v", err)
	}
	t.Logf("read-only directory: %v", err)
}

// TestDiskFull caps the file with max_page_count, as a full disk would, and
// checks that a write that does not fit fails clearly and leaves nothing.
func TestDiskFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	b := open(t, Options{Path: path, BatchRecords: 200, pragmas: []string{"PRAGMA max_page_count = 80"}})
	var err error
	n := 0
	for ; n < 10000; n += 100 {
		err = b.Commit(records(n, n+100), []Offset{{Key: "f", Offset: int64(n + 100)}})
		if err != nil {
			break
		}
	}
	if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), path) {
		t.Fatalf("error when full: %v, want ErrDiskFull naming %s", err, path)
	}
	t.Logf("full after %d records: %v", n, err)
	var rows int64
	if err := b.db.QueryRow("SELECT count(*) FROM records").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	off, _, _ := b.Offset("f")
	if s := stats(t, b); rows != int64(n) || s.PendingRecords != int64(n) || off.Offset != int64(n) {
		t.Fatalf("after the failed write: %d rows, %d pending, offset %d; want %d", rows, s.PendingRecords, off.Offset, n)
	}
	// Reads and delivery still work, and delivery makes room again.
	for seal(t, b, meta) {
		id, _, _ := oldest(t, b)
		if err := b.Delivered(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.AppendBatch(records(n, n+100)); err != nil {
		t.Fatalf("append after delivery freed space: %v", err)
	}
}

// TestBound fills a small buffer while central is away and checks that the
// oldest data goes first, that every record is accounted for, and that the
// counts survive a restart.
func TestBound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	b, err := Open(Options{Path: path, MaxBytes: MinMaxBytes, BatchRecords: 50})
	if err != nil {
		t.Fatal(err)
	}
	const total = 6000
	for n := 0; n < total; n += 100 {
		if err := b.AppendBatch(records(n, n+100)); err != nil {
			t.Fatal(err)
		}
		if n%300 == 0 {
			seal(t, b, meta)
		}
		size, _, err := b.dbSize(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if size > b.dataLimit {
			t.Fatalf("after %d records: %d bytes, bound %d", n+100, size, b.dataLimit)
		}
	}
	s := stats(t, b)
	if s.DroppedRecords == 0 || s.DroppedBatches == 0 {
		t.Fatalf("nothing dropped: %+v", s)
	}
	// Every sealed batch left is newer than every dropped one, and pending
	// records are the newest of all, with no gap.
	var batches [][]int
	var seqs []uint64
	rows, err := b.db.Query("SELECT body FROM outbox ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			t.Fatal(err)
		}
		w := decode(t, body)
		batches, seqs = append(batches, w.ns), append(seqs, w.Seq)
	}
	rows.Close()
	var pending []int
	rows, err = b.db.Query("SELECT payload FROM records ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p []byte
		var v struct{ N int }
		if err := rows.Scan(&p); err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(p, &v)
		pending = append(pending, v.N)
	}
	rows.Close()
	if len(seqs) > 0 && seqs[len(seqs)-1]-seqs[0] != uint64(len(seqs)-1) {
		t.Fatalf("outbox seqs %v: not the newest, contiguous run", seqs)
	}
	kept := slices.Concat(append(batches, pending)...)
	// Dropped pending records leave a gap between the outbox and the
	// pending ones, never inside either.
	for i := 1; i < len(kept); i++ {
		if kept[i] <= kept[i-1] {
			t.Fatalf("kept records out of order at %d: %d after %d", i, kept[i], kept[i-1])
		}
	}
	if kept[len(kept)-1] != total-1 {
		t.Fatalf("newest record %d lost", total-1)
	}
	if int64(len(kept))+s.DroppedRecords != total {
		t.Fatalf("%d kept + %d dropped != %d appended", len(kept), s.DroppedRecords, total)
	}
	if s.Bytes > MinMaxBytes {
		t.Errorf("%d bytes on disk for a bound of %d", s.Bytes, MinMaxBytes)
	}
	t.Logf("kept %d, dropped %d records and %d batches, %d bytes on disk", len(kept), s.DroppedRecords, s.DroppedBatches, s.Bytes)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = open(t, Options{Path: path, MaxBytes: MinMaxBytes})
	if s2 := stats(t, b); s2.DroppedRecords != s.DroppedRecords || s2.DroppedBatches != s.DroppedBatches {
		t.Fatalf("counts after reopen %+v, before %+v", s2, s)
	}
}

// TestBoundQuarantineShare checks that quarantined batches, while they hold
// more than their share, go before anything else, and are counted apart.
func TestBoundQuarantineShare(t *testing.T) {
	b := open(t, Options{MaxBytes: MinMaxBytes, BatchRecords: 1})
	// Incompressible payloads, so each batch takes its size on disk.
	pad := func(n int) []byte {
		r := make([]byte, 1500)
		rand.Read(r)
		return fmt.Appendf(nil, `{"n":%d,"pad":%q}`, n, base64.StdEncoding.EncodeToString(r))
	}
	n := 0
	for ; b.droppedQuarantined.Load() < 5; n++ {
		if n == 1000 {
			t.Fatalf("no quarantined batch dropped: %+v", stats(t, b))
		}
		if err := b.Append(Record{Kind: KindDetection, Payload: pad(n)}); err != nil {
			t.Fatal(err)
		}
		seal(t, b, meta)
		id, _, _ := oldest(t, b)
		if err := b.Quarantine(id, 400, "bad"); err != nil {
			t.Fatal(err)
		}
	}
	s := stats(t, b)
	if s.DroppedRecords != 0 || s.PendingRecords != 0 || s.Quarantined+s.DroppedQuarantined != int64(n) {
		t.Fatalf("stats after %d quarantined: %+v", n, s)
	}
	var qBytes, minID int64
	b.db.QueryRow("SELECT sum(length(body)), min(seq) FROM quarantine").Scan(&qBytes, &minID)
	// The quarantine went first, oldest first, while it held more than its
	// share; the pending record each append brought was kept.
	if qBytes <= MinMaxBytes/4 || minID != s.DroppedQuarantined+1 {
		t.Fatalf("quarantine holds %d bytes from seq %d, after %d dropped", qBytes, minID, s.DroppedQuarantined)
	}
}

func TestConcurrent(t *testing.T) {
	b := open(t, Options{BatchRecords: 100})
	const writers, per = 4, 2000
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for n := w * per; n < (w+1)*per; n += 50 {
				if err := b.AppendBatch(records(n, n+50)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	sealerDone := make(chan error, 1)
	go func() { sealerDone <- b.RunSealer(ctx, SealPolicy{MaxAge: 20 * time.Millisecond}, meta) }()

	got := map[int]int{}
	fwdDone := make(chan struct{})
	go func() {
		defer close(fwdDone)
		for len(got) < writers*per {
			id, body, ok, err := b.Oldest(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			if !ok {
				select {
				case <-b.Ready():
				case <-time.After(5 * time.Second):
					t.Errorf("no batch for 5s with %d of %d delivered", len(got), writers*per)
					return
				}
				continue
			}
			for _, n := range decode(t, body).ns {
				got[n]++
			}
			if _, err := b.Stats(ctx); err != nil {
				t.Error(err)
			}
			if err := b.Delivered(id); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	<-fwdDone
	cancel()
	if err := <-sealerDone; err != nil {
		t.Fatal(err)
	}
	for n := range writers * per {
		if got[n] != 1 {
			t.Fatalf("record %d delivered %d times", n, got[n])
		}
	}
}

func TestRunSealer(t *testing.T) {
	b := open(t, Options{BatchRecords: 10})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.RunSealer(ctx, SealPolicy{MaxAge: time.Hour, HealthEvery: time.Hour}, meta) }()

	// Two full batches are sealed at once; the rest waits for its age.
	if err := b.AppendBatch(records(0, 25)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for stats(t, b).SealedBatches < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("full batches not sealed: %+v", stats(t, b))
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if s := stats(t, b); s.SealedBatches != 2 || s.PendingRecords != 5 {
		t.Fatalf("sealed before the age: %+v", s)
	}
	// Shutdown seals what is left.
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := stats(t, b); s.SealedBatches != 3 || s.PendingRecords != 0 {
		t.Fatalf("after shutdown: %+v", s)
	}

	// By age, and health batches when nothing else is sealed.
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		done <- b.RunSealer(ctx, SealPolicy{MaxAge: 40 * time.Millisecond, HealthEvery: 100 * time.Millisecond}, meta)
	}()
	if err := b.AppendBatch(records(25, 28)); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for s := stats(t, b); s.PendingRecords > 0 || s.SealedBatches < 6; s = stats(t, b) {
		if time.Now().After(deadline) {
			t.Fatalf("not sealed by age, or no health batches: %+v", s)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestReopenAbandoned reopens a buffer that another handle, never closed,
// was writing: what it committed is there once.
func TestReopenAbandoned(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	old, err := Open(Options{Path: path, BatchRecords: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { old.Close() })
	if err := old.Commit(records(0, 250), []Offset{{Key: "f", Offset: 250}}); err != nil {
		t.Fatal(err)
	}
	seal(t, old, meta)

	b := open(t, Options{Path: path})
	s := stats(t, b)
	if s.PendingRecords != 150 || s.SealedBatches != 1 || s.Seq != 1 {
		t.Fatalf("reopened: %+v", s)
	}
	select {
	case <-b.Ready():
	default:
		t.Fatal("Ready not signalled at open with a batch waiting")
	}
	seal(t, b, meta)
	if _, w, _ := oldest(t, b); !slices.Equal(w.ns, seq(0, 100)) {
		t.Fatalf("first batch %v", w.ns)
	}
}

// TestKill9 kills a writing process with SIGKILL and checks that every
// record it acknowledged is in the buffer exactly once, and that the stored
// offset matches the records, as a restarted tailer needs.
func TestKill9(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "BUFFER_TEST_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() && acked < 20000 {
		if acked, err = strconv.Atoi(sc.Text()); err != nil {
			t.Fatal(err)
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if acked < 20000 {
		t.Fatalf("child stopped after %d records", acked)
	}

	b := open(t, Options{Path: path})
	off, _, err := b.Offset("f")
	if err != nil {
		t.Fatal(err)
	}
	if off.Offset < int64(acked) {
		t.Fatalf("offset %d below the %d acknowledged", off.Offset, acked)
	}
	got := map[int]int{}
	rows, err := b.db.Query("SELECT body FROM outbox")
	if err != nil {
		t.Fatal(err)
	}
	batches := 0
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			t.Fatal(err)
		}
		for _, n := range decode(t, body).ns {
			got[n]++
		}
		batches++
	}
	rows.Close()
	rows, err = b.db.Query("SELECT payload FROM records")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p []byte
		var v struct{ N int }
		rows.Scan(&p)
		if err := json.Unmarshal(p, &v); err != nil {
			t.Fatal(err)
		}
		got[v.N]++
	}
	rows.Close()
	if len(got) != int(off.Offset) {
		t.Fatalf("%d distinct records for offset %d", len(got), off.Offset)
	}
	for n := range int(off.Offset) {
		if got[n] != 1 {
			t.Fatalf("record %d present %d times (offset %d, %d acknowledged)", n, got[n], off.Offset, acked)
		}
	}
	t.Logf("killed after %d acknowledged; found %d records (%d batches), offset %d", acked, len(got), batches, off.Offset)
}

// crashChild writes until it is killed: 100 records and their offset per
// commit, a seal every fifth commit, and the acknowledged count on stdout.
func crashChild(path string) int {
	b, err := Open(Options{Path: path, BatchRecords: 300})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := 0; ; i++ {
		n := i * 100
		if err := b.Commit(records(n, n+100), []Offset{{Key: "f", Offset: int64(n + 100)}}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(n + 100)
		if i%5 == 4 {
			if _, err := b.Seal(context.Background(), meta); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
	}
}

// TestSummariesMergedAtSeal: partial counts of one key, committed apart,
// leave as one summary with their sum; an invalid summary is dropped and
// counted.
func TestSummariesMergedAtSeal(t *testing.T) {
	b := open(t, Options{})
	sum := func(src string, port, count int) Record {
		return Record{Kind: KindSummary, Payload: fmt.Appendf(nil,
			`{"minute":"2026-11-27T10:15:00Z","source_ip":%q,"destination_port":%d,"transport":"tcp","event_type":"denied","device":"gw01","dataset":"netfilter","count":%d}`,
			src, port, count)}
	}
	for _, recs := range [][]Record{
		{sum("198.51.100.1", 22, 1), sum("198.51.100.2", 22, 5)},
		{sum("198.51.100.1", 22, 2), {Kind: KindSummary, Payload: []byte(`{"count": oops}`)}},
		{sum("198.51.100.1", 22, 3), sum("198.51.100.1", 23, 4)},
	} {
		if err := b.Commit(recs, nil); err != nil {
			t.Fatal(err)
		}
	}
	seal(t, b, meta)
	_, w, _ := oldest(t, b)
	got := map[string]int64{}
	for _, s := range w.Summaries {
		got[fmt.Sprintf("%s:%d", s.SourceIP, s.DestinationPort)] = s.Count
	}
	want := map[string]int64{"198.51.100.1:22": 6, "198.51.100.2:22": 5, "198.51.100.1:23": 4}
	if !maps.Equal(got, want) || len(w.Summaries) != 3 {
		t.Fatalf("summaries %v (%d), want %v", got, len(w.Summaries), want)
	}
	if s := stats(t, b); s.DroppedInvalid != 1 {
		t.Fatalf("dropped invalid %d, want 1", s.DroppedInvalid)
	}
}
