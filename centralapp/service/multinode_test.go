package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"
	"github.com/oklog/ulid/v2"
	"go.uber.org/goleak"

	"github.com/cyberalarm/cyberalarm/centralapp/config"
	"github.com/cyberalarm/cyberalarm/centralapp/queue/queuetest"
	"github.com/cyberalarm/cyberalarm/centralapp/server"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/postgres/pgtest"
	"github.com/cyberalarm/cyberalarm/collectorapp/forward"
	"github.com/cyberalarm/cyberalarm/collectorapp/forward/forwardtest"
	"github.com/cyberalarm/cyberalarm/detect"
)

var quiet = slog.New(slog.DiscardHandler)

// node is a central node running in the test.
type node struct {
	svc  *Service
	url  string // "" for a worker
	stop func()
}

// startNode opens a central node with config yaml in dir and serves it
// (an ingest node on a loopback port) until stop.
func startNode(t *testing.T, dir, yaml string) *node {
	t.Helper()
	cfg, err := config.Parse(filepath.Join(dir, "central.yaml"), []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := openWith(context.Background(), cfg, quiet, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{svc: svc}
	var ln net.Listener
	if cfg.Role != RoleWorker {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		n.url = "https://" + ln.Addr().String()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx, ln) }()
	var once bool
	n.stop = func() {
		if once {
			return
		}
		once = true
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		svc.Close()
	}
	t.Cleanup(n.stop)
	return n
}

// feed is what one member's collector sends: batches of §3.2 detections,
// with a flow summary and health each.
type feed struct {
	member  string
	batches [][]json.RawMessage
}

// scenario is four members' traffic with cross-member campaigns: a
// scanner at every member, a brute forcer at three, a source at two
// (no campaign) and per-member noise, spread over many batches.
func scenario(now time.Time) []feed {
	det := func(member, rule, technique, src string, port uint16, minutes int) json.RawMessage {
		last := now.Add(-time.Duration(60-minutes) * time.Minute)
		d := detect.Detection{
			RuleID: rule, RuleName: "Rule " + rule, Severity: 40 + minutes%50, Techniques: []string{technique},
			Source: netip.MustParseAddr(src), Count: int64(minutes + 3), FirstSeen: last.Add(-2 * time.Minute), LastSeen: last,
			MemberID: member,
		}
		if port != 0 {
			d.Destination, d.DestinationPort = netip.MustParseAddr("192.0.2.10"), port
		}
		return d.AppendJSON(nil)
	}
	members := []string{"m1", "m2", "m3", "m4"}
	var out []feed
	for i, m := range members {
		f := feed{member: m}
		for b := range 12 {
			var ds []json.RawMessage
			ds = append(ds, det(m, "scan.tcp.vertical", "T1046", "203.0.113.5", 0, b*4+i))
			if i < 3 {
				ds = append(ds, det(m, "ssh.bruteforce", "T1110.001", "198.51.100.20", 22, b*4+i+1))
			}
			if i < 2 {
				ds = append(ds, det(m, "web.probe", "T1595", "198.51.100.77", 443, b*3+i))
			}
			for k := range 3 {
				ds = append(ds, det(m, "fw.denied.burst", "T1046", fmt.Sprintf("192.0.2.%d", 100+i*20+k+b%5), 0, b*5+k))
			}
			f.batches = append(f.batches, ds)
		}
		out = append(out, f)
	}
	return out
}

// deliver enrols one collector per feed at the central it is given and
// forwards its batches with the real forwarder, until all are delivered.
func deliver(t *testing.T, feeds []feed, centralFor func(i int) *node, token func(member string) string, fingerprint string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var outs []*forwardtest.MemOutbox
	var running []chan struct{}
	defer func() {
		cancel()
		for _, c := range running {
			<-c
		}
	}()
	for i, f := range feeds {
		dir := t.TempDir()
		central := centralFor(i).url
		if _, err := forward.Enrol(ctx, central, token(f.member), dir, forward.EnrolOptions{CASHA256: fingerprint}); err != nil {
			t.Fatal(err)
		}
		creds, err := forward.LoadCredentials(dir)
		if err != nil {
			t.Fatal(err)
		}
		id := creds.Identity()
		maker := forwardtest.NewBatchMaker(id)
		out := forwardtest.NewMemOutbox()
		for seq, ds := range f.batches {
			now := time.Now().UTC()
			b := detect.Batch{
				BatchID: ulid.Make().String(), CollectorID: id.CollectorID, MemberID: id.MemberID, Seq: uint64(seq + 1),
				Created: now, Detections: ds,
				Summaries: []detect.FlowSummary{{Minute: now.Truncate(time.Minute), SourceIP: netip.MustParseAddr("198.51.100.9"),
					DestinationPort: 23, Transport: "tcp", EventType: "denied", Device: "fw1", Dataset: "cisco_asa", Count: int64(seq + 1)}},
				Health: &detect.Health{Time: now, Started: now.Add(-time.Hour), Version: "test",
					Devices: []detect.DeviceHealth{{Device: "fw1", Dataset: "cisco_asa", LastSeen: now}}},
			}
			body, err := maker.Encode(&b)
			if err != nil {
				t.Fatal(err)
			}
			out.Add(b.BatchID, body)
		}
		fw, err := forward.New(out, forward.Config{Central: central, Credentials: creds, Timeout: 10 * time.Second,
			MinBackoff: 5 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Poll: 20 * time.Millisecond, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		running = append(running, done)
		go func() { defer close(done); fw.Run(ctx) }()
		outs = append(outs, out)
	}
	waitUntil(t, 30*time.Second, "every batch delivered", func() bool {
		for _, o := range outs {
			if o.Pending() > 0 {
				return false
			}
		}
		return true
	})
	for i, o := range outs {
		if q := o.QuarantinedBatches(); len(q) > 0 {
			t.Fatalf("collector %d: quarantined %+v", i, q)
		}
	}
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// exported is what `export detections` writes, member and cross-member,
// each sorted: nodes store batches in the order they come.
type exported struct {
	Member, Cross []string
	Counts        store.Counts
}

func export(t *testing.T, s *Service) exported {
	t.Helper()
	var e exported
	for _, cross := range []bool{false, true} {
		var buf bytes.Buffer
		if err := s.Export(context.Background(), &buf, server.ExportQuery{CrossMember: cross}); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		slices.Sort(lines)
		if cross {
			e.Cross = lines
		} else {
			e.Member = lines
		}
	}
	var err error
	if e.Counts, err = s.Store.Counts(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	return e
}

var members = []string{"m1", "m2", "m3", "m4"}

func addMembers(t *testing.T, s *Service) {
	t.Helper()
	for _, m := range members {
		if err := s.Store.AddMember(context.Background(), store.Member{ID: m, Name: m, TimeZone: "UTC", Created: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
	}
}

func tokenOf(t *testing.T, s *Service) func(string) string {
	return func(m string) string {
		tok, err := s.NewEnrolToken(context.Background(), m, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
}

// singleExport is the export of one node (SQLite, in-process queue) fed
// feeds: what a cluster must match.
func singleExport(t *testing.T, feeds []feed) exported {
	t.Helper()
	single := startNode(t, t.TempDir(), "data_dir: state\n")
	addMembers(t, single.svc)
	deliver(t, feeds, func(int) *node { return single }, tokenOf(t, single.svc), single.svc.CA.CAFingerprint())
	if err := single.svc.Flush(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	want := export(t, single.svc)
	single.stop()
	if len(want.Cross) < 2 || want.Counts.Batches != 48 {
		t.Fatalf("scenario too small to compare: %d campaigns, %+v", len(want.Cross), want.Counts)
	}
	return want
}

// postgresStore starts a PostgreSQL cluster for t and returns the store:
// section of a config on a new database in it; "" when PostgreSQL is not
// installed.
func postgresStore(t *testing.T) string {
	t.Helper()
	c, err := pgtest.Start(context.Background(), pgtest.Options{})
	if errors.Is(err, pgtest.ErrNotInstalled) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	dsn, err := c.CreateDatabase(context.Background(), "central")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("store:\n  driver: postgres\n  dsn: %q\n", dsn)
}

// settledLeader waits until every node has stored and aggregated what was
// sent, and returns the one node leading the shared work.
func settledLeader(t *testing.T, nodes []*node) *node {
	t.Helper()
	var leader *node
	waitUntil(t, 30*time.Second, "nodes settled, one leading", func() bool {
		leader = nil
		for _, n := range nodes {
			ok, err := n.svc.Settled(context.Background())
			if err != nil || !ok {
				return false
			}
			if n.svc.Leading() {
				if leader != nil {
					t.Fatal("two nodes lead the shared work")
				}
				leader = n
			}
		}
		return leader != nil
	})
	return leader
}

// failover stops the leader among nodes, waits until another leads and
// has caught up, and checks its export is still want.
func failover(t *testing.T, nodes []*node, leader *node, want exported) {
	t.Helper()
	leader.stop()
	var rest []*node
	for _, n := range nodes {
		if n != leader {
			rest = append(rest, n)
		}
	}
	next := settledLeader(t, rest)
	if err := next.svc.flushShared(context.Background()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, export(t, next.svc)); diff != "" {
		t.Fatalf("after failover (-single +multi):\n%s", diff)
	}
}

// TestMultiNode runs central as 2 ingest nodes and 2 workers on a 3-node
// JetStream cluster (R3) and one shared store (PostgreSQL when installed,
// else one SQLite file), with four members' collectors spread across the
// ingest nodes, and compares the export with a single node's on the same
// input.
func TestMultiNode(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node cluster")
	}
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) })
	feeds := scenario(time.Now().UTC().Truncate(time.Second))
	want := singleExport(t, feeds)

	// The cluster: nodes share the data folder (CA, session key) and the
	// store, as they would share a PostgreSQL database and a copy of
	// the CA.
	st := postgresStore(t)
	if st == "" {
		t.Log(pgtest.ErrNotInstalled, "; the nodes share a SQLite file instead")
	}
	nats := queuetest.Start(t, 3)
	dir := t.TempDir()
	yaml := func(role string) string {
		return fmt.Sprintf("data_dir: state\nrole: %s\nqueue:\n  driver: nats\n  urls: [%s]\n  replicas: 3\n%s",
			role, strings.Join(nats.URLs(), ", "), st)
	}
	ingest1 := startNode(t, dir, yaml(RoleIngest))
	ingest2 := startNode(t, dir, yaml(RoleIngest))
	workers := []*node{startNode(t, dir, yaml(RoleWorker)), startNode(t, dir, yaml(RoleWorker))}
	addMembers(t, ingest1.svc)
	ingests := []*node{ingest1, ingest2}
	deliver(t, feeds, func(i int) *node { return ingests[i%2] }, tokenOf(t, ingest2.svc), ingest1.svc.CA.CAFingerprint())

	leader := settledLeader(t, workers)
	if ingest1.svc.Leading() || ingest2.svc.Leading() {
		t.Error("an ingest node runs shared work")
	}
	// The workers' ops ports: healthy, and between them they stored
	// every batch once; the leader says so.
	stored := 0
	for _, w := range workers {
		health, metrics := scrapeOps(t, w.svc)
		if health != "ok\n" {
			t.Errorf("worker /healthz: %q", health)
		}
		stored += int(metric(t, metrics, `cyberalarm_central_queue_batches_total{result="stored"}`))
		if lead := metric(t, metrics, "cyberalarm_central_leading"); lead != map[bool]float64{true: 1}[w == leader] {
			t.Errorf("worker leading %v, metric says %v", w == leader, lead)
		}
	}
	if stored != 48 {
		t.Errorf("workers stored %d batches, want 48", stored)
	}
	if err := leader.svc.flushShared(context.Background()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, export(t, leader.svc)); diff != "" {
		t.Fatalf("multi-node export differs from the single node's (-single +multi):\n%s", diff)
	}
	// The leader goes: the other worker takes over from the saved state
	// and stores the same campaigns.
	failover(t, workers, leader, want)
	if _, err := os.Stat(filepath.Join(dir, "state", "aggregate.state")); err == nil {
		t.Error("a cluster node saved aggregation state in its data folder")
	}
}

// scrapeOps serves s's ops port for a moment and returns its /healthz
// and /metrics bodies.
func scrapeOps(t *testing.T, s *Service) (health, metrics string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeOps(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	get := func(path string) string {
		resp, err := http.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s %v", path, resp.Status, err)
		}
		return string(body)
	}
	return get("/healthz"), get("/metrics")
}

// metric is the value of the sample named name (with its labels) in a
// Prometheus text exposition; 0 if absent.
func metric(t *testing.T, text, name string) float64 {
	t.Helper()
	for line := range strings.Lines(text) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return 0
}

// TestMultiNodePostgres runs central as 3 nodes sharing one PostgreSQL
// database without a queue cluster: each stores what its collectors send,
// one holds the advisory-lock lease and aggregates from the store. The
// export matches a single node's, and again after the leader goes.
func TestMultiNodePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node cluster")
	}
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) })
	st := postgresStore(t)
	if st == "" {
		t.Skip(pgtest.ErrNotInstalled)
	}
	feeds := scenario(time.Now().UTC().Truncate(time.Second))
	want := singleExport(t, feeds)

	dir := t.TempDir()
	var nodes []*node
	for range 3 {
		nodes = append(nodes, startNode(t, dir, "data_dir: state\n"+st))
	}
	addMembers(t, nodes[0].svc)
	deliver(t, feeds, func(i int) *node { return nodes[i%3] }, tokenOf(t, nodes[1].svc), nodes[0].svc.CA.CAFingerprint())
	leader := settledLeader(t, nodes)
	if err := leader.svc.flushShared(context.Background()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, export(t, leader.svc)); diff != "" {
		t.Fatalf("export differs from the single node's (-single +multi):\n%s", diff)
	}
	failover(t, nodes, leader, want)
	if _, err := os.Stat(filepath.Join(dir, "state", "aggregate.state")); err == nil {
		t.Error("a node sharing the database saved aggregation state in its data folder")
	}
	// The saved state lost, the node to lead next rebuilds it from the
	// store, as the leader aggregated it.
	var next, spare *node
	for _, n := range nodes {
		switch {
		case n == leader:
		case n.svc.Leading():
			next = n
		default:
			spare = n
		}
	}
	conn, err := pgx.Connect(context.Background(), spare.svc.cfg.Store.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "DELETE FROM shared_state"); err != nil {
		t.Fatal(err)
	}
	if err := spare.svc.restoreShared(context.Background()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(next.svc.Agg.Campaigns(time.Time{}), spare.svc.Agg.Campaigns(time.Time{}),
		cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("campaigns rebuilt from the store differ from the leader's (-leader +rebuilt):\n%s", diff)
	}
	if d, sm, err := spare.svc.Store.LastIDs(context.Background()); err != nil || spare.svc.fed != (fedPosition{detection: d, summary: sm}) {
		t.Errorf("rebuilt up to %+v; the store's last ids are %d, %d (%v)", spare.svc.fed, d, sm, err)
	}
}
