package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Lease elects the one node that runs shared work, for nodes that share a
// database but no queue cluster. It implements queue.Lease.
//
// The lease is a session advisory lock held on a connection of its own,
// outside the pool, so it lasts exactly as long as that session: losing
// the connection loses the lease. The holder pings the session every
// TTL/5 and gives the lease up when a ping fails or takes TTL/4. The
// server ends a session silent for TTL (idle_session_timeout), so a holder
// cut off from the database has stopped before another node can take the
// lock; and a node that takes it waits TTL/4 before it starts, by which
// time a holder whose session was ended under it has noticed.
type Lease struct {
	cfg  *pgx.ConnConfig
	name string
	key  int64
	ttl  time.Duration
	log  *slog.Logger
}

// Lease returns the lease named name on this store's database, whose
// holder must reach the database within ttl.
func (s *Store) Lease(name string, ttl time.Duration) (*Lease, error) {
	if name == "" {
		return nil, errors.New("postgres store: lease: no name")
	}
	if ttl < time.Second {
		return nil, fmt.Errorf("postgres store: lease ttl %v: at least 1s", ttl)
	}
	cfg := s.pool.Config().ConnConfig
	// Set at connection start, so they hold before the lock is taken.
	cfg.RuntimeParams["idle_session_timeout"] = strconv.FormatInt(ttl.Milliseconds(), 10)
	cfg.RuntimeParams["application_name"] = "cyberalarm-central lease " + name
	return &Lease{cfg: cfg, name: name, key: leaseKey(name), ttl: ttl, log: s.log}, nil
}

// leaseKey is the advisory lock key of lease name: a hash, in a space
// apart from the store's own constant keys by its prefix.
func leaseKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("cyberalarm lease\x00" + name))
	return int64(h.Sum64())
}

// Acquire waits until this node holds the lease, or ctx ends (then it
// returns ctx's error). held ends when the lease is lost or released;
// release gives it up and waits until it is given up.
func (l *Lease) Acquire(ctx context.Context) (held context.Context, release func(), err error) {
	step := l.ttl / 4
	var c *pgx.Conn
	defer func() {
		if err != nil && c != nil {
			c.Close(context.Background())
		}
	}()
	for {
		if c == nil || c.IsClosed() {
			c, err = l.connect(ctx, step)
			if err != nil && ctx.Err() == nil {
				l.log.Debug("lease: connect", "lease", l.name, "err", err)
			}
		}
		if c != nil {
			got, err := l.try(ctx, c, step)
			if err == nil && got {
				// A holder whose session was ended under it
				// notices within TTL/5: give it that, then check
				// the session is still here.
				if !sleep(ctx, step) {
					return nil, nil, ctx.Err()
				}
				if err := l.ping(ctx, c, step); err == nil {
					break
				}
				c.Close(context.Background())
				c = nil
				continue
			}
			if err != nil && ctx.Err() == nil {
				l.log.Debug("lease: try", "lease", l.name, "err", err)
				c.Close(context.Background())
				c = nil
			}
		}
		if !sleep(ctx, step) {
			return nil, nil, ctx.Err()
		}
	}
	l.log.Info("lease acquired", "lease", l.name)
	held, lose := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer lose()
		t := time.NewTicker(l.ttl / 5)
		defer t.Stop()
		for {
			select {
			case <-held.Done():
				return
			case <-t.C:
			}
			if err := l.ping(held, c, step); err != nil {
				if held.Err() == nil {
					l.log.Warn("lease lost: its database session ended or did not answer", "lease", l.name, "err", err)
				}
				return
			}
		}
	}()
	release = func() {
		lose()
		<-done
		// Unlocking lets the next node take over now; closing the
		// session would too, once the server notices.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), step)
		defer cancel()
		if !c.IsClosed() {
			if _, err := c.Exec(uctx, "SELECT pg_advisory_unlock($1)", l.key); err != nil {
				l.log.Debug("lease: release", "lease", l.name, "err", err)
			}
		}
		c.Close(uctx)
		l.log.Info("lease released", "lease", l.name)
	}
	return held, release, nil
}

func (l *Lease) connect(ctx context.Context, timeout time.Duration) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return pgx.ConnectConfig(cctx, l.cfg.Copy())
}

func (l *Lease) try(ctx context.Context, c *pgx.Conn, timeout time.Duration) (bool, error) {
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var got bool
	err := c.QueryRow(tctx, "SELECT pg_try_advisory_lock($1)", l.key).Scan(&got)
	return got, err
}

func (l *Lease) ping(ctx context.Context, c *pgx.Conn, timeout time.Duration) error {
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return c.Ping(pctx)
}

// sleep waits d, or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
