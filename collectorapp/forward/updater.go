package forward

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cyberalarm/cyberalarm/detect/update"
)

// ApplyFunc puts a verified update in force. An error leaves the previous
// version in force; the update is offered again at the next poll.
type ApplyFunc func(kind string, version int64, payload []byte) error

// UpdaterConfig configures an Updater.
//
// The update-signing key is pinned: PublicKey comes from the collector's
// configuration or, failing that, from identity.json, where Enrol stores the
// key central handed out at enrolment. The second is trust on first use, like
// the CA; configuring the key explicitly means a compromise of central's TLS
// side cannot push rules, only one of the signing key can.
type UpdaterConfig struct {
	Credentials *Credentials // mTLS client and central's URL
	PublicKey   ed25519.PublicKey
	// Dir keeps the last applied envelope of each kind, so that a restart
	// re-applies it without central; empty means the credentials' dir.
	Dir      string
	Interval time.Duration // between polls; zero: 5m
	MaxSize  int64         // of an answer; zero: 64 MiB
	Apply    ApplyFunc
	Logger   *slog.Logger // nil: slog.Default()
}

// Updater polls central for signed rule packs and indicator lists and
// applies each new version once its signature has been verified.
type Updater struct {
	cfg      UpdaterConfig
	log      *slog.Logger
	versions map[string]*atomic.Int64 // fixed keys: the update kinds
}

var kinds = []string{update.KindRules, update.KindIndicators}

// NewUpdater returns an Updater.
func NewUpdater(cfg UpdaterConfig) (*Updater, error) {
	if cfg.Credentials == nil {
		return nil, errors.New("updater: no credentials")
	}
	if cfg.Apply == nil {
		return nil, errors.New("updater: no apply function")
	}
	if cfg.PublicKey == nil {
		cfg.PublicKey = cfg.Credentials.Identity().UpdateKey
	}
	if len(cfg.PublicKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("updater: update-signing public key has %d bytes, want %d", len(cfg.PublicKey), ed25519.PublicKeySize)
	}
	if cfg.Dir == "" {
		cfg.Dir = cfg.Credentials.dir
	}
	cfg.Interval = orDefault(cfg.Interval, 5*time.Minute)
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = 64 << 20
	}
	u := &Updater{cfg: cfg, log: cfg.Logger, versions: make(map[string]*atomic.Int64, len(kinds))}
	if u.log == nil {
		u.log = slog.Default()
	}
	for _, k := range kinds {
		u.versions[k] = new(atomic.Int64)
	}
	return u, nil
}

// Version returns the version of kind in force, 0 for none.
func (u *Updater) Version(kind string) int64 {
	if v, ok := u.versions[kind]; ok {
		return v.Load()
	}
	return 0
}

func (u *Updater) stateFile(kind string) string {
	return filepath.Join(u.cfg.Dir, "update-"+kind+".json")
}

// Restore re-applies the last applied version of each kind from disk, unless
// it is already in force, so the daemon may call it before starting its
// pipeline and again through Run. A stored update that no longer verifies is
// logged and left out.
func (u *Updater) Restore() error {
	var errs []error
	for _, kind := range kinds {
		b, err := os.ReadFile(u.stateFile(kind))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var s update.Signed
		if err := json.Unmarshal(b, &s); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u.stateFile(kind), err))
			continue
		}
		env, err := update.Verify(u.cfg.PublicKey, s)
		if err == nil && env.Kind != kind {
			err = fmt.Errorf("holds kind %q", env.Kind)
		}
		if err != nil {
			u.log.Error("updates: stored update refused", "file", u.stateFile(kind), "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", u.stateFile(kind), err))
			continue
		}
		if env.Version <= u.Version(kind) {
			continue // already in force: Restore ran before
		}
		if err := u.cfg.Apply(env.Kind, env.Version, env.Payload); err != nil {
			errs = append(errs, fmt.Errorf("apply stored %s version %d: %w", kind, env.Version, err))
			continue
		}
		u.versions[kind].Store(env.Version)
		u.log.Info("updates: restored", "kind", kind, "version", env.Version)
	}
	return errors.Join(errs...)
}

// Run restores the stored updates, then polls central every interval until
// ctx is done. Failures are logged; the versions in force stay in force.
func (u *Updater) Run(ctx context.Context) error {
	if err := u.Restore(); err != nil {
		u.log.Error("updates: restoring", "err", err)
	}
	client, tr := u.cfg.Credentials.newClient(time.Minute)
	defer tr.CloseIdleConnections()
	t := time.NewTicker(u.cfg.Interval)
	defer t.Stop()
	for {
		if err := u.poll(ctx, client); err != nil && ctx.Err() == nil {
			u.log.Warn("updates: poll failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Poll fetches the manifest once and applies what is new in it. It returns
// an error when central could not be asked; refused updates are logged.
func (u *Updater) Poll(ctx context.Context) error {
	client, tr := u.cfg.Credentials.newClient(time.Minute)
	defer tr.CloseIdleConnections()
	return u.poll(ctx, client)
}

func (u *Updater) poll(ctx context.Context, client *http.Client) error {
	q := url.Values{}
	for _, k := range kinds {
		q.Set(k, strconv.FormatInt(u.Version(k), 10))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.cfg.Credentials.Central()+UpdatesPath+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNoContent, http.StatusNotModified:
		return nil
	default:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxExcerpt))
		return fmt.Errorf("%s: %s", resp.Status, excerpt(b))
	}
	var m update.Manifest
	dec := json.NewDecoder(io.LimitReader(resp.Body, u.cfg.MaxSize))
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("decode manifest: %w", err)
	}
	// Of each kind, apply only the newest that verifies.
	best := make(map[string]update.Envelope)
	bestSigned := make(map[string]update.Signed)
	for _, s := range m.Items {
		env, err := update.Verify(u.cfg.PublicKey, s)
		if err != nil {
			u.log.Error("updates: refused", "err", err)
			continue
		}
		if cur := u.Version(env.Kind); env.Version <= cur {
			u.log.Debug("updates: not newer", "kind", env.Kind, "version", env.Version, "current", cur)
			continue
		}
		if b, ok := best[env.Kind]; !ok || env.Version > b.Version {
			best[env.Kind], bestSigned[env.Kind] = env, s
		}
	}
	for _, kind := range kinds {
		env, ok := best[kind]
		if !ok {
			continue
		}
		if err := u.cfg.Apply(env.Kind, env.Version, env.Payload); err != nil {
			u.log.Error("updates: apply failed; previous version stays in force",
				"kind", kind, "version", env.Version, "current", u.Version(kind), "err", err)
			continue
		}
		u.versions[kind].Store(env.Version)
		u.log.Info("updates: applied", "kind", kind, "version", env.Version)
		b, err := json.Marshal(bestSigned[kind])
		if err == nil {
			err = writeFileAtomic(u.stateFile(kind), b, 0o644)
		}
		if err != nil {
			// In force now; after a restart the previous one returns
			// until the next poll.
			u.log.Error("updates: storing applied update", "kind", kind, "err", err)
		}
	}
	return nil
}
