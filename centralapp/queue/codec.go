package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/detect"
)

// codecVersion is the first byte of every message; a worker refuses
// versions it does not know rather than misread them.
const codecVersion = 1

// envelope is a batch on the stream: the collector's own wire form
// (detections as the exact §3.2 JSON it sent) plus what central added.
// Detections are decoded again by the worker from Raw, which is cheaper to
// send than the decoded columns and cannot disagree with them.
type envelope struct {
	ID          string               `json:"id"`
	CollectorID string               `json:"collector"`
	MemberID    string               `json:"member"`
	Seq         uint64               `json:"seq"`
	Created     time.Time            `json:"created"`
	Received    time.Time            `json:"received"`
	Detections  []json.RawMessage    `json:"detections,omitempty"`
	Summaries   []detect.FlowSummary `json:"summaries,omitempty"`
	Health      *detect.Health       `json:"health,omitempty"`
}

// codec turns batches into messages and back: versioned, zstd-compressed
// JSON. It is safe for concurrent use.
type codec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

// maxDecoded bounds a message decompressed: the ingest API's own bound on a
// decoded batch is 64 MiB by default, and the JSON of the envelope is about
// that size.
const maxDecoded = 256 << 20

func newCodec() (*codec, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxDecoded), zstd.WithDecoderConcurrency(0))
	if err != nil {
		enc.Close()
		return nil, err
	}
	return &codec{enc: enc, dec: dec}, nil
}

func (c *codec) close() { c.dec.Close(); c.enc.Close() }

// encode appends the message for b to dst.
func (c *codec) encode(dst []byte, b *store.Batch) ([]byte, error) {
	e := envelope{ID: b.ID, CollectorID: b.CollectorID, MemberID: b.MemberID, Seq: b.Seq,
		Created: b.Created, Received: b.Received, Summaries: b.Summaries, Health: b.Health}
	e.Detections = make([]json.RawMessage, len(b.Detections))
	for i := range b.Detections {
		if b.Detections[i].Raw == nil {
			return nil, fmt.Errorf("queue: detections[%d]: no raw JSON", i)
		}
		e.Detections[i] = b.Detections[i].Raw
	}
	js, err := json.Marshal(&e)
	if err != nil {
		return nil, fmt.Errorf("queue: encode batch %s: %w", b.ID, err)
	}
	return c.enc.EncodeAll(js, append(dst, codecVersion)), nil
}

// errCorrupt marks a message no worker can read; it is dropped, not
// retried.
var errCorrupt = errors.New("queue: corrupt message")

// decode reads a message back into a batch.
func (c *codec) decode(msg []byte) (*store.Batch, error) {
	if len(msg) == 0 || msg[0] != codecVersion {
		return nil, fmt.Errorf("%w: not a version %d message", errCorrupt, codecVersion)
	}
	js, err := c.dec.DecodeAll(msg[1:], nil)
	if err != nil {
		return nil, fmt.Errorf("%w: zstd: %v", errCorrupt, err)
	}
	var e envelope
	if err := json.Unmarshal(js, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	b := &store.Batch{ID: e.ID, CollectorID: e.CollectorID, MemberID: e.MemberID, Seq: e.Seq,
		Created: e.Created, Received: e.Received, Summaries: e.Summaries, Health: e.Health,
		Detections: make([]store.Detection, len(e.Detections))}
	for i, raw := range e.Detections {
		d, err := store.DecodeDetection(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: batch %s: detections[%d]: %v", errCorrupt, e.ID, i, err)
		}
		b.Detections[i] = d
	}
	return b, nil
}
