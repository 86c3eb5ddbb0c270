// Package queuetest runs embedded NATS JetStream servers for tests: a
// single server or a cluster on loopback ports, with their stores in the
// test's temporary folder.
package queuetest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Cluster is a set of embedded JetStream servers forming one cluster.
type Cluster struct {
	t       testing.TB
	servers []*server.Server
}

// Start starts n JetStream servers on 127.0.0.1 (n > 1: one cluster,
// routed through the first) and waits until JetStream answers. They shut
// down when the test ends.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	t.Cleanup(c.Shutdown)
	dir := t.TempDir()
	// Clustered JetStream wants its routes configured, the first server's
	// too: every server routes to every cluster port, its own included
	// (which it skips).
	var ports []int
	var routes []*url.URL
	if n > 1 {
		ports = freePorts(t, n)
		for _, p := range ports {
			routes = append(routes, &url.URL{Scheme: "nats-route", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(p))})
		}
	}
	for i := range n {
		o := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   filepath.Join(dir, fmt.Sprintf("n%d", i+1)),
			NoLog:      true,
			NoSigs:     true,
			// Small limits, so a test machine's memory is not claimed.
			JetStreamMaxMemory: 64 << 20,
			JetStreamMaxStore:  1 << 30,
		}
		if n > 1 {
			o.Cluster = server.ClusterOpts{Name: "cyberalarm-test", Host: "127.0.0.1", Port: ports[i]}
			o.Routes = routes
		}
		s, err := server.NewServer(o)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("nats server %s not ready", o.ServerName)
		}
		c.servers = append(c.servers, s)
	}
	c.waitJetStream()
	return c
}

// freePorts returns n loopback ports free a moment ago.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var lns []net.Listener
	var out []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// waitJetStream waits until JetStream has a meta leader and every server
// is its peer.
func (c *Cluster) waitJetStream() {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ready := true
		for _, s := range c.servers {
			if !s.JetStreamEnabled() || len(c.servers) > 1 && !s.JetStreamIsCurrent() {
				ready = false
			}
		}
		if ready && (len(c.servers) == 1 || c.metaLeader() != nil && len(c.metaLeader().JetStreamClusterPeers()) == len(c.servers)) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatal("JetStream cluster did not form")
}

func (c *Cluster) metaLeader() *server.Server {
	for _, s := range c.servers {
		if s.Running() && s.JetStreamIsLeader() {
			return s
		}
	}
	return nil
}

// URLs are the client URLs of the running servers.
func (c *Cluster) URLs() []string {
	var out []string
	for _, s := range c.servers {
		if s.Running() {
			out = append(out, s.ClientURL())
		}
	}
	return out
}

// Servers returns the servers, running or not.
func (c *Cluster) Servers() []*server.Server { return slices.Clone(c.servers) }

// StreamLeader returns the server that leads stream, waiting for one.
func (c *Cluster) StreamLeader(stream string) *server.Server {
	c.t.Helper()
	nc, err := nats.Connect(c.URLs()[0])
	if err != nil {
		c.t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		c.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		s, err := js.Stream(ctx, stream)
		var info *jetstream.StreamInfo
		if err == nil {
			info, err = s.Info(ctx)
		}
		cancel()
		if err == nil && info.Cluster != nil && info.Cluster.Leader != "" {
			for _, srv := range c.servers {
				if srv.Name() == info.Cluster.Leader && srv.Running() {
					return srv
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("stream %s has no leader", stream)
	return nil
}

// Shutdown stops every server and waits for them.
func (c *Cluster) Shutdown() {
	for _, s := range c.servers {
		s.Shutdown()
	}
	for _, s := range c.servers {
		s.WaitForShutdown()
	}
}
