// Package service wires central together: the store, the CA, accounts,
// the cross-member aggregator and the HTTP server, with the loops that run
// beside them (aggregation flushes, indicator publishing, revocation sync,
// retention). The command line and the demo use it.
package service

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/aggregate"
	"github.com/cyberalarm/cyberalarm/centralapp/auth"
	"github.com/cyberalarm/cyberalarm/centralapp/config"
	"github.com/cyberalarm/cyberalarm/centralapp/pki"
	"github.com/cyberalarm/cyberalarm/centralapp/queue"
	"github.com/cyberalarm/cyberalarm/centralapp/scan"
	"github.com/cyberalarm/cyberalarm/centralapp/server"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/postgres"
	"github.com/cyberalarm/cyberalarm/centralapp/web"
	"github.com/cyberalarm/cyberalarm/detect/update"
)

// Service is one central node.
type Service struct {
	cfg   *config.Config
	log   *slog.Logger
	Store store.Store
	CA    *pki.CA
	Auth  *auth.Authenticator
	Agg   *aggregate.Aggregator
	// Scans is the scan store the dashboard's findings page reads (the
	// scanner's, on a node that scans); nil when scanning is not in use or
	// the dashboard is off.
	Scans scan.Store
	srv   *server.Server

	// q carries verified batches to the store; js is q on a JetStream
	// cluster (nil with the in-process queue), pg the store when it is
	// PostgreSQL under the in-process queue (nodes sharing the database),
	// and lease elects the node that runs the shared work, which keeps
	// its state in shared (nil on one SQLite node).
	q      queue.Queue
	js     *queue.JetStream
	pg     *postgres.Store
	lease  queue.Lease
	shared sharedState
	// scanner runs the members' scan schedules under the lease (nil
	// unless scan.enabled, and on ingest nodes).
	scanner *scan.Service
	metrics *metrics

	leading        atomic.Bool
	emptyAggregate []byte        // an empty aggregator's state, to start afresh as leader
	leaseTTL       time.Duration // how soon another node takes over shared work; tests shorten it

	mu             sync.Mutex // serialises Flush; with js, the aggregation feed too
	lastIndicators []byte
	fed            fedPosition // how far the aggregator was fed from the store or stream

	// On one SQLite node the aggregator is fed as each batch is stored:
	// storing and feeding a batch holds ingestMu's read side, taking a
	// snapshot its write side, so a snapshot covers every batch stored
	// before it and none after, whose ids are higher. observed is the
	// highest ids fed; saved is what the last save wrote.
	ingestMu sync.RWMutex
	observed observedPosition
	saved    savedState
}

// Open opens central's state under cfg.DataDir, creating it on first use.
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Service, error) {
	return openWith(ctx, cfg, log, leaseTTL)
}

// openWith is Open with the lease's ttl.
func openWith(ctx context.Context, cfg *config.Config, log *slog.Logger, ttl time.Duration) (_ *Service, err error) {
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	s := &Service{cfg: cfg, log: log, leaseTTL: ttl}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.Store, err = openStore(ctx, cfg, log); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if s.CA, err = pki.Open(filepath.Join(cfg.DataDir, "ca"), pki.Options{}); err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	key, err := sessionKey(filepath.Join(cfg.DataDir, "session.key"))
	if err != nil {
		return nil, err
	}
	if s.Auth, err = auth.New(server.Accounts{Store: s.Store}, auth.Options{SessionKey: key, Logger: log}); err != nil {
		return nil, err
	}
	if s.Agg, err = aggregate.New(aggregate.Config{
		MinMembers: cfg.Aggregate.CampaignMembers, Window: cfg.Aggregate.CampaignWindow, CampaignTTL: cfg.Aggregate.CampaignTTL,
	}); err != nil {
		return nil, err
	}
	if s.emptyAggregate, err = s.Agg.MarshalBinary(); err != nil {
		return nil, err
	}
	if err := s.openQueue(ctx); err != nil {
		return nil, err
	}
	if cfg.Scan.Enabled && cfg.Role != RoleIngest {
		if s.scanner, err = scan.Open(ctx, cfg.Scan, log.With("part", "scan")); err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
	}
	// On a cluster the leader of the shared work loads the state.
	if s.shared == nil {
		if err := s.restoreAggregate(ctx); err != nil {
			return nil, err
		}
	}
	if err := s.syncRevocations(ctx); err != nil {
		return nil, err
	}
	tlsConf, err := s.CA.ServerTLS(cfg.Hosts)
	if err != nil {
		return nil, err
	}
	var dashboard http.Handler
	if cfg.Web.Enabled {
		wc := web.Config{
			Store: s.Store, Auth: s.Auth, Admin: s, Key: key, CAFingerprint: s.CA.CAFingerprint(),
			EnrolTokenTTL: cfg.Web.EnrolTokenTTL, Logger: log,
		}
		if s.Scans, err = openScans(ctx, cfg.Scan, s.scanner); err != nil {
			return nil, err
		}
		if s.Scans != nil {
			wc.Scans = s.Scans
		}
		if dashboard, err = web.New(wc); err != nil {
			return nil, err
		}
	}
	s.srv, err = server.New(server.Config{
		Store: s.Store, CA: s.CA, TLS: tlsConf, Auth: s.Auth, CertLifetime: cfg.Ingest.CertLifetime,
		Limits: server.Limits{
			MaxBody: cfg.Ingest.MaxBodyMiB << 20, MaxDecoded: cfg.Ingest.MaxDecodedMiB << 20,
			MaxFuture: cfg.Ingest.MaxFuture, MaxAge: cfg.Ingest.MaxAge, Rate: cfg.Ingest.Rate, Burst: cfg.Ingest.Burst,
		},
		Ingest: s.q.Publish, Web: dashboard, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	if err := s.newMetrics(s.srv.Registry()); err != nil {
		return nil, err
	}
	return s, nil
}

// sessionKey reads the key that signs session cookies, making it once.
func sessionKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err == nil && len(key) >= 32 {
		return key, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key = make([]byte, 32)
	rand.Read(key)
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

// observe feeds a stored batch to the aggregator.
func (s *Service) observe(b store.Batch) {
	obs := appendDetections(nil, b.MemberID, b.Detections)
	for i := range b.Summaries {
		obs = append(obs, aggregate.SummaryObservation(b.MemberID, &b.Summaries[i]))
	}
	if err := s.Agg.Add(obs); err != nil {
		s.log.Warn("aggregation refused a batch", "batch", b.ID, "err", err)
	}
}

// observeRows feeds detections and summaries read back from the store to
// the aggregator.
func (s *Service) observeRows(ds []store.Detection, ss []store.Summary) {
	obs := appendDetections(nil, "", ds)
	for i := range ss {
		obs = append(obs, aggregate.SummaryObservation(ss[i].MemberID, &ss[i].FlowSummary))
	}
	if err := s.Agg.Add(obs); err != nil {
		s.log.Warn("aggregation refused stored rows", "detections", len(ds), "summaries", len(ss), "err", err)
	}
}

// appendDetections appends the observations of ds; member is theirs, or
// "" when each names its own.
func appendDetections(obs []aggregate.Observation, member string, ds []store.Detection) []aggregate.Observation {
	for i := range ds {
		d := &ds[i]
		o := aggregate.Observation{Member: cmp.Or(member, d.MemberID), Techniques: d.Techniques, RuleID: d.RuleID,
			Port: d.DestinationPort, Count: d.Count, First: d.FirstSeen, Last: d.LastSeen, Kind: aggregate.KindDetection}
		obs = aggregate.AppendSources(obs, o, d.Source, d.Related)
	}
	return obs
}

// Flush stores the campaigns that formed or changed, and publishes the
// indicator list when it changed.
func (s *Service) Flush(ctx context.Context, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Agg.Advance(now)
	if err := s.putCampaigns(ctx, s.Agg.Changes(), now); err != nil {
		return err
	}
	ind := s.Agg.Indicators(now)
	if !bytes.Equal(indicatorEntries(ind), indicatorEntries(s.lastIndicators)) {
		if _, err := s.srv.Publish(ctx, update.KindIndicators, ind); err != nil {
			return err
		}
		s.lastIndicators = ind
	}
	return nil
}

// indicatorEntries drops the comment lines, which carry the time.
func indicatorEntries(b []byte) []byte {
	var out []byte
	for line := range bytes.Lines(b) {
		if !bytes.HasPrefix(line, []byte("#")) {
			out = append(out, line...)
		}
	}
	return out
}

// Publish signs payload and stores it as the next version of kind, for
// collectors to fetch.
func (s *Service) Publish(ctx context.Context, kind string, payload []byte) (int64, error) {
	return s.srv.Publish(ctx, kind, payload)
}

// Export writes detections as `export detections` does.
func (s *Service) Export(ctx context.Context, w io.Writer, q server.ExportQuery) error {
	return server.Export(ctx, s.Store, w, q)
}

// AddMember adds a member and returns a one-time enrolment token for its
// first collector, valid for ttl.
func (s *Service) AddMember(ctx context.Context, m store.Member, ttl time.Duration) (token string, err error) {
	if m.Created.IsZero() {
		m.Created = time.Now().UTC()
	}
	if err := s.Store.AddMember(ctx, m); err != nil && !errors.Is(err, store.ErrExists) {
		return "", err
	}
	return s.NewEnrolToken(ctx, m.ID, ttl)
}

// NewEnrolToken returns a one-time enrolment token for a collector of
// member, valid for ttl.
func (s *Service) NewEnrolToken(ctx context.Context, member string, ttl time.Duration) (string, error) {
	token, hash := pki.NewToken()
	now := time.Now().UTC()
	t := store.EnrolToken{MemberID: member, Created: now, Expires: now.Add(ttl)}
	copy(t.Hash[:], hash)
	if err := s.Store.AddEnrolToken(ctx, t); err != nil {
		return "", err
	}
	return token, nil
}

// RevokeCollector revokes a collector: the store refuses its batches at
// once, and the TLS layer its handshakes.
func (s *Service) RevokeCollector(ctx context.Context, id string) error {
	if err := s.Store.RevokeCollector(ctx, id, time.Now().UTC()); err != nil {
		return err
	}
	c, err := s.Store.Collector(ctx, id)
	if err != nil {
		return err
	}
	if c.CertSerial == "" {
		return nil
	}
	return s.CA.Revoke(c.CertSerial)
}

// syncRevocations loads the revoked certificates into the CA's set, so the
// TLS layer refuses them at the handshake.
func (s *Service) syncRevocations(ctx context.Context) error {
	cs, err := s.Store.Collectors(ctx, "")
	if err != nil {
		return err
	}
	var revoked []string
	for _, c := range cs {
		if !c.Revoked.IsZero() && c.CertSerial != "" {
			revoked = append(revoked, c.CertSerial)
		}
	}
	return s.CA.Revocations().Replace(revoked)
}

// Serve serves ln until ctx ends, running the aggregation flush, the
// revocation sync and retention beside it.
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	loopCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	every := func(d time.Duration, fn func(context.Context) error, what string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(d)
			defer t.Stop()
			for {
				select {
				case <-loopCtx.Done():
					return
				case <-t.C:
					if err := fn(loopCtx); err != nil && loopCtx.Err() == nil {
						s.log.Error(what, "err", err)
					}
				}
			}
		}()
	}
	wg.Go(func() { s.work(loopCtx) })
	every(10*time.Second, s.syncRevocations, "revocation sync")
	err := s.serve(ctx, ln)
	// The shared work ends with a last flush, after the server answered
	// its last batch.
	cancel()
	wg.Wait()
	return err
}

// putCampaigns stores campaigns in the store's form.
func (s *Service) putCampaigns(ctx context.Context, cs []aggregate.Campaign, now time.Time) error {
	if len(cs) == 0 {
		return nil
	}
	out := make([]store.Campaign, len(cs))
	for i := range cs {
		c := &cs[i]
		out[i] = store.Campaign{ID: c.ID, Source: c.Source, Members: c.MemberIDs(), Techniques: c.Techniques,
			Ports: c.Ports, Count: c.Count, FirstSeen: c.FirstSeen, LastSeen: c.LastSeen, Updated: now.UTC(), Replaces: c.Replaces}
	}
	if err := s.Store.PutCampaigns(ctx, out); err != nil {
		return fmt.Errorf("campaigns: %w", err)
	}
	return nil
}

// Close saves the aggregation state and releases the store.
func (s *Service) Close() {
	if s.q != nil {
		s.q.Close()
	}
	if s.srv != nil {
		// On a cluster the leader saved the state in the shared store.
		if s.shared == nil {
			if err := s.saveAggregate(); err != nil {
				s.log.Error("saving aggregation state", "err", err)
			}
		}
		s.srv.Close()
	}
	if s.Store != nil {
		s.Store.Close()
	}
	if s.Scans != nil && s.scanner == nil {
		s.Scans.Close()
	}
	if s.scanner != nil {
		s.scanner.Close()
	}
}
