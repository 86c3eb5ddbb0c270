package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/detect/update"
)

// updateKinds are the kinds of update, in the order a manifest lists them.
var updateKinds = [...]string{update.KindRules, update.KindIndicators}

// updates serves GET /api/v1/updates?rules=N&indicators=M: a manifest of
// the newest release of each kind above the version the collector runs
// (a missing parameter counts as 0), or 204 when there is nothing newer.
func (s *Server) updates(w http.ResponseWriter, r *http.Request, id identity) {
	q := r.URL.Query()
	var m update.Manifest
	for _, kind := range updateKinds {
		have := int64(0)
		if v := q.Get(kind); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("%s=%q: want a version number", kind, v))
				return
			}
			have = n
		}
		rel, err := s.store.LatestRelease(r.Context(), kind)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			s.storeFailed(w, r, "latest release", err, "kind", kind, "collector", id.collector)
			return
		}
		if rel.Version <= have {
			continue
		}
		var signed update.Signed
		if err := json.Unmarshal(rel.Payload, &signed); err != nil {
			s.log.Error("stored release is not a signed update", "kind", kind, "version", rel.Version, "err", err)
			writeError(w, http.StatusInternalServerError, "stored release is damaged")
			return
		}
		m.Items = append(m.Items, signed)
	}
	if len(m.Items) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// Publish releases payload as the next version of kind (update.KindRules or
// update.KindIndicators): it signs it with the update key and stores it,
// and collectors fetch it on their next poll. It returns the version.
// Publishing from two places at once may fail with store.ErrExists; the
// caller tries again.
func (s *Server) Publish(ctx context.Context, kind string, payload []byte) (int64, error) {
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	version := int64(1)
	latest, err := s.store.LatestRelease(ctx, kind)
	switch {
	case err == nil:
		version = latest.Version + 1
	case !errors.Is(err, store.ErrNotFound):
		return 0, fmt.Errorf("server: publish %s: %w", kind, err)
	}
	signed, err := s.ca.SignUpdate(kind, version, payload)
	if err != nil {
		return 0, fmt.Errorf("server: publish %s: %w", kind, err)
	}
	b, err := json.Marshal(signed)
	if err != nil {
		return 0, fmt.Errorf("server: publish %s: %w", kind, err)
	}
	if err := s.store.PutRelease(ctx, store.Release{Kind: kind, Version: version, Payload: b, Created: s.now().UTC()}); err != nil {
		return 0, fmt.Errorf("server: publish %s version %d: %w", kind, version, err)
	}
	s.log.Info("update published", "kind", kind, "version", version, "bytes", len(payload))
	return version, nil
}
