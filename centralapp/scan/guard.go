package scan

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"
)

// guard is the only way a run reaches the network. It dials an address
// only when the run's scope holds it, after the rate limits, with every
// probe in the audit log before the connection is opened.
type guard struct {
	s               *Scanner
	run, member, by string
	scope           map[netip.Addr]string // address -> the host name it was resolved from
	probes          atomic.Int64
}

// probe is one audited connection. finish records its result and closes
// it.
type probe struct {
	net.Conn
	g     *guard
	id    int64
	stop  func() bool
	ended bool
}

// dial opens a connection to a:port for the probe kind, described by
// detail. The error is ErrOutOfScope, without any dial, for an address
// outside the run's scope.
func (g *guard) dial(ctx context.Context, kind, detail string, a netip.Addr, port uint16) (*probe, error) {
	name, ok := g.scope[a]
	e := AuditEntry{RunID: g.run, MemberID: g.member, By: g.by, Probe: kind, Host: name, Addr: a, Port: port, Detail: detail}
	if !ok {
		// Refusals are audited too: a check that tries to leave its
		// scope is a bug someone must see.
		e.Started, e.Finished, e.Result = g.s.now(), g.s.now(), "refused: out of scope"
		if _, err := g.s.o.Store.AuditStart(ctx, e); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s: %w", addrPort(a, port), ErrOutOfScope)
	}
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	if err := g.s.overall.Wait(ctx); err != nil {
		return nil, context.Cause(ctx)
	}
	if err := g.s.perAddr.get(a.String()).Wait(ctx); err != nil {
		return nil, context.Cause(ctx)
	}
	e.Started = g.s.now()
	id, err := g.s.o.Store.AuditStart(ctx, e)
	if err != nil {
		// No probe without its audit record.
		return nil, err
	}
	g.probes.Add(1)
	dctx, cancel := context.WithTimeout(ctx, g.s.o.Timeout)
	defer cancel()
	c, err := g.s.o.Dial(dctx, "tcp", addrPort(a, port))
	if err != nil {
		g.s.o.Store.AuditFinish(ctx, id, g.s.now(), dialResult(ctx, err)) //nolint:errcheck // the dial error is what the caller needs
		if cause := context.Cause(ctx); cause != nil {
			return nil, cause
		}
		return nil, err
	}
	c.SetDeadline(time.Now().Add(g.s.o.Timeout))
	p := &probe{Conn: c, g: g, id: id}
	// The kill switch and cancellation end a probe mid-exchange.
	p.stop = context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	return p, nil
}

// finish closes the probe and records its result.
func (p *probe) finish(ctx context.Context, result string) {
	if p.ended {
		return
	}
	p.ended = true
	p.stop()
	p.Conn.Close()
	if err := p.g.s.o.Store.AuditFinish(ctx, p.id, p.g.s.now(), result); err != nil {
		p.g.s.o.Log.Error("scan audit", "err", err)
	}
}

// dialResult is the audit log's word for a failed connect.
func dialResult(ctx context.Context, err error) string {
	switch {
	case context.Cause(ctx) != nil:
		return "stopped: " + context.Cause(ctx).Error()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "closed"
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return "filtered (no answer)"
	}
	return "error: " + err.Error()
}
