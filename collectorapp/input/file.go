package input

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"time"
)

// DefaultPollInterval is how often a file input looks for new lines and
// rotation when it has read everything.
const DefaultPollInterval = 250 * time.Millisecond

// headSize is how much of a file's start FileIdent hashes.
const headSize = 256

// movedGrace bounds, in polls, how long a file input keeps reading a file
// that was renamed away while its writer keeps writing to it, before it
// moves on to the new file at the path.
const movedGrace = 20

// FileConfig configures the tailing of one file.
type FileConfig struct {
	Common `yaml:",inline"`
	// Path is the file to follow. It need not exist yet.
	Path string `yaml:"path"`
	// StartAt says where to start in a file found at start-up with no
	// stored offset: "beginning" (the default) or "end". A file that
	// appears later, or replaces a rotated one, is read from its
	// beginning.
	StartAt string `yaml:"start_at"`
	// PollInterval is how often to look for new lines once caught up
	// (default 250ms).
	PollInterval time.Duration `yaml:"poll_interval"`
}

// Validate checks the config. Its errors are SettingErrors, joined.
func (c *FileConfig) Validate() error {
	errs := c.validate()
	if c.Path == "" {
		errs = append(errs, settingErr("path", "required"))
	}
	switch c.StartAt {
	case "", "beginning", "end":
	default:
		errs = append(errs, settingErr("start_at", "%q is neither beginning nor end", c.StartAt))
	}
	if c.PollInterval < 0 || (c.PollInterval > 0 && c.PollInterval < time.Millisecond) || c.PollInterval > time.Minute {
		errs = append(errs, settingErr("poll_interval", "%v is outside 1ms to 1m", c.PollInterval))
	}
	return errors.Join(errs...)
}

// FileIdent identifies a file across renames and restarts: its device and
// inode, and a hash of its first bytes, which tells it from a later file
// that reuses the inode and shows when it was truncated and rewritten.
type FileIdent struct {
	Dev, Ino uint64
	// HeadLen is how many of the file's first bytes HeadSum covers (up to
	// 256: fewer while the file was shorter); HeadSum is their FNV-1a hash.
	HeadLen int64
	HeadSum uint64
}

// OffsetStore gives a file input the position it had reached, so that a
// restart neither reads a line again nor skips one. The daemon stores each
// batch's Offset with the records derived from it.
type OffsetStore interface {
	// Offset returns the stored position for key; ok is false if there is
	// none.
	Offset(key string) (ident FileIdent, offset int64, ok bool, err error)
}

// File tails one file. It follows rotation by rename (it reads the old
// file to its end, then opens the new one) and by copy and truncate (it
// starts again at the beginning), and waits for a file that does not exist
// yet. A last line without a newline is held back until it is completed, or
// until its file is rotated away.
//
// Lines that the writer adds to a renamed file after the input has moved on
// (it waits until the old file has been quiet for a poll), and lines written
// between a copy and a truncate that the input had not read, are lost: that
// is the nature of those rotations.
type File struct {
	cfg   FileConfig
	key   string
	store OffsetStore
	log   *slog.Logger
	pool  *batchPool
	lim   *limiter
	stats Stats
	lc    lifecycle

	stopCh chan struct{}
}

var _ Input = (*File)(nil)

// NewFile returns a file input. store may be nil: the input then starts as
// start_at says. log may be nil.
func NewFile(cfg FileConfig, store OffsetStore, log *slog.Logger) (*File, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.resolve(); err != nil {
		return nil, err
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.StartAt == "" {
		cfg.StartAt = "beginning"
	}
	key, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, settingErr("path", "%v", err)
	}
	f := &File{cfg: cfg, key: key, store: store, log: orDiscard(log).With("input", cfg.Name, "path", key),
		pool: newBatchPool(&cfg.Common), lim: cfg.limiter(), stopCh: make(chan struct{})}
	f.lc.init()
	return f, nil
}

// Name returns the input's name.
func (f *File) Name() string { return f.cfg.Name }

// Stats returns the input's counters.
func (f *File) Stats() *Stats { return &f.stats }

// Done is closed when the input has stopped.
func (f *File) Done() <-chan struct{} { return f.lc.done }

// Key returns the offset store key: the file's absolute path.
func (f *File) Key() string { return f.key }

// Start looks up the stored offset and follows the file until Close or
// ctx's end. It fails only if the offset store does.
func (f *File) Start(ctx context.Context, sink Sink) error {
	if err := f.lc.begin(); err != nil {
		return err
	}
	t := &tailer{File: f, ctx: ctx, sink: sink, buf: make([]byte, max(64<<10, f.cfg.MaxMessage+1))}
	if f.store != nil {
		id, off, ok, err := f.store.Offset(f.key)
		if err != nil {
			f.lc.finish()
			return fmt.Errorf("input %s: reading the stored offset of %s: %w", f.cfg.Name, f.key, err)
		}
		if ok {
			t.stored = &position{id: id, off: off}
		}
	}
	t.batch = f.pool.get()
	f.lc.wg.Add(1)
	go t.run()
	f.lc.run(ctx, f.stop)
	return nil
}

// Close stops following the file, delivers the lines read, and waits.
func (f *File) Close() error {
	f.lc.close()
	return nil
}

func (f *File) stop() {
	select {
	case <-f.stopCh:
	default:
		close(f.stopCh)
	}
}

type position struct {
	id  FileIdent
	off int64
}

// tailer is the state of a File's goroutine.
type tailer struct {
	*File
	ctx    context.Context
	sink   Sink
	stored *position // from the store, until used

	f    *os.File
	mark *FileMark // the open file's key and ident
	// buf[:n] holds the bytes read but not yet emitted: the start of a line.
	// base is the file offset of buf[0].
	buf      []byte
	n        int
	base     int64
	skipping bool // discarding an oversize line up to its newline
	moved    int  // polls since the path was seen to name another file
	lastFail string

	batch        *Batch
	now          time.Time
	lines, bytes uint64
}

func (t *tailer) stopped() bool {
	select {
	case <-t.stopCh:
		return true
	default:
		return t.ctx.Err() != nil
	}
}

func (t *tailer) run() {
	defer t.lc.wg.Done()
	defer func() {
		t.flush() //nolint:errcheck // counted as undelivered
		t.batch.Release()
		if t.f != nil {
			t.f.Close()
		}
	}()
	t.resume()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if t.f == nil {
			t.openPath(0)
		}
		again := false
		if t.f != nil {
			if t.checkTruncated() != nil {
				return
			}
			got, err := t.drain()
			if err != nil {
				if t.stopped() {
					return
				}
				t.fail("read", err)
			}
			if t.flush() != nil {
				return
			}
			again = t.checkMoved(got)
		}
		if again {
			continue
		}
		timer.Reset(t.cfg.PollInterval)
		select {
		case <-timer.C:
		case <-t.stopCh:
			return
		case <-t.ctx.Done():
			return
		}
	}
}

// fail counts a failed file operation, and logs it unless it repeats the
// last failure logged: a file that cannot be opened is retried each poll.
func (t *tailer) fail(op string, err error) {
	t.stats.Errors.Add(1)
	msg := op + ": " + err.Error()
	if msg == t.lastFail {
		return
	}
	t.lastFail = msg
	t.log.Warn("file "+op+" failed; retrying each poll", "err", err)
}

// resume opens the file where the stored offset says, or as start_at says.
func (t *tailer) resume() {
	st := t.stored
	t.stored = nil
	f, err := os.Open(t.key)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.fail("open", err)
	}
	var id FileIdent
	if f != nil {
		if id, err = identify(f); err != nil {
			t.fail("stat", err)
			f.Close()
			f = nil
		}
	}
	switch {
	case st != nil && f != nil && sameFile(f, id, st.id):
		size, _ := f.Seek(0, io.SeekEnd)
		off := st.off
		if off > size {
			t.log.Info("file is shorter than the stored offset: truncated while stopped, reading from the beginning", "offset", off, "size", size)
			off = 0
		}
		t.use(f, id, off)
	case st != nil:
		// The file at the path is not the one the offset is for: it was
		// rotated while the collector was stopped. Finish the old one if
		// it is still beside it; the loop then moves on to the path.
		if f != nil {
			f.Close()
		}
		if old, oldID := findRotated(filepath.Dir(t.key), st.id); old != nil {
			t.log.Info("file was rotated while stopped; finishing the rotated file first", "rotated", old.Name())
			t.use(old, oldID, st.off)
			return
		}
		t.log.Warn("file was rotated while stopped and the rotated file is not beside it; reading the new file from the beginning")
		t.openPath(0)
	case f != nil && t.cfg.StartAt == "end":
		size, err := f.Seek(0, io.SeekEnd)
		if err != nil {
			t.fail("seek", err)
			f.Close()
			return
		}
		t.use(f, id, size)
		if size > 0 {
			// Start at a line boundary: skip the rest of a line being
			// written, unless size is already just past a newline.
			var last [1]byte
			if _, err := f.ReadAt(last[:], size-1); err == nil && last[0] != '\n' {
				t.skipping = true
			}
		}
	case f != nil:
		t.use(f, id, 0)
	}
}

// openPath opens the file at the path, if there is one, at off.
func (t *tailer) openPath(off int64) {
	f, err := os.Open(t.key)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			t.fail("open", err)
		}
		return
	}
	id, err := identify(f)
	if err != nil {
		t.fail("stat", err)
		f.Close()
		return
	}
	t.use(f, id, off)
}

func (t *tailer) use(f *os.File, id FileIdent, off int64) {
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		t.fail("seek", err)
		f.Close()
		if f == t.f {
			t.f, t.mark = nil, nil
		}
		return
	}
	t.f, t.base, t.n, t.skipping, t.moved, t.lastFail = f, off, 0, false, 0, ""
	t.mark = &FileMark{Key: t.key, Ident: id}
}

// drain reads the open file to its end, emitting its complete lines. It
// reports whether it read anything.
func (t *tailer) drain() (bool, error) {
	got := false
	for !t.stopped() {
		k, err := t.f.Read(t.buf[t.n:])
		if k > 0 {
			got = true
			t.now = time.Now()
			if perr := t.take(k); perr != nil {
				return got, perr
			}
		}
		if err == io.EOF || (err == nil && k == 0) {
			return got, nil
		}
		if err != nil {
			return got, err
		}
	}
	return got, nil
}

// take frames the k bytes just read after buf[:n].
func (t *tailer) take(k int) error {
	data := t.buf[:t.n+k]
	start, from := 0, t.n
	if t.skipping {
		j := bytes.IndexByte(data[from:], '\n')
		if j < 0 {
			t.base += int64(len(data))
			t.n = 0
			return nil
		}
		start = from + j + 1
		from = start
		t.skipping = false
	}
	for {
		j := bytes.IndexByte(data[from:], '\n')
		if j < 0 {
			break
		}
		end := from + j
		line := data[start:end]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if err := t.emit(line, t.base+int64(end)+1); err != nil {
			return err
		}
		start, from = end+1, end+1
	}
	rest := len(data) - start
	if rest > t.cfg.MaxMessage {
		t.stats.Oversize.Add(1)
		t.skipping = true
		t.base += int64(len(data))
		t.n = 0
		return nil
	}
	copy(t.buf, data[start:])
	t.base += int64(start)
	t.n = rest
	return nil
}

// emitPartial emits the held-back last line of a file being left.
func (t *tailer) emitPartial() error {
	if t.n == 0 || t.skipping {
		return nil
	}
	line := t.buf[:t.n]
	end := t.base + int64(t.n)
	t.base, t.n = end, 0
	return t.emit(line, end)
}

func (t *tailer) emit(line []byte, end int64) error {
	if len(line) > t.cfg.MaxMessage {
		t.stats.Oversize.Add(1)
		return nil
	}
	if len(line) == 0 {
		return nil
	}
	t.lines++
	t.bytes += uint64(len(line))
	if t.lim != nil {
		if err := t.meter(); err != nil {
			return err
		}
	}
	if len(t.batch.Lines) == maxBatchLines || !t.batch.fits(len(line)) || (t.batch.File != nil && t.batch.File != t.mark) {
		if err := t.flush(); err != nil {
			return err
		}
	}
	if t.batch.File == nil {
		t.batch.File = t.mark
	}
	t.batch.add(line, netip.AddrPort{}, t.now, end)
	return nil
}

// meter waits until the file may give another line.
func (t *tailer) meter() error {
	for {
		d := t.lim.take(netip.Addr{}, t.now)
		if d == 0 {
			return nil
		}
		t.stats.RateDelayed.Add(1)
		if err := t.flush(); err != nil {
			return err
		}
		tm := time.NewTimer(d)
		select {
		case <-tm.C:
		case <-t.ctx.Done():
			tm.Stop()
			return t.ctx.Err()
		case <-t.stopCh:
			tm.Stop()
			return errStopped
		}
		t.now = time.Now()
	}
}

func (t *tailer) flush() error {
	if t.lines > 0 {
		t.stats.Lines.Add(t.lines)
		t.stats.Bytes.Add(t.bytes)
		t.lines, t.bytes = 0, 0
	}
	if len(t.batch.Lines) == 0 {
		return nil
	}
	b := t.batch
	t.batch = t.pool.get()
	return deliver(t.ctx, t.sink, b, &t.stats)
}

// checkTruncated starts the open file again from its beginning if it was
// truncated (copytruncate). It runs before each drain: a file truncated and
// written past the old offset since the last poll shows only in its first
// bytes, and must be caught before bytes at the old offset are read.
func (t *tailer) checkTruncated() error {
	fi, err := t.f.Stat()
	if err != nil {
		t.fail("stat", err)
		return nil
	}
	pos := t.base + int64(t.n)
	id := t.mark.Ident
	if fi.Size() >= pos && (id.HeadLen == 0 || headMatches(t.f, id)) {
		return nil
	}
	t.log.Info("file was truncated; reading from the beginning", "offset", pos, "size", fi.Size())
	if err := t.emitPartial(); err != nil {
		return err
	}
	if err := t.flush(); err != nil {
		return err
	}
	nid, err := identify(t.f)
	if err != nil {
		t.fail("stat", err)
		return nil
	}
	t.use(t.f, nid, 0)
	return nil
}

// checkMoved looks at what the path names now, after a drain that read
// something (got) or not, and moves on to a new file there. It reports
// whether to go on at once rather than wait for the next poll.
func (t *tailer) checkMoved(got bool) bool {
	fi, err := os.Stat(t.key)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.fail("stat", err)
		return false
	}
	id := t.mark.Ident
	if err == nil && sameDevIno(fi, id) {
		if pos := t.base + int64(t.n); id.HeadLen < headSize && pos > id.HeadLen {
			// The file has grown past the bytes its ident covers: cover
			// more, to tell it from a later file that reuses its inode.
			if nid, err := identify(t.f); err == nil {
				t.mark = &FileMark{Key: t.key, Ident: nid}
			}
		}
		return false
	}
	// Renamed or removed. Read what was written up to now; move on once a
	// read finds nothing more (the writer has reopened), or after
	// movedGrace polls.
	more, rerr := t.drain()
	if rerr != nil && !t.stopped() {
		t.fail("read", rerr)
	}
	t.moved++
	if (more || got) && t.moved <= movedGrace && !t.stopped() {
		return false
	}
	if t.emitPartial() != nil || t.flush() != nil {
		return false
	}
	t.f.Close()
	t.f, t.mark = nil, nil
	return !t.stopped()
}

// identify returns f's identity.
func identify(f *os.File) (FileIdent, error) {
	fi, err := f.Stat()
	if err != nil {
		return FileIdent{}, err
	}
	dev, ino := devIno(fi)
	sum, n, err := headSum(f)
	if err != nil {
		return FileIdent{}, err
	}
	return FileIdent{Dev: dev, Ino: ino, HeadLen: n, HeadSum: sum}, nil
}

// headSum hashes up to headSize of f's first bytes.
func headSum(f *os.File) (uint64, int64, error) {
	var head [headSize]byte
	n, err := f.ReadAt(head[:], 0)
	if err != nil && err != io.EOF {
		return 0, 0, err
	}
	h := fnv.New64a()
	h.Write(head[:n])
	return h.Sum64(), int64(n), nil
}

// headMatches reports whether f starts with the bytes id's head covers. A
// read error counts as a match: it is no evidence of a new file.
func headMatches(f *os.File, id FileIdent) bool {
	if id.HeadLen < 0 || id.HeadLen > headSize {
		return false
	}
	var head [headSize]byte
	n, err := f.ReadAt(head[:id.HeadLen], 0)
	if err != nil && err != io.EOF {
		return true
	}
	if int64(n) < id.HeadLen {
		return false
	}
	h := fnv.New64a()
	h.Write(head[:n])
	return h.Sum64() == id.HeadSum
}

func sameDevIno(fi fs.FileInfo, id FileIdent) bool {
	dev, ino := devIno(fi)
	return dev == id.Dev && ino == id.Ino
}

// sameFile reports whether f (whose identity is cur) is the file that want
// identifies.
func sameFile(f *os.File, cur, want FileIdent) bool {
	if cur.Dev != want.Dev || cur.Ino != want.Ino {
		return false
	}
	return want.HeadLen <= headSize && cur.HeadLen >= want.HeadLen && headMatches(f, want)
}

// findRotated looks in dir for the file that id identifies, and opens it.
func findRotated(dir string, id FileIdent) (*os.File, FileIdent) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, FileIdent{}
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil || !sameDevIno(fi, id) {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		cur, err := identify(f)
		if err == nil && sameFile(f, cur, id) {
			return f, cur
		}
		f.Close()
	}
	return nil, FileIdent{}
}
