package input

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeStore is an OffsetStore holding what the daemon would have committed.
type fakeStore struct {
	m map[string]position
}

func (s *fakeStore) Offset(key string) (FileIdent, int64, bool, error) {
	p, ok := s.m[key]
	return p.id, p.off, ok, nil
}

// commit stores the last offset c was given, as the daemon does.
func (s *fakeStore) commit(t testing.TB, key string, c *collector) {
	t.Helper()
	p, ok := c.lastOffset()
	if !ok {
		t.Fatal("no offset delivered")
	}
	if s.m == nil {
		s.m = make(map[string]position)
	}
	s.m[key] = p
}

func startFile(t testing.TB, cfg FileConfig, store OffsetStore, c *collector) *File {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "file"
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 10 * time.Millisecond
	}
	in, err := NewFile(cfg, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Start(context.Background(), c.sink); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	return in
}

func appendFile(t testing.TB, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.WriteString(f, s); err != nil {
		t.Fatal(err)
	}
}

func joinLines(lines []string) string { return strings.Join(lines, "\n") + "\n" }

// Lines are delivered with their end offsets; a last line without a
// newline waits for it.
func TestFileTailPartialLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	appendFile(t, path, "one\r\ntwo\n\nthree, partial")
	c := newCollector()
	in := startFile(t, FileConfig{Path: path}, nil, c)
	c.wait(t, 2, 5*time.Second)
	time.Sleep(50 * time.Millisecond) // several polls
	diffLines(t, c.texts(), []string{"one", "two"})
	appendFile(t, path, " now complete\nfour\n")
	c.wait(t, 4, 5*time.Second)
	diffLines(t, c.texts(), []string{"one", "two", "three, partial now complete", "four"})
	var ends []int64
	for _, l := range c.lines {
		ends = append(ends, l.End)
	}
	if fmt.Sprint(ends) != "[5 9 38 43]" {
		t.Errorf("end offsets = %v, want [5 9 38 43]", ends)
	}
	b := c.batches[0]
	if b.File == nil || b.File.Key != in.Key() || b.File.Ident.Ino == 0 || b.File.Ident.HeadLen == 0 {
		t.Errorf("batch file mark = %+v", b.File)
	}
}

func TestFileNotThereYet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later.log")
	c := newCollector()
	startFile(t, FileConfig{Path: path, StartAt: "end"}, nil, c)
	time.Sleep(30 * time.Millisecond)
	// A file that appears after start is read from its beginning, whatever
	// start_at says.
	appendFile(t, path, "first\nsecond\n")
	c.wait(t, 2, 5*time.Second)
	diffLines(t, c.texts(), []string{"first", "second"})
}

func TestFileStartAtEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	appendFile(t, path, "old\nold, being writ")
	c := newCollector()
	startFile(t, FileConfig{Path: path, StartAt: "end"}, nil, c)
	time.Sleep(30 * time.Millisecond)
	appendFile(t, path, "ten\nnew\n")
	c.wait(t, 1, 5*time.Second)
	time.Sleep(30 * time.Millisecond)
	diffLines(t, c.texts(), []string{"new"})
}

func TestFileOversizeLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	c := newCollector()
	// Past the limit within one read, and across reads.
	appendFile(t, path, "short\n"+strings.Repeat("a", 11)+"\nok\n"+strings.Repeat("b", 100_000))
	in := startFile(t, FileConfig{Common: Common{MaxMessage: 10}, Path: path}, nil, c)
	c.wait(t, 2, 5*time.Second)
	appendFile(t, path, strings.Repeat("b", 100_000)+"\nafter\n")
	c.wait(t, 3, 5*time.Second)
	diffLines(t, c.texts(), []string{"short", "ok", "after"})
	if got := in.Stats().Oversize.Load(); got != 2 {
		t.Errorf("Stats.Oversize = %d, want 2", got)
	}
}

// writer appends numbered lines to a file and rotates it on request.
type writer struct {
	t    testing.TB
	path string
	mu   sync.Mutex
	f    *os.File
	n    int
}

func newWriter(t testing.TB, path string) *writer {
	w := &writer{t: t, path: path}
	w.reopen()
	t.Cleanup(func() { w.f.Close() })
	return w
}

func (w *writer) reopen() {
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		w.t.Fatal(err)
	}
	w.f = f
}

func (w *writer) line(i int) string { return fmt.Sprintf("<13>Nov 27 10:00:00 host app: line %06d", i) }

func (w *writer) write(k int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var sb strings.Builder
	for range k {
		sb.WriteString(w.line(w.n) + "\n")
		w.n++
	}
	if _, err := w.f.WriteString(sb.String()); err != nil {
		w.t.Error(err)
	}
}

func (w *writer) written() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, w.n)
	for i := range out {
		out[i] = w.line(i)
	}
	return out
}

// A file renamed away while it is written: the input reads the old file to
// its end, then the new one; no line is lost or read twice.
func TestFileRotateByRenameWhileWriting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := newWriter(t, path)
	c := newCollector()
	startFile(t, FileConfig{Path: path}, nil, c)
	for r := range 5 {
		for range 20 {
			w.write(50)
			time.Sleep(time.Millisecond)
		}
		// Like logrotate with create: rename, create, and the writer
		// writes a little more to the old file before it reopens.
		w.mu.Lock()
		if err := os.Rename(path, fmt.Sprintf("%s.%d", path, r)); err != nil {
			t.Fatal(err)
		}
		appendFile(t, path, "")
		w.mu.Unlock()
		w.write(30)
		w.mu.Lock()
		w.f.Close()
		w.reopen()
		w.mu.Unlock()
	}
	w.write(100)
	want := w.written()
	c.wait(t, len(want), 10*time.Second)
	time.Sleep(50 * time.Millisecond)
	diffLines(t, c.texts(), want)
	// Each batch holds one file's lines, and offsets rise within a file.
	files := map[FileIdent]bool{}
	for _, b := range c.batches {
		files[b.File.Ident] = true
	}
	if len(files) < 6 {
		t.Errorf("batches name %d files, want at least 6", len(files))
	}
}

// copytruncate: the file is copied and truncated in place; the input starts
// again at its beginning. Lines written between the copy and the truncate
// would be lost, so, as logrotate's users must, the test has the input
// caught up before it rotates; lines keep coming before and after.
func TestFileRotateByCopyTruncateWhileWriting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := newWriter(t, path)
	c := newCollector()
	startFile(t, FileConfig{Path: path}, nil, c)
	for r := range 5 {
		for range 10 {
			w.write(50)
			time.Sleep(time.Millisecond)
		}
		w.mu.Lock()
		c.wait(t, w.n, 10*time.Second)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(fmt.Sprintf("%s.%d", path, r), data, 0o644)
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		w.mu.Unlock()
		if r%2 == 1 {
			// Write past the old offset at once, so that only the head
			// shows the truncation.
			w.write(1000)
		}
	}
	w.write(100)
	want := w.written()
	c.wait(t, len(want), 10*time.Second)
	time.Sleep(50 * time.Millisecond)
	diffLines(t, c.texts(), want)
}

// A restart resumes after the last committed line: nothing read twice,
// nothing skipped.
func TestFileResumeFromStoredOffset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	lines := numbered("resume", 300)
	appendFile(t, path, joinLines(lines[:100])+"partial")
	store := &fakeStore{}

	c := newCollector()
	in := startFile(t, FileConfig{Path: path}, store, c)
	c.wait(t, 100, 5*time.Second)
	in.Close()
	store.commit(t, in.Key(), c)

	// Written while stopped.
	appendFile(t, path, " line\n"+joinLines(lines[100:200]))
	c2 := newCollector()
	in = startFile(t, FileConfig{Path: path, StartAt: "end"}, store, c2)
	c2.wait(t, 101, 5*time.Second)
	appendFile(t, path, joinLines(lines[200:]))
	c2.wait(t, 201, 5*time.Second)
	time.Sleep(30 * time.Millisecond)
	diffLines(t, c2.texts(), append([]string{"partial line"}, lines[100:]...))
	in.Close()
}

// Rotated while the collector was stopped: the rest of the old file, found
// beside the new, comes first, then the new file.
func TestFileResumeAfterRotationWhileStopped(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	lines := numbered("rot", 100)
	appendFile(t, path, joinLines(lines[:40]))
	store := &fakeStore{}
	c := newCollector()
	in := startFile(t, FileConfig{Path: path}, store, c)
	c.wait(t, 40, 5*time.Second)
	in.Close()
	store.commit(t, in.Key(), c)

	appendFile(t, path, joinLines(lines[40:60])+"unterminated")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, joinLines(lines[60:]))
	c2 := newCollector()
	startFile(t, FileConfig{Path: path}, store, c2)
	c2.wait(t, 61, 5*time.Second)
	time.Sleep(30 * time.Millisecond)
	want := append(append(append([]string(nil), lines[40:60]...), "unterminated"), lines[60:]...)
	diffLines(t, c2.texts(), want)
}

// Truncated while stopped, or replaced by a file that reused the inode:
// read from the beginning.
func TestFileResumeTruncatedWhileStopped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	appendFile(t, path, joinLines(numbered("before", 50)))
	store := &fakeStore{}
	c := newCollector()
	in := startFile(t, FileConfig{Path: path}, store, c)
	c.wait(t, 50, 5*time.Second)
	in.Close()
	store.commit(t, in.Key(), c)

	for _, tc := range []struct {
		name    string
		content []string
	}{
		{"shorter", numbered("after", 2)},
		{"longer", numbered("after and longer than before", 60)},
	} {
		if err := os.WriteFile(path, []byte(joinLines(tc.content)), 0o644); err != nil {
			t.Fatal(err)
		}
		c2 := newCollector()
		in := startFile(t, FileConfig{Path: path}, store, c2)
		c2.wait(t, len(tc.content), 5*time.Second)
		time.Sleep(30 * time.Millisecond)
		in.Close()
		t.Run(tc.name, func(t *testing.T) { diffLines(t, c2.texts(), tc.content) })
	}
}

func TestFileRateSlowsReading(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	want := numbered("rated", 60)
	appendFile(t, path, joinLines(want))
	c := newCollector()
	start := time.Now()
	in := startFile(t, FileConfig{Common: Common{Rate: 100, Burst: 10}, Path: path}, nil, c)
	c.wait(t, len(want), 10*time.Second)
	if elapsed := time.Since(start); elapsed < 400*time.Millisecond {
		t.Errorf("60 lines at 100/s with a burst of 10 took %v, want about 500ms", elapsed)
	}
	diffLines(t, c.texts(), want)
	if in.Stats().RateDelayed.Load() == 0 {
		t.Error("Stats.RateDelayed = 0")
	}
}
