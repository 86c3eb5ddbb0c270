package daemon

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cyberalarm/cyberalarm/collectorapp/config"
	"github.com/cyberalarm/cyberalarm/collectorapp/forward"
	"github.com/cyberalarm/cyberalarm/collectorapp/forward/forwardtest"
	"github.com/cyberalarm/cyberalarm/detect/update"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/rules"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testConfig writes a collector config into dir and loads it.
// centralExtra is more of the central section; body, more sections.
func testConfig(t testing.TB, dir, central, centralExtra, body string) *config.Config {
	t.Helper()
	centralURL := ""
	if central != "" {
		centralURL = "  url: " + central + "\n"
	}
	text := fmt.Sprintf(`collector:
  member: m1
  data_dir: %s
central:
%s  retry_min: 50ms
  retry_max: 200ms
%s
buffer:
  path: %s
  batch_max_age: 100ms
log:
  level: debug
`, dir, centralURL, centralExtra, filepath.Join(dir, "buffer.db")) + body
	path := filepath.Join(dir, "collector.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// enrol enrols a collector of member m1 with r into dir.
func enrol(t *testing.T, r *forwardtest.Receiver, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := forward.Enrol(ctx, r.URL(), r.Token("m1", time.Minute), dir, forward.EnrolOptions{CASHA256: r.CAFingerprint()}); err != nil {
		t.Fatal(err)
	}
}

// TestCollectorEndToEnd runs the whole daemon: syslog over TCP in, the
// scenario's detections out to a §3.4 receiver over mTLS, with /metrics
// and /healthz answering on the way, and a signed indicator update applied
// without a restart.
func TestCollectorEndToEnd(t *testing.T) {
	r, err := forwardtest.New(forwardtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	dir := t.TempDir()
	enrol(t, r, dir)
	cfg := testConfig(t, dir, r.URL(), `  updates_interval: 1s
  update_public_key: `+base64.StdEncoding.EncodeToString(r.UpdateKey())+"\n", `inputs:
  - name: syslog-tcp
    type: tcp
    listen: 127.0.0.1:0
summaries:
  enabled: true
`)
	ml, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Options{Config: cfg, Registry: parsers.Builtin(), Ref: rules.TestRef, MetricsListener: ml,
		Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	<-d.Ready()

	conn, err := net.Dial("tcp", d.Addr("syslog-tcp").String())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range parsertest.Lines(t, "../../corpus/scenarios/ssh_bruteforce/input.log") {
		fmt.Fprintf(conn, "%s\n", l)
	}
	conn.Close()

	want := map[string]bool{"bruteforce.ssh.auth": false, "bruteforce.ssh.conn": false}
	deadline := time.Now().Add(20 * time.Second)
	var summaries int64
	for time.Now().Before(deadline) {
		summaries = 0
		for _, b := range r.Batches() {
			if b.Batch.MemberID != "m1" || b.Batch.CollectorID == "" {
				t.Fatalf("batch %s: member %q collector %q", b.Batch.BatchID, b.Batch.MemberID, b.Batch.CollectorID)
			}
			for _, raw := range b.Batch.Detections {
				var det struct{ Rule struct{ ID string } }
				json.Unmarshal(raw, &det) //nolint:errcheck // the receiver decoded it strictly
				if _, ok := want[det.Rule.ID]; ok {
					want[det.Rule.ID] = true
				}
			}
			for _, s := range b.Batch.Summaries {
				summaries += s.Count
			}
		}
		if want["bruteforce.ssh.auth"] && want["bruteforce.ssh.conn"] && summaries > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !want["bruteforce.ssh.auth"] || !want["bruteforce.ssh.conn"] || summaries == 0 {
		t.Fatalf("at central: detections %v, %d summarised events", want, summaries)
	}

	// Metrics and health.
	base := "http://" + ml.Addr().String()
	body := get(t, base+"/metrics")
	for _, m := range []string{
		`cyberalarm_collector_input_lines_total{input="syslog-tcp",type="tcp"}`,
		`cyberalarm_collector_detections_total`,
		`cyberalarm_collector_forward_batches_sent_total`,
		`cyberalarm_collector_device_last_seen_timestamp_seconds{dataset="sshd",device="bastion"}`,
	} {
		if !strings.Contains(body, m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	var health struct {
		Status  string
		Devices []struct{ Device, Dataset string }
	}
	if err := json.Unmarshal([]byte(get(t, base+"/healthz")), &health); err != nil {
		t.Fatal(err)
	}
	if health.Status != "ok" || len(health.Devices) == 0 {
		t.Errorf("healthz: %+v", health)
	}

	// A signed indicator list: the collector applies it without a restart.
	signed, err := r.Sign(update.KindIndicators, 1, []byte("198.51.100.0/24\n"))
	if err != nil {
		t.Fatal(err)
	}
	r.SetUpdates(signed)
	for time.Now().Before(deadline) && d.pipe.lists.Load().Named[centralIndicators] == nil {
		time.Sleep(20 * time.Millisecond)
	}
	if d.pipe.lists.Load().Named[centralIndicators] == nil {
		t.Fatal("indicator update not applied")
	}

	// A signed rule pack: its rule fires on the next line, without a
	// restart. A pack with a forged signature is refused.
	pack := []byte("id: central.telnet\nname: Telnet from outside\nseverity: 40\ntechniques: [T1078]\n" +
		"when: destination.port == 23 && event.type == \"denied\"\n")
	forged, err := r.Sign(update.KindRules, 2, pack)
	if err != nil {
		t.Fatal(err)
	}
	forged.Signature[0] ^= 1
	r.SetUpdates(signed, forged)
	time.Sleep(1500 * time.Millisecond) // a poll at least
	good, err := r.Sign(update.KindRules, 3, pack)
	if err != nil {
		t.Fatal(err)
	}
	if id := d.pipe.rules.Load(); id.Len() != len(rulesOf(t)) {
		t.Fatalf("the forged pack was applied: %d rules", id.Len())
	}
	r.SetUpdates(signed, good)
	waitUntil(t, "the rule pack", 10*time.Second, func() bool { return d.pipe.rules.Load().Len() == 1 })
	sendLines(t, d.Addr("syslog-tcp").String(), []byte("<4>Nov 27 11:00:00 gw01 kernel: IPTABLES-DROP: IN=eth0 OUT= SRC=203.0.113.200 DST=10.0.0.5 LEN=60 TOS=0x00 PREC=0x00 TTL=51 ID=1 DF PROTO=TCP SPT=51514 DPT=23 WINDOW=29200 RES=0x00 SYN URGP=0\n"))
	waitUntil(t, "a detection of the central rule", 10*time.Second, func() bool { return detectionsAt(r)["central.telnet"] > 0 })

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// rulesOf returns the built-in pack, which the daemon starts with.
func rulesOf(t *testing.T) []*rules.Rule {
	t.Helper()
	rs, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// testLogger sends the daemon's log to the test's log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startDaemon runs a collector of member m1 with one TCP input, enrolled
// with r, and returns it with its input's address and a stop function that
// checks Run's result.
func startDaemon(t *testing.T, r *forwardtest.Receiver, rulesBody string) (*Daemon, string, func()) {
	t.Helper()
	dir := t.TempDir()
	enrol(t, r, dir)
	cfg := testConfig(t, dir, r.URL(), "  updates_interval: 0s\n", `inputs:
  - name: syslog-tcp
    type: tcp
    listen: 127.0.0.1:0
    max_message_bytes: 4KiB
summaries:
  enabled: true
`+rulesBody)
	d, err := New(Options{Config: cfg, Registry: parsers.Builtin(), Ref: rules.TestRef, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	<-d.Ready()
	return d, d.Addr("syslog-tcp").String(), func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func sendLines(t *testing.T, addr string, lines ...[]byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, l := range lines {
		if _, err := c.Write(l); err != nil {
			t.Fatal(err)
		}
	}
}

// detectionsAt returns the rule ids of the detections r accepted.
func detectionsAt(r *forwardtest.Receiver) map[string]int {
	out := map[string]int{}
	for _, b := range r.Batches() {
		for _, raw := range b.Batch.Detections {
			var det struct{ Rule struct{ ID string } }
			json.Unmarshal(raw, &det) //nolint:errcheck // the receiver decoded it strictly
			out[det.Rule.ID]++
		}
	}
	return out
}

func waitUntil(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBacklogDrainsAfterOutage: central is down while traffic goes on; the
// batches wait in the buffer and, once central is back, arrive in the
// order they were sealed, with nothing lost.
func TestBacklogDrainsAfterOutage(t *testing.T) {
	r, err := forwardtest.New(forwardtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	d, addr, stop := startDaemon(t, r, "")
	defer stop()
	r.Down()
	var sent []string
	for _, sc := range []string{"ssh_bruteforce", "port_scan_vertical", "rdp_bruteforce", "web_scan"} {
		var lines [][]byte
		for _, l := range parsertest.Lines(t, "../../corpus/scenarios/"+sc+"/input.log") {
			lines = append(lines, append(l, '\n'))
		}
		sendLines(t, addr, lines...)
		sent = append(sent, sc)
		// Let each stretch be sealed into batches of its own.
		before := d.Snapshot().Buffer.Sealed
		waitUntil(t, "a sealed batch", 10*time.Second, func() bool {
			s := d.Snapshot()
			return s.Buffer.Pending == 0 && s.Buffer.Sealed > before
		})
	}
	backlog := d.Snapshot().Buffer.Sealed
	if backlog < 4 {
		t.Fatalf("%d batches waiting while central was down; want one per stretch at least", backlog)
	}
	if err := r.Up(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the backlog to drain", 30*time.Second, func() bool { return d.Snapshot().Buffer.Sealed == 0 })
	var last uint64
	for _, b := range r.Batches() {
		if b.Batch.Seq <= last {
			t.Errorf("batch seq %d arrived after %d", b.Batch.Seq, last)
		}
		last = b.Batch.Seq
	}
	got := detectionsAt(r)
	for _, id := range []string{"bruteforce.ssh.auth", "scan.tcp.vertical", "bruteforce.rdp.auth"} {
		if got[id] == 0 {
			t.Errorf("no %s detection reached central (got %v)", id, got)
		}
	}
	t.Logf("%d batches waited for central; %d detections arrived (%s)", backlog, len(got), strings.Join(sent, ", "))
}

// TestHostileFramesCarryOn: binary junk, oversized frames, a lying octet
// count and invalid UTF-8 on one connection do not stop the collector from
// detecting on the next.
func TestHostileFramesCarryOn(t *testing.T) {
	r, err := forwardtest.New(forwardtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	d, addr, stop := startDaemon(t, r, "")
	defer stop()
	junk := make([]byte, 64<<10)
	for i := range junk {
		junk[i] = byte(i * 7)
	}
	sendLines(t, addr,
		[]byte("\x00\x01\x02\xff\xfe garbage\n"),
		append(bytes.Repeat([]byte("A"), 100<<10), '\n'), // over max_message_bytes
		[]byte("<34>1 2026-11-27T10:00:00Z h app - - - \xc3\x28 invalid utf-8\n"),
		junk,
		[]byte("\n999999999 short\n"),
	)
	var lines [][]byte
	for _, l := range parsertest.Lines(t, "../../corpus/scenarios/ssh_bruteforce/input.log") {
		lines = append(lines, append(l, '\n'))
	}
	sendLines(t, addr, lines...)
	waitUntil(t, "the brute force detection", 20*time.Second, func() bool { return detectionsAt(r)["bruteforce.ssh.auth"] > 0 })
	s := d.Snapshot()
	if s.Inputs[0].Oversize == 0 || s.Counts.Failed+s.Counts.NotEvents < 3 {
		t.Errorf("oversize %d, failed %d, not events %d: the hostile frames were not seen", s.Inputs[0].Oversize, s.Counts.Failed, s.Counts.NotEvents)
	}
}
