package forward_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/collectorapp/forward"
	"github.com/cyberalarm/cyberalarm/collectorapp/forward/forwardtest"
	"github.com/cyberalarm/cyberalarm/detect/update"
)

// applied records what an Updater applied.
type applied struct {
	mu   sync.Mutex
	log  []string
	fail error
}

func (a *applied) apply(kind string, version int64, payload []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail != nil {
		return a.fail
	}
	a.log = append(a.log, fmt.Sprintf("%s %d %s", kind, version, payload))
	return nil
}

func (a *applied) get() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.log)
}

func sign(t *testing.T, r *forwardtest.Receiver, kind string, version int64, payload string) update.Signed {
	t.Helper()
	s, err := r.Sign(kind, version, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newUpdater(t *testing.T, c *forward.Credentials, a *applied) (*forward.Updater, *logBuffer) {
	t.Helper()
	log, logs := newLogger()
	u, err := forward.NewUpdater(forward.UpdaterConfig{Credentials: c, Apply: a.apply, Logger: log, Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return u, logs
}

func TestUpdatesAppliedInOrderOfVersion(t *testing.T) {
	r := newReceiver(t, forwardtest.Options{})
	c, dir := enrol(t, r)
	var a applied
	u, logs := newUpdater(t, c, &a)

	// Nothing published: nothing to do.
	if err := u.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	r.SetUpdates(sign(t, r, update.KindRules, 1, "pack-1"), sign(t, r, update.KindRules, 2, "pack-2"),
		sign(t, r, update.KindIndicators, 7, "ioc-7"))
	if err := u.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, want := a.get(), []string{"rules 2 pack-2", "indicators 7 ioc-7"}; !slices.Equal(got, want) {
		t.Errorf("applied %q, want only the newest of each kind %q", got, want)
	}
	if u.Version(update.KindRules) != 2 || u.Version(update.KindIndicators) != 7 {
		t.Errorf("versions %d, %d", u.Version(update.KindRules), u.Version(update.KindIndicators))
	}

	// The same and older versions are not applied again.
	r.SetUpdates(sign(t, r, update.KindRules, 2, "pack-2"), sign(t, r, update.KindRules, 1, "pack-1"))
	if err := u.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := a.get(); len(got) != 2 {
		t.Errorf("applied again: %q", got)
	}
	if !strings.Contains(logs.String(), "not newer") {
		t.Errorf("older version not logged:\n%s", logs)
	}

	// A restart re-applies what was in force, without central.
	r.Down()
	var b applied
	u2, _ := newUpdater(t, c, &b)
	for range 2 { // the second is a no-op
		if err := u2.Restore(); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := b.get(), []string{"rules 2 pack-2", "indicators 7 ioc-7"}; !slices.Equal(got, want) {
		t.Errorf("restored %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "update-rules.json")); err != nil {
		t.Error(err)
	}
}

func TestUpdateWithBadSignatureRefused(t *testing.T) {
	r := newReceiver(t, forwardtest.Options{})
	c, dir := enrol(t, r)
	var a applied
	u, logs := newUpdater(t, c, &a)
	r.SetUpdates(sign(t, r, update.KindRules, 1, "good"))
	if err := u.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}

	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	forged, err := update.Sign(otherKey, update.KindRules, 5, []byte("evil"))
	if err != nil {
		t.Fatal(err)
	}
	tampered := sign(t, r, update.KindRules, 6, "fine")
	tampered.Envelope = []byte(strings.Replace(string(tampered.Envelope), `"version":6`, `"version":9`, 1))
	r.SetUpdates(forged, tampered)
	if err := u.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := a.get(); !slices.Equal(got, []string{"rules 1 good"}) {
		t.Errorf("applied %q", got)
	}
	if u.Version(update.KindRules) != 1 {
		t.Errorf("version %d in force, want 1", u.Version(update.KindRules))
	}
	if n := strings.Count(logs.String(), "updates: refused"); n != 2 {
		t.Errorf("%d refusals logged, want 2:\n%s", n, logs)
	}

	// A stored update that was tampered with on disk is refused too.
	path := filepath.Join(dir, "update-rules.json")
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), `"signature":"`, `"signature":"AAAA`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	var fresh applied
	u2, logs2 := newUpdater(t, c, &fresh)
	if err := u2.Restore(); err == nil || !errors.Is(err, update.ErrSignature) {
		t.Errorf("restore of a tampered file: %v", err)
	}
	if len(fresh.get()) != 0 || !strings.Contains(logs2.String(), "stored update refused") {
		t.Errorf("applied %q; log:\n%s", fresh.get(), logs2)
	}
}

func TestUpdateApplyFailureKeepsPrevious(t *testing.T) {
	r := newReceiver(t, forwardtest.Options{})
	c, _ := enrol(t, r)
	var a applied
	u, logs := newUpdater(t, c, &a)
	r.SetUpdates(sign(t, r, update.KindIndicators, 1, "one"))
	if err := u.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	a.fail = errors.New("does not compile")
	r.SetUpdates(sign(t, r, update.KindIndicators, 2, "two"))
	if err := u.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if u.Version(update.KindIndicators) != 1 || !strings.Contains(logs.String(), "does not compile") {
		t.Errorf("version %d; log:\n%s", u.Version(update.KindIndicators), logs)
	}
	// Offered again at the next poll, and applied once it works.
	a.fail = nil
	if err := u.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if u.Version(update.KindIndicators) != 2 {
		t.Errorf("version %d, want 2", u.Version(update.KindIndicators))
	}
}

func TestUpdaterRunPolls(t *testing.T) {
	r := newReceiver(t, forwardtest.Options{})
	c, _ := enrol(t, r)
	var a applied
	u, _ := newUpdater(t, c, &a)
	run(t, u)
	r.SetUpdates(sign(t, r, update.KindRules, 3, "three"))
	eventually(t, "update applied", func() bool { return u.Version(update.KindRules) == 3 })
	r.SetUpdates(sign(t, r, update.KindRules, 4, "four"))
	eventually(t, "update applied", func() bool { return u.Version(update.KindRules) == 4 })
	if got := a.get(); !slices.Equal(got, []string{"rules 3 three", "rules 4 four"}) {
		t.Errorf("applied %q", got)
	}
}

func TestNewUpdaterNeedsKey(t *testing.T) {
	r := newReceiver(t, forwardtest.Options{})
	c, _ := enrol(t, r)
	var a applied
	if _, err := forward.NewUpdater(forward.UpdaterConfig{Credentials: c, Apply: a.apply, PublicKey: []byte{1, 2}}); err == nil {
		t.Error("short key accepted")
	}
	if _, err := forward.NewUpdater(forward.UpdaterConfig{Credentials: c}); err == nil {
		t.Error("no apply function accepted")
	}
}
