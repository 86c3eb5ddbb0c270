package forwardtest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/oklog/ulid/v2"

	"github.com/cyberalarm/cyberalarm/collectorapp/forward"
	"github.com/cyberalarm/cyberalarm/detect"
)

// MemOutbox is an in-memory forward.Outbox, for tests that do not need the
// collector's SQLite buffer.
type MemOutbox struct {
	mu          sync.Mutex
	pending     []memBatch // oldest first
	delivered   []string
	quarantined []Quarantined
	ready       chan struct{}
}

type memBatch struct {
	id   string
	body []byte
}

// Quarantined is a batch the forwarder set aside.
type Quarantined struct {
	ID     string
	Status int
	Reason string
}

var _ forward.Outbox = (*MemOutbox)(nil)

// NewMemOutbox returns an empty outbox.
func NewMemOutbox() *MemOutbox {
	return &MemOutbox{ready: make(chan struct{}, 1)}
}

// Add seals a batch: it joins the end of the queue and Ready is signalled.
func (o *MemOutbox) Add(id string, body []byte) {
	o.mu.Lock()
	o.pending = append(o.pending, memBatch{id, body})
	o.mu.Unlock()
	select {
	case o.ready <- struct{}{}:
	default:
	}
}

// Oldest implements forward.Outbox.
func (o *MemOutbox) Oldest(ctx context.Context) (string, []byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", nil, false, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.pending) == 0 {
		return "", nil, false, nil
	}
	return o.pending[0].id, o.pending[0].body, true, nil
}

// Delivered implements forward.Outbox. Only the oldest batch may be
// delivered: the forwarder never skips ahead.
func (o *MemOutbox) Delivered(id string) error {
	return o.remove(id, func() { o.delivered = append(o.delivered, id) })
}

// Quarantine implements forward.Outbox.
func (o *MemOutbox) Quarantine(id string, status int, reason string) error {
	return o.remove(id, func() { o.quarantined = append(o.quarantined, Quarantined{id, status, reason}) })
}

func (o *MemOutbox) remove(id string, record func()) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.pending) == 0 || o.pending[0].id != id {
		return fmt.Errorf("memoutbox: %s is not the oldest pending batch", id)
	}
	o.pending = o.pending[1:]
	record()
	return nil
}

// Ready implements forward.Outbox.
func (o *MemOutbox) Ready() <-chan struct{} { return o.ready }

// Pending returns the number of batches not yet delivered or quarantined.
func (o *MemOutbox) Pending() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.pending)
}

// DeliveredIDs returns the ids of delivered batches, in delivery order.
func (o *MemOutbox) DeliveredIDs() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.delivered...)
}

// QuarantinedBatches returns the quarantined batches, in order.
func (o *MemOutbox) QuarantinedBatches() []Quarantined {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Quarantined(nil), o.quarantined...)
}

// BatchMaker builds valid compressed batches for one collector, with rising
// ULIDs and sequence numbers.
type BatchMaker struct {
	CollectorID, MemberID string
	enc                   *zstd.Encoder
	seq                   uint64
}

// NewBatchMaker returns a BatchMaker for the identity.
func NewBatchMaker(id forward.Identity) *BatchMaker {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	if err != nil {
		panic(err) // only bad options make NewWriter fail, and these are fixed
	}
	return &BatchMaker{CollectorID: id.CollectorID, MemberID: id.MemberID, enc: enc}
}

// Next returns the id and compressed body of a new batch with detections,
// which must be valid JSON.
func (m *BatchMaker) Next(detections ...json.RawMessage) (string, []byte, error) {
	m.seq++
	b := detect.Batch{
		BatchID:     ulid.Make().String(),
		CollectorID: m.CollectorID,
		MemberID:    m.MemberID,
		Seq:         m.seq,
		Created:     time.Now().UTC(),
		Detections:  detections,
		Summaries:   []detect.FlowSummary{},
	}
	if b.Detections == nil {
		b.Detections = []json.RawMessage{}
	}
	body, err := m.Encode(&b)
	return b.BatchID, body, err
}

// Encode returns b as compressed JSON.
func (m *BatchMaker) Encode(b *detect.Batch) ([]byte, error) {
	js, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("forwardtest: encode batch: %w", err)
	}
	return m.enc.EncodeAll(js, nil), nil
}
