// Package input holds the collector's log inputs: syslog over UDP, TCP and
// TLS, file tailing and stdin. Each input frames its bytes into lines (one
// syslog message, or one line of a file), copies them into pooled batches and
// hands the batches to a Sink, which blocks while the pipeline is full.
//
// Backpressure: a stream input (TCP, TLS, file, stdin) stops reading while
// the Sink blocks, so a TCP sender is slowed by its own window and a file is
// simply read later. A UDP sender cannot be slowed: datagrams that arrive
// while the Sink is full are read and dropped, and counted.
//
// UDP loss: what the input drops (oversize, over rate, pipeline full) is
// counted exactly. What the kernel drops because the socket's receive buffer
// was full is counted on Linux, per socket, through SO_RXQ_OVFL, and
// reported with the next datagram that arrives; elsewhere it is not
// counted. Loss before the socket (the network, the NIC, host-wide
// counters such as /proc/net/snmp's RcvbufErrors, which mix every socket)
// is not counted.
//
// Batches: a stream input delivers its pending lines when a batch is full
// or just before it would wait for more bytes, so batches are large under
// load and a quiet sender's line goes out at once; a UDP input delivers
// when a batch is full or its first line is 20ms old. A file input's
// batches carry the file's identity, and each line its end offset, for the
// offset to be stored with what the daemon derives from the lines.
//
// Oversize: a message longer than max_message is dropped whole and counted
// in Stats.Oversize, in every input. A truncated message is a different
// message (a cut "10.0.0.123" reads as "10.0.0.1"), and a stream input could
// only truncate by buffering the whole frame it is meant to refuse.
package input

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Input is one configured source of lines.
type Input interface {
	// Name is the input's configured name.
	Name() string
	// Start opens the input (binds its socket, opens its file) and starts
	// its goroutines, which deliver batches to sink until Close or until
	// ctx is cancelled. Calls to sink are given ctx. Start is called once.
	Start(ctx context.Context, sink Sink) error
	// Close stops reading, delivers the lines already read (while ctx
	// allows), and waits for the input's goroutines. It is safe to call
	// more than once, and before or without Start.
	Close() error
	// Done is closed when the input has stopped: after Close, after ctx is
	// cancelled, or at the end of a finite input (stdin).
	Done() <-chan struct{}
	// Stats returns the input's counters.
	Stats() *Stats
}

// Sink takes a batch of lines. It blocks while the pipeline is full, and
// returns ctx.Err() if ctx ends first; the batch is then dropped. The Sink
// owns the batch once called and calls Batch.Release when it no longer needs
// the lines' bytes.
type Sink func(ctx context.Context, b *Batch) error

// Line is one framed message.
type Line struct {
	// Data is the message without its framing (newline, octet count). It is
	// valid until the batch is released.
	Data []byte
	// Source is the sender's address; zero for files and stdin.
	Source netip.AddrPort
	// Received is when the bytes were read.
	Received time.Time
	// End is, for a file, the offset just past this line in the file that
	// Batch.File names; zero otherwise.
	End int64
}

// Batch is a run of lines from one input. All lines of a batch share the
// input's name, format and zone, and for a file input, one file.
type Batch struct {
	Input  string
	Format string         // a parser name, or "auto"
	Loc    *time.Location // zone of stamps that carry none; never nil
	Lines  []Line
	// File is set by file inputs: the file the lines' End offsets are in.
	// The daemon stores (File.Key, File.Ident, last line's End) in the same
	// transaction as the records derived from the batch, so that a restart
	// resumes exactly after them.
	File *FileMark

	slab []byte
	pool *batchPool
}

// FileMark names the file a batch came from.
type FileMark struct {
	Key   string // the offset store key: the tailed path, absolute
	Ident FileIdent
}

// Offset returns where a restart should resume after this batch: the file's
// key and identity and the end of the batch's last line. ok is false for a
// batch that is not from a file, or is empty.
func (b *Batch) Offset() (key string, ident FileIdent, offset int64, ok bool) {
	if b.File == nil || len(b.Lines) == 0 {
		return "", FileIdent{}, 0, false
	}
	return b.File.Key, b.File.Ident, b.Lines[len(b.Lines)-1].End, true
}

// Release returns the batch to its input's pool. The lines' bytes must not
// be used afterwards. Calling it is optional: an unreleased batch is
// collected as garbage.
func (b *Batch) Release() {
	if b.pool == nil {
		return
	}
	p := b.pool
	b.pool = nil
	p.put(b)
}

// fits reports whether a line of n bytes fits in the batch's slab without
// moving the bytes already there.
func (b *Batch) fits(n int) bool { return cap(b.slab)-len(b.slab) >= n }

// add copies data into the batch. The caller has checked fits.
func (b *Batch) add(data []byte, src netip.AddrPort, at time.Time, end int64) {
	start := len(b.slab)
	b.slab = append(b.slab, data...)
	b.Lines = append(b.Lines, Line{Data: b.slab[start:len(b.slab):len(b.slab)], Source: src, Received: at, End: end})
}

// Batch sizing: a batch closes at maxBatchLines lines or when its slab is
// full, whichever comes first. Large enough to make the per-batch costs
// (channel hand-off, a transaction) small per line, small enough that a
// batch is a few hundred kilobytes.
const (
	maxBatchLines = 512
	minSlab       = 256 << 10
)

// batchPool recycles batches and their slabs.
type batchPool struct {
	p        sync.Pool
	input    string
	format   string
	loc      *time.Location
	slabSize int
}

func newBatchPool(c *Common) *batchPool {
	return &batchPool{input: c.Name, format: c.Format, loc: c.loc, slabSize: max(minSlab, 2*c.MaxMessage)}
}

func (p *batchPool) get() *Batch {
	b, _ := p.p.Get().(*Batch)
	if b == nil {
		b = &Batch{slab: make([]byte, 0, p.slabSize), Lines: make([]Line, 0, maxBatchLines)}
	}
	b.Input, b.Format, b.Loc, b.pool = p.input, p.format, p.loc, p
	return b
}

func (p *batchPool) put(b *Batch) {
	clear(b.Lines) // drop references to the slab and to zones
	b.Lines, b.slab, b.File = b.Lines[:0], b.slab[:0], nil
	p.p.Put(b)
}

// Stats are an input's counters, updated atomically as the input runs and
// read by the metrics layer at any time.
type Stats struct {
	// Lines and Bytes count messages read, and their bytes without
	// framing: all but the oversize and the empty, before rate metering
	// and queueing.
	Lines atomic.Uint64
	Bytes atomic.Uint64
	// Oversize counts messages over max_message, dropped.
	Oversize atomic.Uint64
	// RateDropped counts UDP datagrams over their source's rate, dropped.
	RateDropped atomic.Uint64
	// RateDelayed counts stream lines over their source's rate: they are
	// kept, and the stream is read more slowly.
	RateDelayed atomic.Uint64
	// QueueDropped counts UDP datagrams dropped because the pipeline was
	// full.
	QueueDropped atomic.Uint64
	// KernelDropped is the number of datagrams the kernel dropped because
	// the socket's receive buffer was full, as the kernel reports it
	// (SO_RXQ_OVFL, Linux only; it stays zero elsewhere). It is reported
	// with the next datagram received after a drop.
	KernelDropped atomic.Uint64
	// Connections is the number of open connections; Accepted counts all
	// connections accepted, Rejected those closed at once because
	// max_connections were open.
	Connections atomic.Int64
	Accepted    atomic.Uint64
	Rejected    atomic.Uint64
	// Errors counts failed reads, TLS handshakes and file operations; each
	// is also logged.
	Errors atomic.Uint64
	// Undelivered counts lines read but not delivered because the Sink
	// returned an error (its context ended).
	Undelivered atomic.Uint64
}

// deliver hands b to sink, counting its lines as undelivered on error.
func deliver(ctx context.Context, sink Sink, b *Batch, st *Stats) error {
	n := len(b.Lines)
	if n == 0 {
		b.Release()
		return nil
	}
	if err := sink(ctx, b); err != nil {
		st.Undelivered.Add(uint64(n))
		return err
	}
	return nil
}

// lifecycle is the Start/Close/Done bookkeeping that every input shares.
type lifecycle struct {
	mu      sync.Mutex
	started bool
	closed  bool
	stop    func() // stops reading; set by Start
	wg      sync.WaitGroup
	done    chan struct{}
	doneOne sync.Once
}

func (l *lifecycle) init() { l.done = make(chan struct{}) }

// begin marks the input started; it fails on a second Start or after Close.
func (l *lifecycle) begin() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started || l.closed {
		return errStarted
	}
	l.started = true
	return nil
}

// run records stop and arranges for Done to close when the input's
// goroutines (counted in wg) have ended, and for ctx's end to stop the input.
func (l *lifecycle) run(ctx context.Context, stop func()) {
	l.mu.Lock()
	l.stop = stop
	closed := l.closed
	l.mu.Unlock()
	unwatch := context.AfterFunc(ctx, stop)
	go func() {
		l.wg.Wait()
		unwatch()
		l.finish()
	}()
	if closed {
		stop()
	}
}

func (l *lifecycle) finish() { l.doneOne.Do(func() { close(l.done) }) }

// close stops the input and waits for it.
func (l *lifecycle) close() {
	l.mu.Lock()
	l.closed = true
	stop, started := l.stop, l.started
	l.mu.Unlock()
	if !started {
		l.finish()
		return
	}
	if stop != nil {
		stop()
	}
	<-l.done
}
