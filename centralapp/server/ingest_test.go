package server_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/oklog/ulid/v2"

	"github.com/cyberalarm/cyberalarm/centralapp/server"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/detect"
)

// TestBatchDelivery covers duplicate, replayed and reordered batches.
func TestBatchDelivery(t *testing.T) {
	e := newEnv(t, server.Config{})
	e.addMember("m1")
	creds := e.enrol("m1")
	c := e.collectorClient(creds)
	enc := newEncoder(t)

	b1, b2, b3 := batchOf(creds, 1, 2), batchOf(creds, 2, 3), batchOf(creds, 3, 4)
	// Reordered: 3 before 1 and 2; each is accepted once.
	for _, b := range []*detect.Batch{b3, b1, b2} {
		if status, body := e.postBatch(c, b.BatchID, enc.batch(t, b)); status != http.StatusOK || string(body) != "{\"duplicate\":false}\n" {
			t.Fatalf("batch seq %d: %d %s", b.Seq, status, body)
		}
	}
	// Duplicate: the same bytes again.
	if status, body := e.postBatch(c, b2.BatchID, enc.batch(t, b2)); status != http.StatusOK || string(body) != "{\"duplicate\":true}\n" {
		t.Fatalf("duplicate: %d %s", status, body)
	}
	// Replayed: the same id with other content stores nothing new.
	replay := batchOf(creds, 9, 50)
	replay.BatchID = b1.BatchID
	if status, body := e.postBatch(c, replay.BatchID, enc.batch(t, replay)); status != http.StatusOK || !strings.Contains(string(body), `"duplicate":true`) {
		t.Fatalf("replay: %d %s", status, body)
	}
	if got := e.counts("m1"); got != (store.Counts{Batches: 3, Detections: 9, Summaries: 3}) {
		t.Fatalf("stored %+v, want 3 batches, 9 detections, 3 summaries", got)
	}
}

// TestBatchRejected posts malformed and hostile batches: each is refused
// with a 4xx and leaves nothing in the store.
func TestBatchRejected(t *testing.T) {
	e := newEnv(t, server.Config{Limits: server.Limits{MaxBody: 64 << 10, MaxDecoded: 1 << 20, MaxDetections: 100}})
	e.addMember("m1")
	e.addMember("m2")
	creds := e.enrol("m1")
	other := e.enrol("m2")
	c := e.collectorClient(creds)
	enc := newEncoder(t)

	type post struct {
		key  string
		body []byte
	}
	batch := func(mutate func(b *detect.Batch)) post {
		b := batchOf(creds, 1, 3)
		mutate(b)
		return post{b.BatchID, enc.batch(t, b)}
	}
	rawBatch := func(mutate func(m map[string]any)) post {
		b := batchOf(creds, 1, 1)
		js, _ := json.Marshal(b)
		var m map[string]any
		json.Unmarshal(js, &m)
		mutate(m)
		js, _ = json.Marshal(m)
		return post{b.BatchID, enc.raw(js)}
	}
	good := batchOf(creds, 1, 3)
	goodJSON, _ := json.Marshal(good)
	goodBody := enc.raw(goodJSON)

	for _, tc := range []struct {
		name   string
		post   post
		status int
	}{
		{"member mismatch", batch(func(b *detect.Batch) { b.MemberID = "m2" }), http.StatusForbidden},
		{"collector mismatch", batch(func(b *detect.Batch) { b.CollectorID = other.Identity().CollectorID }), http.StatusForbidden},
		{"detection of another member", batch(func(b *detect.Batch) { b.Detections[2] = detection("m2", "192.0.2.1") }), http.StatusForbidden},
		{"idempotency key is not the batch id", post{ulid.Make().String(), goodBody}, http.StatusBadRequest},
		{"batch id not a ULID", batch(func(b *detect.Batch) { b.BatchID = "batch-1" }), http.StatusBadRequest},
		{"truncated", post{good.BatchID, goodBody[:len(goodBody)/2]}, http.StatusBadRequest},
		{"not zstd", post{good.BatchID, goodJSON}, http.StatusBadRequest},
		{"malformed JSON", post{good.BatchID, enc.raw([]byte(`{"batch_id":"` + good.BatchID + `",`))}, http.StatusBadRequest},
		{"trailing data", post{good.BatchID, enc.raw(append(append([]byte{}, goodJSON...), "{}"...))}, http.StatusBadRequest},
		{"unknown field", rawBatch(func(m map[string]any) { m["raw_lines"] = []string{"secret"} }), http.StatusBadRequest},
		{"no seq", batch(func(b *detect.Batch) { b.Seq = 0 }), http.StatusBadRequest},
		{"no created", batch(func(b *detect.Batch) { b.Created = time.Time{} }), http.StatusBadRequest},
		{"created in the future", batch(func(b *detect.Batch) { b.Created = time.Now().Add(time.Hour) }), http.StatusBadRequest},
		{"created too long ago", batch(func(b *detect.Batch) { b.Created = time.Now().Add(-40 * 24 * time.Hour) }), http.StatusBadRequest},
		{"detection not an object", batch(func(b *detect.Batch) { b.Detections[1] = json.RawMessage(`[1]`) }), http.StatusBadRequest},
		{"detection severity 0", batch(func(b *detect.Batch) {
			b.Detections[2] = json.RawMessage(strings.Replace(string(b.Detections[2]), `"severity":50`, `"severity":0`, 1))
		}), http.StatusBadRequest},
		{"detection unknown field", batch(func(b *detect.Batch) {
			b.Detections[0] = json.RawMessage(strings.Replace(string(b.Detections[0]), `{"rule":{`, `{"payload":"x","rule":{`, 1))
		}), http.StatusBadRequest},
		{"summary without source", batch(func(b *detect.Batch) { b.Summaries[0].SourceIP = netip.Addr{} }), http.StatusBadRequest},
		{"summary count 0", batch(func(b *detect.Batch) { b.Summaries[0].Count = 0 }), http.StatusBadRequest},
		{"health without time", batch(func(b *detect.Batch) { b.Health.Time = time.Time{} }), http.StatusBadRequest},
		{"too many detections", batch(func(b *detect.Batch) {
			b.Detections = batchOf(creds, 1, 101).Detections
		}), http.StatusRequestEntityTooLarge},
		{"oversized body", post{good.BatchID, incompressible(100 << 10)}, http.StatusRequestEntityTooLarge},
		{"zstd bomb", post{good.BatchID, bomb(1<<30, true)}, http.StatusRequestEntityTooLarge},
		{"zstd bomb without size", post{good.BatchID, bomb(1<<30, false)}, http.StatusRequestEntityTooLarge},
		{"small zstd bomb without size", post{good.BatchID, bomb(8<<20, false)}, http.StatusRequestEntityTooLarge},
	} {
		status, body := e.postBatch(c, tc.post.key, tc.post.body)
		if status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, status, body, tc.status)
		}
		if !strings.Contains(string(body), `"error"`) {
			t.Errorf("%s: answer %s has no error message", tc.name, body)
		}
	}
	if got := e.counts(""); got != (store.Counts{}) {
		t.Fatalf("rejected batches stored %+v", got)
	}

	// Headers the collector always sends.
	for _, h := range []struct{ name, value string }{{"Content-Encoding", "gzip"}, {"Content-Type", "text/plain"}} {
		req, _ := http.NewRequest(http.MethodPost, e.url+server.BatchesPath, bytes.NewReader(goodBody))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", "zstd")
		req.Header.Set("Idempotency-Key", good.BatchID)
		req.Header.Set(h.name, h.value)
		if status, body := do(t, c, req); status != http.StatusUnsupportedMediaType {
			t.Errorf("%s %s: %d %s, want 415", h.name, h.value, status, body)
		}
	}
	// The good batch still goes in after all that.
	if status, body := e.postBatch(c, good.BatchID, goodBody); status != http.StatusOK {
		t.Fatalf("good batch: %d %s", status, body)
	}
	if got := e.counts(""); got.Batches != 1 || got.Detections != 3 {
		t.Fatalf("stored %+v", got)
	}
}

// incompressible returns n bytes zstd cannot shrink, framed as zstd.
func incompressible(n int) []byte {
	b := make([]byte, n)
	x := uint64(88172645463325252)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// bomb returns a zstd frame of RLE blocks, 4 bytes each, that decodes to n
// zero bytes (n a multiple of 128 KiB): a ratio of 32768 to 1. With
// declare, the frame header states the size, as a one-shot encoder writes
// it; without, as a streaming encoder does, only decoding finds it out.
func bomb(n int, declare bool) []byte {
	const block = 128 << 10
	b := binary.LittleEndian.AppendUint32(nil, 0xFD2FB528)
	if declare {
		// Single segment, 8-byte content size.
		b = append(b, 0xE0)
		b = binary.LittleEndian.AppendUint64(b, uint64(n))
	} else {
		// Window descriptor: 2^(10+7) = 128 KiB.
		b = append(b, 0x00, 7<<3)
	}
	for left := n; left > 0; left -= block {
		hdr := uint32(block)<<3 | 1<<1 // RLE block of 128 KiB
		if left <= block {
			hdr |= 1 // last block
		}
		b = append(b, byte(hdr), byte(hdr>>8), byte(hdr>>16), 0)
	}
	return b
}

// TestBomb checks that bomb makes what it says.
func TestBomb(t *testing.T) {
	for _, declare := range []bool{true, false} {
		dec, err := zstd.NewReader(bytes.NewReader(bomb(8<<20, declare)), zstd.WithDecoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, dec)
		dec.Close()
		if err != nil || n != 8<<20 {
			t.Fatalf("declare=%v: decoded %d bytes, %v; want %d", declare, n, err, 8<<20)
		}
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, server.Config{Limits: server.Limits{Rate: 0.5, Burst: 2}})
	e.addMember("m1")
	creds := e.enrol("m1")
	c := e.collectorClient(creds)
	enc := newEncoder(t)
	for i := range 2 {
		b := batchOf(creds, uint64(i+1), 1)
		if status, body := e.postBatch(c, b.BatchID, enc.batch(t, b)); status != http.StatusOK {
			t.Fatalf("batch %d: %d %s", i, status, body)
		}
	}
	b := batchOf(creds, 3, 1)
	a, err := e.tryBatch(c, b.BatchID, enc.batch(t, b))
	if err != nil {
		t.Fatal(err)
	}
	if a.status != http.StatusTooManyRequests {
		t.Fatalf("third batch: %d %s, want 429", a.status, a.body)
	}
	if secs, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || secs < 1 || secs > 2 {
		t.Fatalf("Retry-After %q, want 1 or 2 seconds", a.header.Get("Retry-After"))
	}
	// Another collector has its own bucket.
	other := e.enrol("m1")
	ob := batchOf(other, 1, 1)
	if status, body := e.postBatch(e.collectorClient(other), ob.BatchID, enc.batch(t, ob)); status != http.StatusOK {
		t.Fatalf("other collector: %d %s", status, body)
	}
	if got := e.counts(""); got.Batches != 3 {
		t.Fatalf("stored %d batches, want 3", got.Batches)
	}
}

// TestSlotBuffersReused sends batches through a single ingest slot, whose
// buffers each batch reuses: a batch handed on after its commit keeps its
// own bytes, whatever the slot reads next.
func TestSlotBuffersReused(t *testing.T) {
	var mu sync.Mutex
	var hooked []store.Batch
	e := newEnv(t, server.Config{Limits: server.Limits{Ingests: 1}, OnIngest: func(b store.Batch) {
		mu.Lock()
		defer mu.Unlock()
		hooked = append(hooked, b)
	}})
	e.addMember("m1")
	creds := e.enrol("m1")
	c := e.collectorClient(creds)
	enc := newEncoder(t)

	big, small := batchOf(creds, 1, 50), batchOf(creds, 2, 5)
	for i := range small.Detections {
		small.Detections[i] = detection("m1", fmt.Sprintf("192.0.2.%d", i+1))
	}
	if status, body := e.postBatch(c, big.BatchID, enc.batch(t, big)); status != http.StatusOK {
		t.Fatalf("big batch: %d %s", status, body)
	}
	// A refused batch and a smaller one overwrite the start of the buffers.
	if status, _ := e.postBatch(c, small.BatchID, enc.raw([]byte(`{"batch_id":"`+strings.Repeat("x", 4000)+`"}`))); status != http.StatusBadRequest {
		t.Fatalf("refused batch: %d, want 400", status)
	}
	if status, body := e.postBatch(c, small.BatchID, enc.batch(t, small)); status != http.StatusOK {
		t.Fatalf("small batch: %d %s", status, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hooked) != 2 {
		t.Fatalf("OnIngest got %d batches, want 2", len(hooked))
	}
	for i, sent := range []*detect.Batch{big, small} {
		got := hooked[i]
		if got.ID != sent.BatchID || len(got.Detections) != len(sent.Detections) {
			t.Fatalf("batch %d: got %s with %d detections, want %s with %d", i, got.ID, len(got.Detections), sent.BatchID, len(sent.Detections))
		}
		for j, d := range got.Detections {
			if !bytes.Equal(d.Raw, sent.Detections[j]) {
				t.Errorf("batch %d detection %d:\n got %s\nwant %s", i, j, d.Raw, sent.Detections[j])
			}
		}
	}
}

// TestPendingBound sends batches far larger than the bound on decoded
// batches waiting for the store, from several goroutines: each counts as
// the whole bound, so they go to the store one at a time, and all are
// stored.
func TestPendingBound(t *testing.T) {
	e := newEnv(t, server.Config{Limits: server.Limits{Pending: 1, Rate: 1e6, Burst: 1e6}})
	e.addMember("m1")
	creds := e.enrol("m1")
	c := e.collectorClient(creds)
	enc := newEncoder(t)
	var wg sync.WaitGroup
	for i := range 8 {
		b := batchOf(creds, uint64(i+1), 20)
		body := enc.batch(t, b)
		wg.Go(func() {
			if status, resp := e.postBatch(c, b.BatchID, body); status != http.StatusOK {
				t.Errorf("batch %d: %d %s", i, status, resp)
			}
		})
	}
	wg.Wait()
	if got := e.counts(""); got.Batches != 8 || got.Detections != 8*20 {
		t.Fatalf("stored %+v, want 8 batches of 20 detections", got)
	}
}
