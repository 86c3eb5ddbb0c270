package daemon

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/maphash"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cyberalarm/cyberalarm/collectorapp/buffer"
	"github.com/cyberalarm/cyberalarm/collectorapp/egress"
	"github.com/cyberalarm/cyberalarm/collectorapp/input"
	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/plugins"
	"github.com/cyberalarm/cyberalarm/rules"
)

// The pipeline runs in stages joined by bounded channels:
//
//	inputs ──Sink──▶ parse workers (parse, classify) ──▶ rule stage (rules,
//	correlation, flow summaries, egress policy) ──Commit──▶ SQLite buffer
//
// A full channel blocks the stage before it, back to the inputs: a TCP
// sender is slowed by its window, a file is read later, and UDP datagrams
// are dropped and counted by their input.
//
// Batches go to parse workers by a hash of their input and first source,
// so a file or a connection always meets the same worker and keeps its
// order and its stream state (auto-detection, W3C and Zeek headers).
//
// Durability: the rule stage commits every CommitEvery (250ms), or sooner
// when CommitRecords are waiting. A commit holds the detections, every flow
// count gathered since the last commit (as partial summaries, which the
// buffer adds up again when it seals a batch), and the file offsets of the
// lines they came from, in one transaction. A crash therefore neither loses nor repeats a file line;
// what a network input had read but not committed is lost, like the
// kernel's socket buffer. Correlation state is memory only: a restart
// begins its windows afresh.

// pipelineConfig tunes a pipeline.
type pipelineConfig struct {
	Registry *parsers.Registry
	Lists    *detect.Lists
	Rules    *rules.Set
	Limits   rules.Limits
	Member   string
	Policy   *egress.Policy
	Summary  egress.SummarizerConfig
	Buffer   *buffer.Buffer
	Log      *slog.Logger
	// Ref is the reference time for stamps without a year; zero means the
	// time of parsing. Replays of old logs (the demo) set it.
	Ref time.Time

	Workers       int           // parse workers; default 1
	QueueLines    int           // lines that may wait for the parse stage
	CommitEvery   time.Duration // default 250ms
	CommitRecords int           // default 10,000
	// Plugins are the parser plugins; a batch whose format is one of them
	// is parsed through the plugin's batch path.
	Plugins *plugins.Set
	// Summaries turns flow summaries on.
	Summaries bool
	// MaxHeld bounds the records held in memory while the buffer refuses
	// commits (a full disk); past it, the oldest are dropped and counted.
	MaxHeld int
}

type pipeline struct {
	cfg     pipelineConfig
	log     *slog.Logger
	lists   atomic.Pointer[detect.Lists]
	rules   atomic.Pointer[rules.Set]
	seed    maphash.Seed
	work    []chan *input.Batch
	events  chan *eventBatch
	pool    sync.Pool // *eventBatch
	devices devices

	counts struct {
		lines, parsed, notEvents, failed       atomic.Int64
		internal, trusted, indicatorHits, kept atomic.Int64
		detections, summaries                  atomic.Int64
		droppedHeld                            atomic.Int64
		commitErrors                           atomic.Int64
		ruleGroups                             atomic.Int64
		ruleEvicted, ruleLate, ruleErrors      atomic.Int64
	}
	commitErr atomic.Pointer[commitError]

	wg      sync.WaitGroup // parse workers
	ruleEnd chan struct{}  // closed when the rule stage has flushed and ended
}

type commitError struct {
	msg string
	at  time.Time
}

// eventBatch carries the events kept from one input batch to the rule
// stage, with the file offset they reach.
type eventBatch struct {
	input  string
	events []detect.Event
	offset *buffer.Offset
}

func newPipeline(cfg pipelineConfig) (*pipeline, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.CommitEvery <= 0 {
		cfg.CommitEvery = 250 * time.Millisecond
	}
	if cfg.CommitRecords <= 0 {
		cfg.CommitRecords = 10_000
	}
	if cfg.MaxHeld <= 0 {
		cfg.MaxHeld = 1_000_000
	}
	if cfg.QueueLines <= 0 {
		cfg.QueueLines = 65_536
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Registry == nil || cfg.Lists == nil || cfg.Rules == nil || cfg.Buffer == nil || cfg.Policy == nil {
		return nil, errors.New("pipeline: registry, lists, rules, policy and buffer are required")
	}
	p := &pipeline{cfg: cfg, log: cfg.Log, seed: maphash.MakeSeed(), ruleEnd: make(chan struct{})}
	p.setLists(cfg.Lists)
	p.setRules(cfg.Rules)
	// Input batches hold up to a few hundred lines; size the queues so
	// that about QueueLines lines wait in all.
	perWorker := max(2, cfg.QueueLines/256/cfg.Workers)
	p.work = make([]chan *input.Batch, cfg.Workers)
	for i := range p.work {
		p.work[i] = make(chan *input.Batch, perWorker)
	}
	p.events = make(chan *eventBatch, max(4, cfg.QueueLines/256))
	return p, nil
}

// setLists swaps in new lists (an indicator update) without a restart.
func (p *pipeline) setLists(l *detect.Lists) {
	p.lists.Store(l)
	if s := p.rules.Load(); s != nil {
		s.SetLists(l)
	}
}

// setRules swaps in a new rule set; the rule stage picks it up with its
// next batch.
func (p *pipeline) setRules(s *rules.Set) {
	s.SetLists(p.lists.Load())
	p.rules.Store(s)
}

// start runs the parse workers and the rule stage. They end after close
// has been called and every queued batch has gone through.
func (p *pipeline) start() (*egress.Summarizer, error) {
	summ, err := egress.NewSummarizer(p.cfg.Summary)
	if err != nil {
		return nil, err
	}
	for _, ch := range p.work {
		p.wg.Add(1)
		go p.parseWorker(ch)
	}
	go p.ruleStage(summ)
	return summ, nil
}

// sink is the inputs' input.Sink.
func (p *pipeline) sink(ctx context.Context, b *input.Batch) error {
	ch := p.work[p.shard(b)]
	select {
	case ch <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pipeline) shard(b *input.Batch) int {
	if len(p.work) == 1 {
		return 0
	}
	var h maphash.Hash
	h.SetSeed(p.seed)
	h.WriteString(b.Input)
	if len(b.Lines) > 0 {
		a := b.Lines[0].Source.Addr().As16()
		h.Write(a[:])
	}
	return int(h.Sum64() % uint64(len(p.work)))
}

// close stops taking batches and waits until everything queued is
// committed. The inputs must have stopped calling sink.
func (p *pipeline) close() {
	for _, ch := range p.work {
		close(ch)
	}
	p.wg.Wait()
	close(p.events)
	<-p.ruleEnd
}

// maxStreams bounds the parse state kept per worker: one Stream per
// (input, source address). A UDP input with a million spoofed sources
// must not hold a million.
const maxStreams = 4096

type streamKey struct {
	input string
	addr  netip.Addr
}

func (p *pipeline) parseWorker(in <-chan *input.Batch) {
	defer p.wg.Done()
	streams := make(map[streamKey]*parsers.Stream)
	sessions := make(map[streamKey]*plugins.Session)
	defer func() {
		for _, s := range sessions {
			s.Close()
		}
	}()
	var lines [][]byte
	tally := make(deviceCounts)
	internal := func(a netip.Addr) bool { return p.lists.Load().Internal(a) }
	var cs detect.ClassifyStats
	for b := range in {
		eb, _ := p.pool.Get().(*eventBatch)
		if eb == nil {
			eb = &eventBatch{events: make([]detect.Event, 0, 512)}
		}
		eb.input = b.Input
		eb.events = eb.events[:0]
		eb.offset = nil
		if key, id, off, ok := b.Offset(); ok {
			eb.offset = &buffer.Offset{Key: key, Ident: bufferIdent(id), Offset: off}
		}
		lists := p.lists.Load()
		var parsed, notEvents, failed int64
		// account counts one line's result against its device and
		// reports whether it is an event.
		account := func(ln *input.Line, dataset string, ev *detect.Event, err error) bool {
			device := ""
			if ev != nil {
				device = ev.Observer.Hostname
			}
			if device == "" {
				device = sourceName(ln.Source, b.Input)
			}
			bad := false
			switch {
			case err == nil:
				parsed++
			case errors.Is(err, detect.ErrNotEvent):
				notEvents++
			default:
				failed++
				bad = true
			}
			tally.add(device, dataset, b.Input, ln.Received, bad)
			return err == nil
		}
		if pl, ok := p.plugin(b.Format); ok && len(b.Lines) > 0 {
			k := streamKey{b.Input, b.Lines[0].Source.Addr()}
			sess := sessions[k]
			if sess == nil {
				if len(sessions) >= maxStreams {
					for old, s := range sessions {
						s.Close()
						delete(sessions, old)
						break
					}
				}
				sess = pl.NewSession()
				sess.Loc, sess.Ref, sess.Internal = b.Loc, p.cfg.Ref, internal
				sessions[k] = sess
			}
			lines = lines[:0]
			for i := range b.Lines {
				lines = append(lines, b.Lines[i].Data)
			}
			emitted := 0
			err := sess.Parse(context.Background(), lines, func(i int, ev *detect.Event, err error) {
				emitted++
				if account(&b.Lines[i], b.Format, ev, err) && lists.Classify(ev, &cs) == detect.Keep {
					eb.events = append(eb.events, *ev)
				}
			})
			if err != nil {
				failed += int64(len(lines) - emitted)
				p.log.Error("parser plugin", "plugin", b.Format, "input", b.Input, "lines", len(lines)-emitted, "err", err)
			}
		} else {
			for i := range b.Lines {
				ln := &b.Lines[i]
				k := streamKey{b.Input, ln.Source.Addr()}
				st := streams[k]
				if st == nil {
					if len(streams) >= maxStreams {
						for old := range streams { // any one: stream state is a cache
							delete(streams, old)
							break
						}
					}
					var err error
					st, err = parsers.NewStream(p.cfg.Registry, b.Format)
					if err != nil { // config validation names known formats
						p.log.Error("input format", "input", b.Input, "err", err)
						st, _ = parsers.NewStream(p.cfg.Registry, "auto")
					}
					st.Loc = b.Loc
					st.Ref = p.cfg.Ref
					st.Internal = internal
					streams[k] = st
				}
				if len(eb.events) == cap(eb.events) {
					eb.events = append(eb.events, detect.Event{})[:len(eb.events)]
				}
				eb.events = eb.events[:len(eb.events)+1]
				ev := &eb.events[len(eb.events)-1]
				err := st.Parse(ln.Data, ev)
				if !account(ln, st.Dataset(), ev, err) || lists.Classify(ev, &cs) != detect.Keep {
					eb.events = eb.events[:len(eb.events)-1]
				}
			}
		}
		n := int64(len(b.Lines))
		b.Release()
		p.counts.lines.Add(n)
		p.counts.parsed.Add(parsed)
		p.counts.notEvents.Add(notEvents)
		p.counts.failed.Add(failed)
		p.counts.kept.Add(cs.Kept)
		p.counts.internal.Add(cs.Internal)
		p.counts.trusted.Add(cs.Trusted)
		p.counts.indicatorHits.Add(cs.IndicatorHits)
		cs = detect.ClassifyStats{}
		p.devices.merge(tally)
		p.events <- eb
	}
}

// plugin returns the plugin that parses format, if one does.
func (p *pipeline) plugin(format string) (*plugins.Plugin, bool) {
	if p.cfg.Plugins == nil {
		return nil, false
	}
	return p.cfg.Plugins.Lookup(format)
}

// sourceName names a device that does not name itself: by its address,
// or by its input for files and stdin. Only lines without a host name
// reach here, so the allocation is off the common path.
func sourceName(src netip.AddrPort, input string) string {
	if src.Addr().IsValid() {
		return src.Addr().Unmap().String()
	}
	return input
}

// bufferIdent and inputIdent carry the tailer's fingerprint of a file's
// start in the buffer's opaque Head: its length, then its hash.
func bufferIdent(id input.FileIdent) buffer.FileIdent {
	head := binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(id.HeadLen))
	head = binary.BigEndian.AppendUint64(head, id.HeadSum)
	return buffer.FileIdent{Dev: id.Dev, Ino: id.Ino, Head: head}
}

func inputIdent(id buffer.FileIdent) input.FileIdent {
	out := input.FileIdent{Dev: id.Dev, Ino: id.Ino}
	if len(id.Head) == 16 {
		out.HeadLen = int64(binary.BigEndian.Uint64(id.Head[0:8]))
		out.HeadSum = binary.BigEndian.Uint64(id.Head[8:16])
	}
	return out
}

// ruleStage runs the rules over the kept events, counts flow summaries and
// commits what leaves, with the file offsets, to the buffer.
func (p *pipeline) ruleStage(summ *egress.Summarizer) {
	defer close(p.ruleEnd)
	set := p.rules.Load()
	newMatcher := func(s *rules.Set) *rules.Matcher {
		return s.NewMatcher(rules.WithMember(p.cfg.Member), rules.WithLimits(p.cfg.Limits))
	}
	m := newMatcher(set)
	var (
		recs      []buffer.Record
		offsets   = map[string]buffer.Offset{}
		arena     []byte
		matched   bool
		flushSoon bool        // the summarizer holds more keys than it should
		ruleSt    rules.Stats // of matchers replaced by a rule update
	)
	emit := func(d *detect.Detection) {
		matched = true
		start := len(arena)
		arena = p.cfg.Policy.AppendDetection(arena, d)
		recs = append(recs, buffer.Record{Kind: buffer.KindDetection, Payload: arena[start:len(arena):len(arena)]})
		p.counts.detections.Add(1)
	}
	publish := func() {
		st := m.Stats()
		p.counts.ruleGroups.Store(int64(st.Groups))
		p.counts.ruleEvicted.Store(ruleSt.Evicted + st.Evicted)
		p.counts.ruleLate.Store(ruleSt.Late + st.Late)
		p.counts.ruleErrors.Store(ruleSt.Errors + st.Errors)
	}
	commit := func() {
		for _, s := range summ.FlushAll() {
			payload, err := json.Marshal(s)
			if err != nil { // a FlowSummary always marshals
				panic(err)
			}
			recs = append(recs, buffer.Record{Kind: buffer.KindSummary, Payload: payload})
			p.counts.summaries.Add(1)
		}
		offs := make([]buffer.Offset, 0, len(offsets))
		for _, o := range offsets {
			offs = append(offs, o)
		}
		if len(recs) == 0 && len(offs) == 0 {
			return
		}
		if err := p.cfg.Buffer.Commit(recs, offs); err != nil {
			p.counts.commitErrors.Add(1)
			p.commitErr.Store(&commitError{msg: err.Error(), at: time.Now()})
			p.log.Error("buffer commit failed; holding records in memory", "records", len(recs), "err", err)
			if over := len(recs) - p.cfg.MaxHeld; over > 0 {
				recs = append(recs[:0], recs[over:]...)
				p.counts.droppedHeld.Add(int64(over))
			}
			return
		}
		recs = recs[:0]
		arena = arena[:0]
		clear(offsets)
		publish()
	}
	tick := time.NewTicker(p.cfg.CommitEvery)
	defer tick.Stop()
	for {
		select {
		case eb, ok := <-p.events:
			if !ok {
				commit()
				publish()
				return
			}
			if s := p.rules.Load(); s != set {
				// A new rule pack: correlation starts afresh under it.
				st := m.Stats()
				ruleSt.Evicted += st.Evicted
				ruleSt.Late += st.Late
				ruleSt.Errors += st.Errors
				set, m = s, newMatcher(s)
				p.log.Info("rule pack applied", "rules", s.Len())
			}
			for i := range eb.events {
				ev := &eb.events[i]
				matched = false
				m.Match(ev, emit) //nolint:errcheck // counted in the Matcher's stats
				if p.cfg.Summaries && summ.Add(ev, eb.input, matched) {
					flushSoon = true
				}
			}
			if eb.offset != nil {
				offsets[eb.offset.Key] = *eb.offset
			}
			p.pool.Put(eb)
			if flushSoon || len(recs) >= p.cfg.CommitRecords {
				flushSoon = false
				commit()
			}
		case <-tick.C:
			commit()
		}
	}
}
