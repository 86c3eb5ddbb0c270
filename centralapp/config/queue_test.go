package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestQueue(t *testing.T) {
	c, err := Parse("c.yaml", []byte("listen: 127.0.0.1:1\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Queue{Driver: "inprocess", Stream: "INGEST", Replicas: 1, DedupeWindow: 10 * time.Minute, MaxAge: 72 * time.Hour}
	if diff := cmp.Diff(want, c.Queue); diff != "" || c.Role != "all" {
		t.Errorf("defaults: role %q, queue (-want +got):\n%s", c.Role, diff)
	}
	c, err = Parse("c.yaml", []byte("role: worker\nqueue:\n  driver: nats\n  urls: [nats://127.0.0.1:4222, tls://n2:4222]\n  replicas: 3\n  max_age: 24h\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Role != "worker" || len(c.Queue.URLs) != 2 || c.Queue.Replicas != 3 || c.Queue.MaxAge != 24*time.Hour {
		t.Errorf("nats: %q %+v", c.Role, c.Queue)
	}

	for _, tc := range []struct{ in, want string }{
		{"role: boss\n", `c.yaml:1:7: role: "boss": want all, ingest or worker`},
		{"role: ingest\n", `c.yaml:1:7: role: "ingest" needs queue.driver: nats`},
		{"queue:\n  driver: kafka\n", `c.yaml:2:11: queue.driver: "kafka": want inprocess or nats`},
		{"queue:\n  driver: nats\n", `c.yaml:1:1: queue: driver nats needs urls`},
		{"queue:\n  driver: nats\n  urls: [\"http://x:1\"]\n", `c.yaml:3:9: queue.urls: item 1, "http://x:1", is not a NATS URL`},
		{"queue:\n  stream: in.gest\n", `c.yaml:2:11: queue.stream: "in.gest": want up to 64 letters`},
		{"queue:\n  replicas: 7\n", `c.yaml:2:13: queue.replicas: 7: want 1 to 5`},
		{"queue:\n  dedupe_window: 2h\n  max_age: 1h\n", `c.yaml:2:18: queue.dedupe_window: 2h0m0s is longer than queue.max_age 1h0m0s`},
		{"queue:\n  max_age: 1s\n", `c.yaml:2:12: queue.max_age: 1s: at least 1m`},
		{"queue:\n  max_age: forever\n", `c.yaml:2:12: queue.max_age: "forever" is not a duration`},
	} {
		_, err := Parse("c.yaml", []byte(tc.in))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: got %v\nwant %s", tc.in, err, tc.want)
		}
	}
}

func TestOpsListen(t *testing.T) {
	c, err := Parse("c.yaml", []byte("role: worker\nops_listen: 127.0.0.1:9443\nqueue:\n  driver: nats\n  urls: [nats://127.0.0.1:4222]\n"))
	if err != nil || c.OpsListen != "127.0.0.1:9443" {
		t.Fatalf("ops_listen %q, %v", c.OpsListen, err)
	}
	for _, tc := range []struct{ in, want string }{
		{"ops_listen: nowhere\n", `c.yaml:1:13: ops_listen: "nowhere" is not host:port`},
		{"listen: 127.0.0.1:8443\nops_listen: 127.0.0.1:8443\n", `c.yaml:2:13: ops_listen: "127.0.0.1:8443" is listen's address too`},
	} {
		_, err := Parse("c.yaml", []byte(tc.in))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: got %v\nwant %s", tc.in, err, tc.want)
		}
	}
}
