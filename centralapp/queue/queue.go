// Package queue carries batches from central's ingest API, which has
// verified them, to the store. A Queue's Publish returns once the batch is
// durable; its Consume hands batches to a Handler, which stores them.
//
// Two queues are built in. InProcess calls the handler inside Publish: one
// node, the batch stored before the collector gets its answer, as central
// always did. JetStream publishes to a replicated NATS JetStream stream on
// subject ingest.<member>, answers once the stream has acknowledged, and
// lets worker nodes consume with a durable pull consumer, acknowledging
// each batch after the store committed it. A batch redelivered after a
// crash is harmless: the store refuses a batch id it already holds, so
// every batch is stored exactly once.
//
// Work that must run once across nodes (aggregation, reports, retention)
// runs under a Lease: Solo for one node, JetStream's key-value lease for
// many.
package queue

import (
	"context"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// Handler stores one batch. duplicate is true when the store already held
// its id. An error wrapping store.ErrInvalid, store.ErrRevoked or
// store.ErrNotFound refuses the batch for good; any other is retried.
type Handler func(ctx context.Context, b *store.Batch) (duplicate bool, err error)

// Queue carries verified batches to a Handler.
type Queue interface {
	// Publish hands b over and returns once it is durable. duplicate is
	// true when the batch was seen before (by the store, or within the
	// stream's dedupe window). Publish does not keep b.
	Publish(ctx context.Context, b *store.Batch) (duplicate bool, err error)
	// Consume hands published batches to h, a bounded number at a time,
	// until ctx ends; it returns nil then. A batch is done when h returns
	// nil; otherwise it is offered again later.
	Consume(ctx context.Context, h Handler) error
	// Close releases the queue.
	Close() error
}

// InProcess is the single-node queue: Publish calls the handler at once,
// so a batch is durable when it is stored.
type InProcess struct {
	h Handler
}

var _ Queue = (*InProcess)(nil)

// NewInProcess returns a queue whose Publish stores with h.
func NewInProcess(h Handler) *InProcess { return &InProcess{h: h} }

// Publish stores b with the handler.
func (q *InProcess) Publish(ctx context.Context, b *store.Batch) (bool, error) { return q.h(ctx, b) }

// Consume has nothing to do, since Publish stored everything: it waits for
// ctx to end.
func (q *InProcess) Consume(ctx context.Context, _ Handler) error {
	<-ctx.Done()
	return nil
}

// Close does nothing.
func (q *InProcess) Close() error { return nil }
