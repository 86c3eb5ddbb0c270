package plugins

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
)

func testSpec() Spec {
	return Spec{Name: "testplugin", Path: testPlugin, SHA256: testPluginSum}
}

func startTest(t *testing.T, spec Spec, opts Options) *Plugin {
	t.Helper()
	if opts.MinBackoff == 0 {
		opts.MinBackoff = 5 * time.Millisecond
	}
	p, err := Start(context.Background(), spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// result is one emitted result.
type result struct {
	ev  *detect.Event
	err error
}

// parseAll runs lines through a new session and returns the results by
// line, failing the test unless each line got exactly one, in order.
func parseAll(t *testing.T, p *Plugin, lines []string) []result {
	t.Helper()
	s := p.NewSession()
	defer s.Close()
	s.Internal = detect.DefaultInternal
	in := make([][]byte, len(lines))
	for i, l := range lines {
		in[i] = []byte(l)
	}
	var out []result
	err := s.Parse(context.Background(), in, func(i int, ev *detect.Event, err error) {
		if i != len(out) {
			t.Fatalf("result for line %d, want line %d", i, len(out))
		}
		r := result{err: err}
		if ev != nil {
			c := *ev
			r.ev = &c
		}
		out = append(out, r)
	})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(out) != len(lines) {
		t.Fatalf("%d results for %d lines", len(out), len(lines))
	}
	return out
}

func tpLines(n int) []string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf("tp 203.0.113.%d 192.168.1.1 %d", i%250, 1+i%60000)
	}
	return lines
}

func TestParse(t *testing.T) {
	p := startTest(t, Spec{Name: "testplugin", Path: testPlugin, SHA256: testPluginSum, BatchLines: 7}, Options{})
	lines := tpLines(50)
	lines[3] = "#count"
	lines[4] = "garbage"
	lines[5] = "tp PANIC 1.2.3.4 80"
	lines[6] = "tp 192.0.2.1 10.0.0.1 BADEVENT"
	lines[7] = "tp 192.0.2.1 10.0.0.1 25 BADEVENT"
	lines[8] = "<13>Nov 27 10:00:00 fw1 tp: tp 192.0.2.1 10.0.0.1 25"
	res := parseAll(t, p, lines)
	for i, r := range res {
		switch i {
		case 3:
			if !errors.Is(r.err, detect.ErrNotEvent) {
				t.Errorf("line %d: %v, want ErrNotEvent", i, r.err)
			}
		case 4, 6:
			if r.err == nil || errors.Is(r.err, detect.ErrNotEvent) || !strings.Contains(r.err.Error(), "tp line") {
				t.Errorf("line %d: %v, want the plugin's error", i, r.err)
			}
		case 5:
			if r.err == nil || !strings.Contains(r.err.Error(), "panicked") {
				t.Errorf("line %d: %v, want a recovered panic", i, r.err)
			}
		case 7:
			if r.err == nil || !strings.Contains(r.err.Error(), "invalid event: event.category") {
				t.Errorf("line %d: %v, want an invalid event rejected", i, r.err)
			}
		default:
			if r.err != nil {
				t.Fatalf("line %d: %v", i, r.err)
			}
			if r.ev.Dataset != "testplugin" || r.ev.Network.Direction != detect.DirectionInbound {
				t.Errorf("line %d: %s", i, r.ev.AppendJSON(nil))
			}
			// One parser instance serves the whole stream, across batches.
			if want := fmt.Sprint(i + 1); r.ev.Rule.ID != want {
				t.Errorf("line %d: rule.id %s, want %s (state kept per stream)", i, r.ev.Rule.ID, want)
			}
		}
	}
	if ev := res[8].ev; ev.Observer.Hostname != "fw1" || ev.Timestamp.Month() != time.November || ev.Timestamp.Hour() != 10 {
		t.Errorf("syslog header not applied: %s", ev.AppendJSON(nil))
	}
	if st := p.Stats(); st != (Stats{}) {
		t.Errorf("stats %+v, want none", st)
	}
}

// TestCrashLosesNoLine: the plugin exits on two lines; every other line
// parses, each crash line gets ErrPluginShutdown, and results stay in order.
func TestCrashLosesNoLine(t *testing.T) {
	p := startTest(t, Spec{Name: "testplugin", Path: testPlugin, SHA256: testPluginSum, BatchLines: 100}, Options{})
	lines := tpLines(3000)
	crash := map[int]bool{1234: true, 2999: true}
	for i := range crash {
		lines[i] = "tp CRASH 1.2.3.4 5"
	}
	res := parseAll(t, p, lines)
	for i, r := range res {
		if crash[i] {
			if !errors.Is(r.err, ErrPluginShutdown) {
				t.Errorf("crash line %d: %v, want ErrPluginShutdown", i, r.err)
			}
			continue
		}
		if r.err != nil {
			t.Fatalf("line %d lost: %v", i, r.err)
		}
	}
	if st := p.Stats(); st.Crashes < 2 || st.Restarts < 2 {
		t.Errorf("stats %+v, want at least 2 crashes and restarts", st)
	}
	// The plugin still works.
	if r := parseAll(t, p, tpLines(10)); r[9].err != nil {
		t.Fatal(r[9].err)
	}
}

// TestHang: a line that hangs the plugin times out, the plugin is
// restarted, and the lines after it parse.
func TestHang(t *testing.T) {
	p := startTest(t, Spec{Name: "testplugin", Path: testPlugin, SHA256: testPluginSum, Timeout: 300 * time.Millisecond}, Options{})
	lines := tpLines(20)
	lines[10] = "tp HANG 1.2.3.4 5"
	res := parseAll(t, p, lines)
	for i, r := range res {
		if i == 10 {
			if !errors.Is(r.err, ErrTimeout) || !errors.Is(r.err, ErrPluginShutdown) {
				t.Errorf("hang line: %v, want ErrTimeout and ErrPluginShutdown", r.err)
			}
			continue
		}
		if r.err != nil {
			t.Errorf("line %d: %v", i, r.err)
		}
	}
	if st := p.Stats(); st.Timeouts < 1 || st.Restarts < 1 {
		t.Errorf("stats %+v, want a timeout and a restart", st)
	}
}

func TestRefused(t *testing.T) {
	writable := filepath.Join(t.TempDir(), "writable")
	b, err := os.ReadFile(testPlugin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(writable, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(writable, 0o775); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		spec Spec
		want string
	}{
		{"checksum", Spec{Name: "testplugin", Path: testPlugin, SHA256: strings.Repeat("0", 64)},
			"has SHA-256 " + testPluginSum + ", but the config pins 0000"},
		{"writable", Spec{Name: "testplugin", Path: writable, SHA256: testPluginSum}, "writable by group or others"},
		{"missing", Spec{Name: "testplugin", Path: writable + ".none", SHA256: testPluginSum}, "no such file"},
		{"version", Spec{Name: "testplugin", Path: v2Plugin, SHA256: v2PluginSum},
			"the plugin speaks another protocol version than this collector, which speaks version 1"},
		{"name", Spec{Name: "other", Path: testPlugin, SHA256: testPluginSum},
			`the binary declares parser "testplugin", but the config names it "other"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Start(context.Background(), c.spec, Options{})
			if err == nil {
				p.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\nwant it to say %q", err, c.want)
			}
		})
	}
}

// logRecorder keeps the records logged to it.
type logRecorder struct {
	mu   sync.Mutex
	recs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	s := r.Message
	r.Attrs(func(a slog.Attr) bool { s += " " + a.String(); return true })
	l.mu.Lock()
	l.recs = append(l.recs, s)
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &attrHandler{l, as}
}
func (l *logRecorder) WithGroup(string) slog.Handler { return l }

func (l *logRecorder) find(sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.recs {
		if strings.Contains(r, sub) {
			return true
		}
	}
	return false
}

type attrHandler struct {
	*logRecorder
	as []slog.Attr
}

func (h *attrHandler) Handle(ctx context.Context, r slog.Record) error {
	r.AddAttrs(h.as...)
	return h.logRecorder.Handle(ctx, r)
}

func TestStderrLogged(t *testing.T) {
	rec := &logRecorder{}
	p := startTest(t, testSpec(), Options{Logger: slog.New(rec)})
	parseAll(t, p, []string{"tp LOG 1.2.3.4 5"})
	want := "plugin stderr line=saw tp LOG 1.2.3.4 5 plugin=testplugin"
	deadline := time.Now().Add(5 * time.Second)
	for !rec.find(want) {
		if time.Now().After(deadline) {
			t.Fatalf("no log record %q in %q", want, rec.recs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRegistry: a plugin's parser sits in a registry like a built-in, is
// found by auto-detection by its signature and by its tag, and parses one
// line at a time.
func TestRegistry(t *testing.T) {
	set, err := StartAll(context.Background(), []Spec{testSpec()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	reg := parsers.Builtin()
	if err := set.Register(reg); err != nil {
		t.Fatal(err)
	}
	if err := set.Register(reg); err == nil {
		t.Error("registered twice")
	}
	s, err := parsers.NewStream(reg, "auto")
	if err != nil {
		t.Fatal(err)
	}
	var ev detect.Event
	for _, line := range []string{"tp 192.0.2.1 10.0.0.1 22", "<13>Nov 27 10:00:00 h tp: tp 192.0.2.1 10.0.0.1 22"} {
		if err := s.Parse([]byte(line), &ev); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if s.Dataset() != "testplugin" || ev.Destination.Port != 22 || ev.Network.Direction != detect.DirectionInbound {
			t.Errorf("%s: %s by %s", line, ev.AppendJSON(nil), s.Dataset())
		}
	}
	if err := s.Parse([]byte("tp CRASH 1.2.3.4 5"), &ev); !errors.Is(err, ErrPluginShutdown) {
		t.Errorf("crash line: %v, want ErrPluginShutdown", err)
	}
	if err := s.Parse([]byte("tp 192.0.2.1 10.0.0.1 23"), &ev); err != nil || ev.Destination.Port != 23 {
		t.Errorf("after crash: %v", err)
	}
}

func TestClosed(t *testing.T) {
	p := startTest(t, testSpec(), Options{})
	s := p.NewSession()
	defer s.Close()
	p.Close()
	err := s.Parse(context.Background(), [][]byte{[]byte("tp 1.2.3.4 1.2.3.4 1")}, func(int, *detect.Event, error) {
		t.Error("emitted after Close")
	})
	if !errors.Is(err, ErrPluginShutdown) {
		t.Errorf("Parse after Close: %v, want ErrPluginShutdown", err)
	}
}

func TestContextEnds(t *testing.T) {
	p := startTest(t, Spec{Name: "testplugin", Path: testPlugin, SHA256: testPluginSum, Timeout: time.Minute, BatchLines: 1}, Options{})
	s := p.NewSession()
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	lines := [][]byte{[]byte("tp 1.2.3.4 1.2.3.4 1"), []byte("tp HANG 1.2.3.4 1")}
	n := 0
	err := s.Parse(ctx, lines, func(int, *detect.Event, error) { n++ })
	if !errors.Is(err, context.DeadlineExceeded) || n != 1 {
		t.Errorf("Parse: %v after %d results, want DeadlineExceeded after 1", err, n)
	}
}

// TestHugeLine: a line far over the batch byte cap travels alone and
// parses.
func TestHugeLine(t *testing.T) {
	p := startTest(t, Spec{Name: "testplugin", Path: testPlugin, SHA256: testPluginSum, BatchBytes: 1 << 10}, Options{})
	lines := tpLines(5)
	lines[2] = "tp 192.0.2.1 10.0.0.1 22 " + strings.Repeat("x", 8<<20)
	for i, r := range parseAll(t, p, lines) {
		if r.err != nil {
			t.Errorf("line %d: %v", i, r.err)
		}
	}
}
