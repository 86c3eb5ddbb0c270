package scan

import (
	"errors"
	"net"
	"testing"
	"time"
)

// startSilent accepts connections and says nothing: a service that makes
// a scan wait.
func startSilent(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

func TestKillSwitch(t *testing.T) {
	port := startSilent(t)
	slow := func(o *Options) { o.Greeting, o.Timeout = 20*time.Second, 20*time.Second }

	t.Run("runtime", func(t *testing.T) {
		e := newEnv(t, []uint16{port}, slow)
		e.addDomain(t, member, "www.member.test")
		done := make(chan Result, 1)
		go func() {
			res, _ := e.scan.Run(t.Context(), member, "alice")
			done <- res
		}()
		waitFor(t, func() bool { return e.dials.Load() >= 2 }) // connect, then the greeting wait
		start := time.Now()
		if err := e.scan.Kill(t.Context(), "carol", "member complained"); err != nil {
			t.Fatal(err)
		}
		res := <-done
		if time.Since(start) > 2*time.Second || res.Run.Status != StatusKilled {
			t.Errorf("kill took %s, status %q", time.Since(start), res.Run.Status)
		}
		if _, err := e.scan.Run(t.Context(), member, "alice"); !errors.Is(err, ErrKilled) {
			t.Errorf("run while killed: %v", err)
		}
		audit, _ := e.store.Audit(t.Context(), AuditFilter{RunID: res.Run.ID})
		for _, a := range audit {
			if a.Result == "" {
				t.Errorf("probe stopped by the kill switch without a result: %+v", a)
			}
		}
		if err := e.scan.Resume(t.Context(), "carol"); err != nil {
			t.Fatal(err)
		}
		if k, _ := e.store.Kill(t.Context()); k.On {
			t.Error("still killed after resume")
		}
	})

	t.Run("another process", func(t *testing.T) {
		e := newEnv(t, []uint16{port}, slow)
		e.addDomain(t, member, "www.member.test")
		done := make(chan Result, 1)
		go func() {
			res, _ := e.scan.Run(t.Context(), member, "alice")
			done <- res
		}()
		waitFor(t, func() bool { return e.dials.Load() >= 2 })
		// As `scan kill` in another process does: only the store changes.
		if err := e.store.SetKill(t.Context(), KillState{On: true, By: "carol", At: time.Now()}); err != nil {
			t.Fatal(err)
		}
		select {
		case res := <-done:
			if res.Run.Status != StatusKilled {
				t.Errorf("status %q", res.Run.Status)
			}
		case <-time.After(3 * time.Second):
			t.Fatal("the scan did not notice the durable kill switch")
		}
	})

	t.Run("config", func(t *testing.T) {
		e := newEnv(t, []uint16{port}, func(o *Options) { o.Killed = true })
		e.addDomain(t, member, "www.member.test")
		if _, err := e.scan.Run(t.Context(), member, "alice"); !errors.Is(err, ErrKilled) {
			t.Errorf("err %v", err)
		}
		if e.dials.Load() != 0 || e.res.lookups != 0 {
			t.Error("a killed scanner looked up or dialled")
		}
	})
}

func TestRateLimit(t *testing.T) {
	ports := make([]uint16, 6)
	for i := range ports {
		ports[i] = freePort(t)
	}
	e := newEnv(t, ports, func(o *Options) { o.TargetRate = 20 })
	e.addDomain(t, member, "www.member.test")
	start := time.Now()
	if _, err := e.scan.Run(t.Context(), member, "alice"); err != nil {
		t.Fatal(err)
	}
	// Six connects to one address at 20 a second: the last waits 250ms.
	if d := time.Since(start); d < 240*time.Millisecond {
		t.Errorf("6 probes at 20/s took %s", d)
	}
	// The audit stamps are taken after each wait, when the goroutine runs
	// again: on a loaded machine two can land close together however far
	// apart their slots were, so only the total is a sound bound.
	audit, _ := e.store.Audit(t.Context(), AuditFilter{MemberID: member})
	if len(audit) < len(ports) {
		t.Errorf("%d probes audited, want at least %d", len(audit), len(ports))
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
