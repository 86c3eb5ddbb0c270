package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/oklog/ulid/v2"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/detect"
)

// rejection is a batch refused for good: the status, a reason for the
// collector, and a metrics label.
type rejection struct {
	status int
	reason string // label of cyberalarm_central_batches_total
	msg    string
}

func (e *rejection) Error() string { return e.msg }

func reject(status int, reason, format string, args ...any) *rejection {
	return &rejection{status: status, reason: reason, msg: fmt.Sprintf(format, args...)}
}

// batches serves POST /api/v1/batches: one zstd-compressed detect.Batch.
// Everything is checked before anything is stored, and the store takes the
// batch in one transaction, so a refused batch leaves nothing behind.
func (s *Server) batches(w http.ResponseWriter, r *http.Request, id identity) {
	start := time.Now()
	if ok, wait := s.rate.allow(id.collector, start); !ok {
		secs := max(1, int((wait+time.Second-1)/time.Second))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		s.metrics.batches.WithLabelValues("rejected", "rate_limited").Inc()
		writeError(w, http.StatusTooManyRequests, fmt.Sprintf("rate limit; retry in %ds", secs))
		return
	}
	// Bound the batches being read and decoded at once: each holds a
	// slot's buffers until it is decoded.
	var sc *scratch
	select {
	case sc = <-s.ingests:
	case <-r.Context().Done():
		return
	}
	b, size, rej := s.readBatch(w, r, id, sc)
	// The decoded batch refers to none of the slot's buffers: the next
	// request may read while this one waits for the store, so the store
	// (which writes concurrent batches together) always has batches at
	// hand.
	s.ingests <- sc
	if rej != nil {
		s.metrics.batches.WithLabelValues("rejected", rej.reason).Inc()
		s.log.Warn("batch rejected", "collector", id.collector, "member", id.member,
			"batch", r.Header.Get("Idempotency-Key"), "status", rej.status, "reason", rej.msg)
		writeError(w, rej.status, rej.msg)
		return
	}
	// Bound the decoded batches waiting for the store, by their size.
	size = min(size, s.limits.Pending)
	if err := s.pending.Acquire(r.Context(), size); err != nil {
		return
	}
	defer s.pending.Release(size)
	dup, err := s.ingest(r.Context(), b)
	switch {
	case errors.Is(err, store.ErrRevoked), errors.Is(err, store.ErrNotFound):
		s.metrics.batches.WithLabelValues("rejected", "revoked").Inc()
		s.log.Info("batch refused: collector revoked", "collector", id.collector, "member", id.member, "batch", b.ID)
		writeError(w, http.StatusForbidden, "collector revoked")
		return
	case errors.Is(err, store.ErrInvalid):
		// The checks below should have caught it; the store is the last
		// word.
		s.metrics.batches.WithLabelValues("rejected", "invalid").Inc()
		s.log.Warn("batch refused by the store", "collector", id.collector, "member", id.member, "batch", b.ID, "err", err)
		writeError(w, http.StatusBadRequest, "batch refused: invalid record")
		return
	case err != nil:
		s.metrics.batches.WithLabelValues("failed", "store").Inc()
		s.storeFailed(w, r, "ingest batch", err, "collector", id.collector, "member", id.member, "batch", b.ID)
		return
	}
	s.metrics.ingestSeconds.Observe(time.Since(start).Seconds())
	// Boxing the attributes costs even when debug is off.
	debug := s.log.Enabled(r.Context(), slog.LevelDebug)
	answer := answerStored
	if dup {
		answer = answerDuplicate
		s.metrics.duplicate.Inc()
		if debug {
			s.log.Debug("duplicate batch", "collector", id.collector, "member", id.member, "batch", b.ID)
		}
	} else {
		s.metrics.accepted.Inc()
		s.metrics.detections.Add(float64(len(b.Detections)))
		s.metrics.summaries.Add(float64(len(b.Summaries)))
		if debug {
			s.log.Debug("batch stored", "collector", id.collector, "member", id.member, "batch", b.ID,
				"seq", b.Seq, "detections", len(b.Detections), "summaries", len(b.Summaries))
		}
		if s.onIngest != nil {
			s.onIngest(*b)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, answer)
}

// The answers to a batch stored or already stored, as writeJSON writes
// them.
const (
	answerStored    = `{"duplicate":false}` + "\n"
	answerDuplicate = `{"duplicate":true}` + "\n"
)

// scratch is an ingest slot's buffers for the compressed body and the
// decompressed batch, reused from batch to batch. Nothing decoded from them
// refers to them (store.DecodeBatch copies), so they are free again once
// the batch is decoded.
type scratch struct {
	body, decoded []byte
}

// Buffers larger than these, left by a rare big batch, are dropped rather
// than kept for the next one.
const (
	retainedBody    = 1 << 20
	retainedDecoded = 4 << 20
)

// retain is b emptied for reuse, or nil when b is too big to keep.
func retain(b []byte, limit int) []byte {
	if cap(b) > limit {
		return nil
	}
	return b[:0]
}

// readBody appends r to buf until EOF; n is the expected length, or -1.
func readBody(buf []byte, r io.Reader, n int64) ([]byte, error) {
	b := bytes.NewBuffer(buf)
	if n > 0 {
		b.Grow(int(n) + bytes.MinRead) // room for the read that sees EOF
	}
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}

// readBatch reads, decompresses, decodes and checks the request's batch,
// in sc's buffers.
// size is the decompressed batch's length, a measure of what the decoded
// batch holds in memory.
func (s *Server) readBatch(w http.ResponseWriter, r *http.Request, id identity, sc *scratch) (_ *store.Batch, size int64, _ *rejection) {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		return nil, 0, reject(http.StatusUnsupportedMediaType, "content_type", "Content-Type %q, want application/json", ct)
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "zstd" {
		return nil, 0, reject(http.StatusUnsupportedMediaType, "content_encoding", "Content-Encoding %q, want zstd", ce)
	}
	key := r.Header.Get("Idempotency-Key")
	if _, err := ulid.ParseStrict(key); err != nil {
		return nil, 0, reject(http.StatusBadRequest, "idempotency_key", "Idempotency-Key %q is not a ULID", key)
	}
	if r.ContentLength > s.limits.MaxBody {
		return nil, 0, reject(http.StatusRequestEntityTooLarge, "too_large", "batch of %d bytes; at most %d compressed", r.ContentLength, s.limits.MaxBody)
	}
	body, err := readBody(sc.body, http.MaxBytesReader(w, r.Body, s.limits.MaxBody), r.ContentLength)
	sc.body = retain(body, retainedBody)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, 0, reject(http.StatusRequestEntityTooLarge, "too_large", "batch over %d bytes compressed", s.limits.MaxBody)
		}
		return nil, 0, reject(http.StatusBadRequest, "truncated", "read body: %v", err)
	}
	js, err := s.dec.DecodeAll(body, sc.decoded)
	sc.decoded = retain(js, retainedDecoded)
	switch {
	case errors.Is(err, zstd.ErrDecoderSizeExceeded), errors.Is(err, zstd.ErrWindowSizeExceeded):
		return nil, 0, reject(http.StatusRequestEntityTooLarge, "too_large", "batch decompresses to more than %d bytes", s.limits.MaxDecoded)
	case err != nil:
		return nil, 0, reject(http.StatusBadRequest, "zstd", "zstd: %v", err)
	}
	wire, err := store.DecodeBatch(js)
	if err != nil {
		return nil, 0, reject(http.StatusBadRequest, "json", "batch: %v", err)
	}
	b, rej := s.checkBatch(&wire, key, id)
	return b, int64(len(js)), rej
}

// checkBatch validates a decoded batch against the request and the limits,
// and decodes its detections.
func (s *Server) checkBatch(wb *detect.Batch, key string, id identity) (*store.Batch, *rejection) {
	l := &s.limits
	if _, err := ulid.ParseStrict(wb.BatchID); err != nil {
		return nil, reject(http.StatusBadRequest, "invalid", "batch_id %q is not a ULID", wb.BatchID)
	}
	if wb.BatchID != key {
		return nil, reject(http.StatusBadRequest, "idempotency_key", "Idempotency-Key %q is not the batch_id %q", key, wb.BatchID)
	}
	if wb.CollectorID != id.collector || wb.MemberID != id.member {
		return nil, reject(http.StatusForbidden, "identity",
			"batch is for collector %q of member %q; the certificate is collector %q of member %q",
			wb.CollectorID, wb.MemberID, id.collector, id.member)
	}
	if wb.Seq == 0 {
		return nil, reject(http.StatusBadRequest, "invalid", "seq: missing")
	}
	now := s.now().UTC()
	switch {
	case wb.Created.IsZero():
		return nil, reject(http.StatusBadRequest, "time", "created: missing")
	case wb.Created.After(now.Add(l.MaxFuture)):
		return nil, reject(http.StatusBadRequest, "time", "created %s is more than %v ahead of central's clock %s",
			wb.Created.UTC().Format(time.RFC3339), l.MaxFuture, now.Format(time.RFC3339))
	case wb.Created.Before(now.Add(-l.MaxAge)):
		return nil, reject(http.StatusBadRequest, "time", "created %s is more than %v old",
			wb.Created.UTC().Format(time.RFC3339), l.MaxAge)
	}
	if n := len(wb.Detections); n > l.MaxDetections {
		return nil, reject(http.StatusRequestEntityTooLarge, "too_large", "%d detections; at most %d per batch", n, l.MaxDetections)
	}
	if n := len(wb.Summaries); n > l.MaxSummaries {
		return nil, reject(http.StatusRequestEntityTooLarge, "too_large", "%d summaries; at most %d per batch", n, l.MaxSummaries)
	}
	b := &store.Batch{
		ID:          wb.BatchID,
		CollectorID: wb.CollectorID,
		MemberID:    wb.MemberID,
		Seq:         wb.Seq,
		Created:     wb.Created.UTC(),
		Received:    now,
		Detections:  make([]store.Detection, len(wb.Detections)),
		Summaries:   wb.Summaries,
		Health:      wb.Health,
	}
	for i, raw := range wb.Detections {
		d, err := store.DecodeDetection(raw)
		if err != nil {
			return nil, reject(http.StatusBadRequest, "detection", "detections[%d]: %v", i, err)
		}
		if d.MemberID != "" && d.MemberID != wb.MemberID {
			return nil, reject(http.StatusForbidden, "identity", "detections[%d]: member.id %q in a batch of member %q", i, d.MemberID, wb.MemberID)
		}
		b.Detections[i] = d
	}
	for i := range wb.Summaries {
		if err := checkSummary(&wb.Summaries[i]); err != nil {
			return nil, reject(http.StatusBadRequest, "summary", "summaries[%d]: %v", i, err)
		}
		wb.Summaries[i].Minute = wb.Summaries[i].Minute.UTC()
	}
	if h := wb.Health; h != nil {
		if n := len(h.Devices); n > l.MaxDevices {
			return nil, reject(http.StatusRequestEntityTooLarge, "too_large", "health: %d devices; at most %d", n, l.MaxDevices)
		}
		if h.Time.IsZero() {
			return nil, reject(http.StatusBadRequest, "health", "health.time: missing")
		}
	}
	return b, nil
}

// checkSummary checks what aggregation relies on in a flow summary.
func checkSummary(f *detect.FlowSummary) error {
	switch {
	case f.Minute.IsZero():
		return errors.New("minute: missing")
	case !f.Minute.Equal(f.Minute.Truncate(time.Minute)):
		return fmt.Errorf("minute %s: not the start of a minute", f.Minute.Format(time.RFC3339Nano))
	case !f.SourceIP.IsValid():
		return errors.New("source_ip: missing")
	case f.SourceIP.Zone() != "":
		return fmt.Errorf("source_ip %s: has a zone", f.SourceIP)
	case f.Count < 1:
		return fmt.Errorf("count %d: below 1", f.Count)
	}
	f.SourceIP = f.SourceIP.Unmap()
	return nil
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown
// fields and anything after the value.
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

// bodyStatus is the status for a request body that failed to decode.
func bodyStatus(err error) int {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}
