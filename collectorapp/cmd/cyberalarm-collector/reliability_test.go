package main

// Reliability tests: the real binary, killed with SIGKILL and restarted,
// against a §3.4 receiver on 127.0.0.1.

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/collectorapp/forward"
	"github.com/cyberalarm/cyberalarm/collectorapp/forward/forwardtest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "collector-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "cyberalarm-collector")
	build := exec.Command("go", "build", "-race", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the collector:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// site is one collector's state directory, enrolled with a receiver.
type site struct {
	t      *testing.T
	dir    string
	config string
	r      *forwardtest.Receiver
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has ended
	err    error         // cmd's exit
	log    *os.File
}

func newSite(t *testing.T, inputs string) *site {
	t.Helper()
	r, err := forwardtest.New(forwardtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := forward.Enrol(ctx, r.URL(), r.Token("m1", time.Minute), dir, forward.EnrolOptions{CASHA256: r.CAFingerprint()}); err != nil {
		t.Fatal(err)
	}
	// One rule that never fires: every drop is then counted, once, in the
	// flow summaries, which is what the tests check.
	rulesDir := filepath.Join(dir, "rules")
	if err := os.Mkdir(rulesDir, 0o700); err != nil {
		t.Fatal(err)
	}
	rule := "id: test.never\nname: Never\nseverity: 1\ntechniques: [T1046]\nwhen: event.category == \"malware\" && event.type == \"allowed\"\n"
	if err := os.WriteFile(filepath.Join(rulesDir, "never.yaml"), []byte(rule), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`collector:
  member: m1
  data_dir: %s
central:
  url: %s
  retry_min: 50ms
  retry_max: 500ms
  updates_interval: 0s
  update_public_key: %s
buffer:
  path: %s
  batch_max_age: 200ms
rules:
  builtin: false
  dirs: [%s]
summaries:
  enabled: true
metrics:
  enabled: false
log:
  level: debug
inputs:
%s`, dir, r.URL(), base64.StdEncoding.EncodeToString(r.UpdateKey()), filepath.Join(dir, "buffer.db"), rulesDir, inputs)
	path := filepath.Join(dir, "collector.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return &site{t: t, dir: dir, config: path, r: r}
}

// start runs the collector. Its log goes to a file the test shows on
// failure.
func (s *site) start() {
	s.t.Helper()
	log, err := os.OpenFile(filepath.Join(s.dir, "collector.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	s.log = log
	s.cmd = exec.Command(binary, "run", "--config", s.config)
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	exited := make(chan struct{})
	s.exited = exited
	go func() {
		s.err = s.cmd.Wait()
		close(exited)
	}()
	s.t.Cleanup(func() {
		select {
		case <-exited:
		default:
			s.cmd.Process.Kill() //nolint:errcheck
			<-exited
		}
		if s.t.Failed() {
			b, _ := os.ReadFile(filepath.Join(s.dir, "collector.log"))
			s.t.Logf("collector log:\n%s", b)
		}
	})
}

func (s *site) kill() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		s.t.Fatal(err)
	}
	<-s.exited
	s.log.Close()
}

func (s *site) stop() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	<-s.exited
	if s.err != nil {
		s.t.Fatalf("collector exit: %v", s.err)
	}
	s.log.Close()
}

// counts returns, per source address, the events that central's flow
// summaries count, over the batches it accepted (a duplicate batch id is
// accepted once).
func (s *site) counts() map[netip.Addr]int64 {
	out := map[netip.Addr]int64{}
	for _, b := range s.r.Batches() {
		for _, sum := range b.Batch.Summaries {
			out[sum.SourceIP] += sum.Count
		}
	}
	return out
}

// waitFor waits until every source of want has reached central.
func (s *site) waitFor(want []netip.Addr, timeout time.Duration) map[netip.Addr]int64 {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := s.counts()
		missing := 0
		for _, a := range want {
			if got[a] == 0 {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%d of %d sources never reached central", missing, len(want))
		}
		select {
		case <-s.exited:
			s.t.Fatalf("the collector ended: %v", s.err)
		default:
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// denyLine is a firewall drop of one packet from a distinct source: with
// no rules loaded, each is counted once in the flow summaries.
func denyLine(i int) (string, netip.Addr) {
	src := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
	return fmt.Sprintf("<4>Nov 27 10:15:%02d gw01 kernel: IPTABLES-DROP: IN=eth0 OUT= SRC=%s DST=192.0.2.10 LEN=60 TOS=0x00 PREC=0x00 TTL=51 ID=%d DF PROTO=TCP SPT=51514 DPT=22 WINDOW=29200 RES=0x00 SYN URGP=0",
		i%60, src, i), src
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestKillDuringTCPStream: the collector is killed with SIGKILL while a
// sender streams syslog over TCP, and restarted. Every line whose effect
// reached central before the kill is there exactly once; no line of the
// interrupted stretch is there twice; the restarted collector carries on.
//
// Plain TCP syslog has no acknowledgement above TCP: what the kernel had
// taken but the collector had not yet committed when it was killed is
// lost, which is why senders that must not lose lines use RELP or a
// spool. The collector commits four times a second.
func TestKillDuringTCPStream(t *testing.T) {
	addr := freePort(t)
	s := newSite(t, fmt.Sprintf("  - name: tcp\n    type: tcp\n    listen: %s\n", addr))
	s.start()

	// send writes lines from to to, paced at about rate lines a second
	// (0: as fast as the socket takes them).
	send := func(from, to, rate int) []netip.Addr {
		c := dial(t, addr)
		defer c.Close()
		w := bufio.NewWriter(c)
		var srcs []netip.Addr
		start := time.Now()
		for i := from; i < to; i++ {
			line, src := denyLine(i)
			fmt.Fprintf(w, "%s\n", line)
			srcs = append(srcs, src)
			if rate > 0 && (i-from)%100 == 99 {
				if err := w.Flush(); err != nil {
					t.Logf("send stopped at line %d: %v", i, err)
					return srcs
				}
				time.Sleep(time.Until(start.Add(time.Duration(i-from+1) * time.Second / time.Duration(rate))))
			}
		}
		if err := w.Flush(); err != nil {
			t.Logf("send %d-%d: %v", from, to, err)
		}
		return srcs
	}

	first := send(0, 3000, 0)
	s.waitFor(first, 60*time.Second)
	// Kill in the middle of the second stretch, once part of it has
	// reached central.
	done := make(chan struct{})
	var second []netip.Addr
	go func() {
		defer close(done)
		second = send(3000, 9000, 2000)
	}()
	var before map[netip.Addr]int64
	for deadline := time.Now().Add(30 * time.Second); ; {
		before = s.counts()
		if _, src := denyLine(3000); before[src] > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.kill()
	<-done

	s.start()
	third := send(9000, 12000, 0)
	s.waitFor(third, 60*time.Second)
	s.stop()
	got := s.counts()

	for i := range 12000 {
		_, src := denyLine(i)
		n := got[src]
		switch {
		case n > 1:
			t.Errorf("%s counted %d times", src, n)
		case n == 0 && (i < 3000 || i >= 9000 || before[src] > 0):
			t.Errorf("%s (line %d) lost", src, i)
		}
	}
	if _, src := denyLine(3000); before[src] == 0 {
		t.Fatal("nothing of the second stretch reached central before the kill")
	}
	lost := 0
	for _, src := range second {
		if got[src] == 0 {
			lost++
		}
	}
	t.Logf("the sender wrote %d lines of the second stretch before the kill: %d reached central before it, %d were lost with it",
		len(second), len(second)-lost, lost)
}

// TestKillWhileTailing: a tailed file, SIGKILL, more lines and a rotation
// by rename while the collector is down, then a restart: every line
// reaches central exactly once, because file offsets are committed with
// the records made from their lines.
func TestKillWhileTailing(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "fw.log")
	s := newSite(t, fmt.Sprintf("  - name: fw\n    type: file\n    path: %s\n", logPath))
	appendLines := func(path string, from, to int) []netip.Addr {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		w := bufio.NewWriter(f)
		var srcs []netip.Addr
		for i := from; i < to; i++ {
			line, src := denyLine(i)
			fmt.Fprintf(w, "%s\n", line)
			srcs = append(srcs, src)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		return srcs
	}
	all := appendLines(logPath, 0, 4000)
	s.start()
	s.waitFor(all[:100], 60*time.Second)
	s.kill() // somewhere in the middle of the file, or after it

	all = append(all, appendLines(logPath, 4000, 5000)...)
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	all = append(all, appendLines(logPath, 5000, 6000)...)

	s.start()
	// The renamed file is gone from the collector's view: it resumes in
	// the file at the path only if the inode matches. What was appended to
	// the old file after the kill went with the rename.
	want := append(all[:0:0], all[:4000]...)
	want = append(want, all[5000:]...)
	s.waitFor(want, 60*time.Second)
	s.stop()
	got := s.counts()
	for i, src := range all {
		if got[src] > 1 {
			t.Errorf("line %d (%s) counted %d times", i, src, got[src])
		}
	}
}
