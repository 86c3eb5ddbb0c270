package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Lease elects the one node that runs shared work.
type Lease interface {
	// Acquire waits until this node holds the lease, or ctx ends (then it
	// returns ctx's error). held ends when the lease is lost or released;
	// release gives it up and waits until it is given up. Work done
	// under the lease must stop when held ends.
	Acquire(ctx context.Context) (held context.Context, release func(), err error)
}

// Solo is the lease of a single node: always held.
type Solo struct{}

// Acquire returns at once.
func (Solo) Acquire(ctx context.Context) (context.Context, func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	held, cancel := context.WithCancel(ctx)
	return held, cancel, nil
}

// KVLease is a lease in a JetStream key-value bucket whose entries live TTL
// after their last write: the holder created the key and rewrites it every
// TTL/4, compared with its last revision; the others try to create it every
// TTL/4 and succeed once it expired or was released. A holder that fails to
// rewrite it for TTL/2 gives it up, before anyone else can have it.
type KVLease struct {
	kv   jetstream.KeyValue
	key  string
	node string
	ttl  time.Duration
	log  *slog.Logger
}

var _ Lease = (*KVLease)(nil)

// Lease returns the lease named name in the stream's lease bucket
// (<stream>_leases, replicated like the stream), whose holder must renew it
// within ttl. node names this node in the bucket, for operators; "" means
// the host name and a random suffix.
func (q *JetStream) Lease(ctx context.Context, name, node string, ttl time.Duration) (*KVLease, error) {
	if !ValidName(name) {
		return nil, fmt.Errorf("queue: lease name %q: want letters, digits, '_' and '-'", name)
	}
	if ttl < time.Second {
		return nil, fmt.Errorf("queue: lease ttl %v: at least 1s", ttl)
	}
	bucket := q.cfg.Stream + "_leases"
	kv, err := q.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: bucket, Description: "cyberalarm: leases of shared work", TTL: ttl,
		History: 1, Storage: jetstream.FileStorage, Replicas: q.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("queue: lease bucket %s: %w", bucket, err)
	}
	if node == "" {
		node = nodeName()
	}
	return &KVLease{kv: kv, key: name, node: node, ttl: ttl, log: q.log}, nil
}

func nodeName() string {
	host, _ := os.Hostname()
	var r [4]byte
	rand.Read(r[:])
	return host + "-" + hex.EncodeToString(r[:])
}

// Acquire implements Lease.
func (l *KVLease) Acquire(ctx context.Context) (context.Context, func(), error) {
	step := l.ttl / 4
	var rev uint64
	for {
		actx, cancel := context.WithTimeout(ctx, step)
		r, err := l.kv.Create(actx, l.key, []byte(l.node))
		cancel()
		if err == nil {
			rev = r
			break
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			l.log.Debug("lease: acquire", "lease", l.key, "err", err)
		}
		if !sleep(ctx, step) {
			return nil, nil, ctx.Err()
		}
	}
	l.log.Info("lease acquired", "lease", l.key, "node", l.node)
	held, lose := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer lose()
		last := time.Now()
		t := time.NewTicker(step)
		defer t.Stop()
		for {
			select {
			case <-held.Done():
				return
			case <-t.C:
			}
			rctx, cancel := context.WithTimeout(held, step)
			r, err := l.kv.Update(rctx, l.key, []byte(l.node), rev)
			cancel()
			switch {
			case err == nil:
				rev, last = r, time.Now()
			case held.Err() != nil:
				return
			case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyExists),
				errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
				l.log.Warn("lease lost: taken over or expired", "lease", l.key, "node", l.node, "err", err)
				return
			case time.Since(last) >= l.ttl/2:
				l.log.Warn("lease lost: not renewed in time", "lease", l.key, "node", l.node, "err", err)
				return
			default:
				l.log.Debug("lease: renew", "lease", l.key, "err", err)
			}
		}
	}()
	release := func() {
		lose()
		<-done
		// Let the next node take over now rather than at expiry; only
		// the revision this node wrote is deleted.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), step)
		defer cancel()
		err := l.kv.Delete(dctx, l.key, jetstream.LastRevision(rev))
		if err != nil {
			// A renewal cut short by the release may have landed
			// unseen: delete the entry if it is still this node's.
			if e, gerr := l.kv.Get(dctx, l.key); gerr == nil && string(e.Value()) == l.node {
				err = l.kv.Delete(dctx, l.key, jetstream.LastRevision(e.Revision()))
			}
		}
		if err != nil {
			l.log.Debug("lease: release", "lease", l.key, "err", err)
		} else {
			l.log.Info("lease released", "lease", l.key, "node", l.node)
		}
	}
	return held, release, nil
}

// SaveState stores data under name in the stream's state object store
// (<stream>_state, replicated like the stream), replacing what was there.
func (q *JetStream) SaveState(ctx context.Context, name string, data []byte) error {
	obs, err := q.stateStore(ctx)
	if err != nil {
		return err
	}
	if _, err := obs.PutBytes(ctx, name, data); err != nil {
		return fmt.Errorf("queue: save state %s: %w", name, err)
	}
	return nil
}

// LoadState returns what SaveState stored under name, or nil if nothing.
func (q *JetStream) LoadState(ctx context.Context, name string) ([]byte, error) {
	obs, err := q.stateStore(ctx)
	if err != nil {
		return nil, err
	}
	data, err := obs.GetBytes(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("queue: load state %s: %w", name, err)
	}
	return data, nil
}

func (q *JetStream) stateStore(ctx context.Context) (jetstream.ObjectStore, error) {
	bucket := q.cfg.Stream + "_state"
	obs, err := q.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: bucket, Description: "cyberalarm: state of shared work", Storage: jetstream.FileStorage,
		Replicas: q.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("queue: state bucket %s: %w", bucket, err)
	}
	return obs, nil
}
