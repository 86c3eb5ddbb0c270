package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/spf13/cobra"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
	"github.com/cyberalarm/cyberalarm/plugins"
)

// addPluginsFlag adds --plugins to root: before any command runs, the
// plugins the file lists are started and their parsers join the registry,
// so that they are in `formats`, auto-detection and --format.
func (e *env) addPluginsFlag(root *cobra.Command) {
	root.PersistentFlags().StringVar(&e.pluginsFile, "plugins", "",
		"YAML file listing parser plugins under plugins: (name, path, sha256, ...)")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		return e.startPlugins(cmd.Context())
	}
}

// startPlugins starts the plugins of --plugins, if given.
func (e *env) startPlugins(ctx context.Context) error {
	if e.pluginsFile == "" {
		return nil
	}
	specs, err := plugins.LoadFile(e.pluginsFile)
	if err != nil {
		return fmt.Errorf("--plugins: %w", err)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	set, err := plugins.StartAll(ctx, specs, plugins.Options{Logger: log})
	if err != nil {
		return fmt.Errorf("--plugins: %w", err)
	}
	e.plugins = set
	builtin := e.registry
	if err := set.Register(builtin()); err != nil {
		return fmt.Errorf("--plugins: %w", err)
	}
	e.registry = func() *parsers.Registry {
		r := builtin()
		set.Register(r) //nolint:errcheck // checked once above
		return r
	}
	return nil
}

// closePlugins stops the plugins, if any were started.
func (e *env) closePlugins() {
	if e.plugins != nil {
		e.plugins.Close()
		e.plugins = nil
	}
}

// plugin returns the plugin whose parser format names, if it is one.
func (e *env) plugin(format string) (*plugins.Plugin, bool) {
	if e.plugins == nil {
		return nil, false
	}
	return e.plugins.Lookup(format)
}

// batchReader reads a file's lines through a plugin session a chunk at a
// time, the fast path for a format that is a plugin, and gives back one
// result per line, in order, like a Stream would.
type batchReader struct {
	sc    *syslog.Scanner
	s     *plugins.Session
	chunk int

	// The chunk being read: each line's number and, for a line the
	// scanner refused, its error; the other lines go to the plugin.
	entries []batchEntry
	send    [][]byte
	arena   []byte
	evs     []detect.Event
	errs    []error
	at      int
	done    bool  // the scanner is at the end of the input
	inErr   error // the scanner's error, reported once the lines before it are
	fatal   error

	line int64
	ev   *detect.Event
	err  error
}

type batchEntry struct {
	line     int64
	frameErr error
	sent     int // index in send; -1 for a frame error
}

// newBatchReader reads sc through p. Ref, loc and internal are as a
// Stream's; a nil internal means detect.DefaultInternal.
func newBatchReader(sc *syslog.Scanner, p *plugins.Plugin, ref time.Time, loc *time.Location, internal func(netip.Addr) bool) *batchReader {
	sp := p.Spec()
	s := p.NewSession()
	if internal == nil {
		internal = detect.DefaultInternal
	}
	s.Ref, s.Loc, s.Internal = ref, loc, internal
	return &batchReader{sc: sc, s: s, chunk: sp.BatchLines * sp.InFlight}
}

// Scan moves to the next line's result; false at the end of the input or
// on a fatal error (see Fatal).
func (r *batchReader) Scan() bool {
	if r.at >= len(r.entries) && !r.fill() {
		return false
	}
	en := &r.entries[r.at]
	r.at++
	r.line, r.ev, r.err = en.line, nil, en.frameErr
	if en.sent >= 0 {
		r.err = r.errs[en.sent]
		if r.err == nil {
			r.ev = &r.evs[en.sent]
		}
	}
	return true
}

// Line, Event and Err are the current line's number, and its event or
// error; TooLong says that the error is the scanner's, for a line over
// the length limit.
func (r *batchReader) Line() int64          { return r.line }
func (r *batchReader) Event() *detect.Event { return r.ev }
func (r *batchReader) Err() error           { return r.err }
func (r *batchReader) TooLong() bool        { return r.entries[r.at-1].sent < 0 }

// Fatal returns the error that ended the reading early: the input's, or
// the plugin's when it could not be run.
func (r *batchReader) Fatal() error { return r.fatal }

// Close ends the session.
func (r *batchReader) Close() error { return r.s.Close() }

// fill reads the next chunk of lines and parses them.
func (r *batchReader) fill() bool {
	if r.done && r.fatal == nil {
		r.fatal = r.inErr
	}
	if r.done || r.fatal != nil {
		return false
	}
	r.entries, r.send, r.arena, r.at = r.entries[:0], r.send[:0], r.arena[:0], 0
	for len(r.send) < r.chunk {
		if !r.sc.Scan() {
			r.done, r.inErr = true, r.sc.Err()
			break
		}
		if err := r.sc.FrameErr(); err != nil {
			r.entries = append(r.entries, batchEntry{line: r.sc.Line(), frameErr: err, sent: -1})
			continue
		}
		r.entries = append(r.entries, batchEntry{line: r.sc.Line(), sent: len(r.send)})
		start := len(r.arena)
		r.arena = append(r.arena, r.sc.Bytes()...)
		r.send = append(r.send, r.arena[start:len(r.arena):len(r.arena)])
	}
	if len(r.entries) == 0 {
		r.fatal = r.inErr
		return false
	}
	if cap(r.evs) < len(r.send) {
		r.evs = make([]detect.Event, len(r.send))
		r.errs = make([]error, len(r.send))
	}
	r.evs, r.errs = r.evs[:len(r.send)], r.errs[:len(r.send)]
	err := r.s.Parse(context.Background(), r.send, func(i int, ev *detect.Event, err error) {
		r.errs[i] = err
		if err == nil {
			r.evs[i] = *ev
		}
	})
	if err != nil {
		r.fatal = err
		return false
	}
	return true
}

// parsePluginFile is parseFile's fast path for a format that is a plugin:
// lines go to the plugin in batches, not one round trip each.
func parsePluginFile(e *env, p *plugins.Plugin, f parseFlags, ref time.Time, loc *time.Location, name string, in io.Reader, out *bufio.Writer, st *parseStats) error {
	br := newBatchReader(syslog.NewScanner(in, f.maxLine), p, ref, loc, nil)
	defer br.Close()
	buf := make([]byte, 0, 4096)
	var err error
	for br.Scan() {
		if br.TooLong() {
			st.tooLong++
		}
		if buf, err = st.result(e, f, name, br.Line(), br.Event(), br.Err(), out, buf); err != nil {
			return err
		}
	}
	if err := br.Fatal(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// nextBatch is source.next for a plugin format.
func (s *source) nextBatch() bool {
	for s.batch.Scan() {
		s.st.Lines++
		switch err := s.batch.Err(); {
		case err == nil:
			s.st.Parsed++
			s.ev = *s.batch.Event()
			return true
		case errors.Is(err, detect.ErrNotEvent):
			s.st.Skipped++
		default:
			s.st.Failed++
			if *s.shown < maxShownErrors {
				*s.shown++
				fmt.Fprintf(s.errs, "%s:%d: %v\n", s.name, s.batch.Line(), err)
			}
		}
	}
	if err := s.batch.Fatal(); err != nil {
		fmt.Fprintf(s.errs, "%s: %v\n", s.name, err)
	}
	s.batch.Close()
	return false
}
