package server

import "sync"

// gate counts the requests running in the handler and, once closed, turns
// new ones away, so that shutdown can wait for the last one. Unlike a
// sync.WaitGroup it allows a request to arrive while shutdown waits: an
// HTTP/2 connection may start a handler for a stream it read just before
// it was closed.
type gate struct {
	mu     sync.Mutex
	n      int
	closed bool
	idle   chan struct{} // closed when closed and n is 0
}

func newGate() *gate { return &gate{idle: make(chan struct{})} }

// enter admits a request, unless the gate is closed.
func (g *gate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.n++
	return true
}

// leave ends a request admitted by enter.
func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.closed && g.n == 0 {
		close(g.idle)
	}
}

// closeAndWait closes the gate and waits until no admitted request runs.
// It may be called more than once.
func (g *gate) closeAndWait() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		if g.n == 0 {
			close(g.idle)
		}
	}
	g.mu.Unlock()
	<-g.idle
}
