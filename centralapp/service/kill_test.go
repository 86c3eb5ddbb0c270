package service

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	_ "github.com/mattn/go-sqlite3"
	"go.uber.org/goleak"

	"github.com/cyberalarm/cyberalarm/centralapp/config"
)

// nodeEnv names the config file a re-executed test binary serves, as
// `cyberalarm-central serve` does, instead of running tests.
const nodeEnv = "CYBERALARM_TEST_SERVE"

func TestMain(m *testing.M) {
	if path := os.Getenv(nodeEnv); path != "" {
		os.Exit(serveNode(path))
	}
	os.Exit(m.Run())
}

// serveNode serves the node configured at path until SIGTERM, writing
// "listening ADDR" to stdout once it accepts connections.
func serveNode(path string) int {
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc, err := Open(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer svc.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("listening %s\n", ln.Addr())
	if err := svc.Serve(ctx, ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// process is a central node running as a child process.
type process struct {
	cmd    *exec.Cmd
	addr   string
	stderr *bytes.Buffer
}

// startProcess serves dir's central.yaml in a child process.
func startProcess(dir string) (*process, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	p := &process{cmd: exec.Command(exe, "-test.run=^$"), stderr: new(bytes.Buffer)}
	p.cmd.Env = append(os.Environ(), nodeEnv+"="+filepath.Join(dir, "central.yaml"))
	p.cmd.Stderr = p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		return nil, fmt.Errorf("node did not start: %v\n%s", err, p.stderr)
	}
	p.addr = strings.TrimSpace(strings.TrimPrefix(line, "listening "))
	return p, nil
}

// stop ends the process with sig and waits for it: a node sent SIGTERM
// must exit cleanly.
func (p *process) stop(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return err
	}
	err := p.cmd.Wait()
	if sig == syscall.SIGTERM && err != nil {
		return fmt.Errorf("node after SIGTERM: %v\n%s", err, p.stderr)
	}
	return nil
}

// TestKill9 kills a serving node with SIGKILL in the middle of ingest,
// after a publish tick saved its aggregation state, and restarts it on the
// same address while the collectors keep retrying. Once every batch is
// delivered, the node holds what an uncrashed node holds: every accepted
// batch stored once, and the same campaigns.
func TestKill9(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) })
	feeds := scenario(time.Now().UTC())
	want := singleExport(t, feeds)

	dir := t.TempDir()
	writeConfig := func(listen string) {
		yaml := "data_dir: state\nlisten: " + listen + "\naggregate:\n  publish_every: 100ms\n"
		if err := os.WriteFile(filepath.Join(dir, "central.yaml"), []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig("127.0.0.1:0")
	// Members and two enrolment tokens each, one per delivery.
	s := openNode(t, dir)
	addMembers(t, s)
	tokens := map[string][]string{}
	for _, m := range members {
		for range 2 {
			tokens[m] = append(tokens[m], tokenOf(t, s)(m))
		}
	}
	fingerprint := s.CA.CAFingerprint()
	s.Close()
	var mu sync.Mutex
	token := func(m string) string {
		mu.Lock()
		defer mu.Unlock()
		tok := tokens[m][0]
		tokens[m] = tokens[m][1:]
		return tok
	}

	first, err := startProcess(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			first.cmd.Process.Kill()
			first.cmd.Wait()
			t.Logf("first run:\n%s", first.stderr)
		}
	})
	n := &node{url: "https://" + first.addr}
	deliver(t, halves(feeds, true), func(int) *node { return n }, token, fingerprint)
	firstDetections := 0
	for _, f := range halves(feeds, true) {
		for _, b := range f.batches {
			firstDetections += len(b)
		}
	}
	// A publish tick saves the state covering the first half.
	statePath := filepath.Join(dir, "state", "aggregate.state")
	savedPosition := func() (fedPosition, bool) {
		data, err := os.ReadFile(statePath)
		rest, ok := bytes.CutPrefix(data, []byte(stateMagic))
		if err != nil || !ok || len(rest) < positionBytes {
			return fedPosition{}, false
		}
		return parsePosition(rest), true
	}
	waitUntil(t, 10*time.Second, "the state saved at a publish tick", func() bool {
		pos, ok := savedPosition()
		return ok && pos.detection >= int64(firstDetections)
	})

	// Kill it once some of the second half is stored, and restart it on
	// the same address while the collectors retry.
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "state", "central.db")+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	total := len(feeds) * len(feeds[0].batches)
	type restart struct {
		p                   *process
		stored              int   // batches stored at the kill
		unsaved, unsavedSum int64 // detections and summaries stored after the saved position
		err                 error
	}
	restarted := make(chan restart, 1)
	go func() {
		var r restart
		defer func() { restarted <- r }()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(2 * time.Millisecond) {
			// Once every collector sends (enrolment is not what this
			// tests) and detections are stored after the saved state,
			// unless a tick saved them all.
			var collectors, unsaved int
			pos, _ := savedPosition()
			err := db.QueryRow(`SELECT (SELECT count(*) FROM batches), (SELECT count(DISTINCT collector_id) FROM batches),
				(SELECT count(*) FROM detections WHERE id > ?)`, pos.detection).Scan(&r.stored, &collectors, &unsaved)
			if err == nil && collectors == 2*len(feeds) && r.stored > total/2+2 && (unsaved > 0 || r.stored == total) {
				break
			}
			if time.Now().After(deadline) {
				r.err = errors.New("the second half never reached the node")
				return
			}
		}
		if r.err = first.stop(syscall.SIGKILL); r.err != nil {
			return
		}
		pos, _ := savedPosition()
		r.err = db.QueryRow("SELECT (SELECT count(*) FROM detections WHERE id > ?), (SELECT count(*) FROM summaries WHERE id > ?)",
			pos.detection, pos.summary).Scan(&r.unsaved, &r.unsavedSum)
		if r.err != nil {
			return
		}
		writeConfig(first.addr)
		r.p, r.err = startProcess(dir)
	}()
	deliver(t, halves(feeds, false), func(int) *node { return n }, token, fingerprint)
	rs := <-restarted
	if rs.err != nil {
		t.Fatal(rs.err)
	}
	if err := rs.p.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	log := rs.p.stderr.String()
	t.Logf("killed with %d of %d batches stored, %d detections and %d summaries after the saved position; restarted:\n%s",
		rs.stored, total, rs.unsaved, rs.unsavedSum, grepLines(log, "aggregation state restored"))
	if replayed := fmt.Sprintf("replayed_detections=%d replayed_summaries=%d", rs.unsaved, rs.unsavedSum); !strings.Contains(log, replayed) {
		t.Errorf("the restarted node did not log %s:\n%s", replayed, log)
	}

	r := openNode(t, dir)
	defer r.Close()
	if diff := cmp.Diff(want, export(t, r)); diff != "" {
		t.Fatalf("export after kill -9 and restart differs from an uncrashed node's (-uncrashed +killed):\n%s\nfirst run:\n%s\nsecond run:\n%s",
			diff, first.stderr, log)
	}
}

func grepLines(text, what string) string {
	var out []string
	for line := range strings.Lines(text) {
		if strings.Contains(line, what) {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return strings.Join(out, "\n")
}
