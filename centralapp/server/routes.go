package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cyberalarm/cyberalarm/centralapp/auth"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// API paths (DESIGN.md §3.4 for the collector's).
const (
	EnrolPath      = "/api/v1/enrol"
	RenewPath      = "/api/v1/renew"
	BatchesPath    = "/api/v1/batches"
	UpdatesPath    = "/api/v1/updates"
	LoginPath      = "/api/v1/login"
	LogoutPath     = "/api/v1/logout"
	DetectionsPath = "/api/v1/detections"
	MembersPath    = "/api/v1/members"
	HealthPath     = "/api/v1/health"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+EnrolPath, s.enrol)
	mux.Handle("POST "+RenewPath, s.collector(s.renew))
	mux.Handle("POST "+BatchesPath, s.collector(s.batches))
	mux.Handle("GET "+UpdatesPath, s.collector(s.updates))

	mux.Handle("POST "+LoginPath, s.auth.Login())
	mux.Handle("POST "+LogoutPath, s.auth.Logout())
	mux.Handle("GET "+DetectionsPath, s.auth.Middleware(http.HandlerFunc(s.detections)))
	mux.Handle("GET "+MembersPath, s.auth.Middleware(auth.Require(auth.RoleAdmin, auth.RoleAnalyst)(http.HandlerFunc(s.members))))
	mux.Handle("GET "+HealthPath, s.auth.Middleware(http.HandlerFunc(s.health)))

	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	if s.web != nil {
		mux.Handle("/", s.web)
	}
	return mux
}

// Ops serves /healthz and /metrics alone, for the operators' port
// (ops_listen): the only one of a worker, which serves no API.
func (s *Server) Ops() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	return mux
}

// Registry is the registry /metrics serves, for the node's own metrics.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// identity is the collector a request comes from.
type identity struct {
	collector, member string
}

// collector admits requests that present a valid, unrevoked client
// certificate of a collector the store knows, not revoked and of the
// certificate's member; it answers 401 without a certificate and 403
// otherwise.
func (s *Server) collector(next func(http.ResponseWriter, *http.Request, identity)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			writeError(w, http.StatusUnauthorized, "client certificate required")
			return
		}
		collectorID, memberID, err := s.ca.VerifyPeer(r.TLS.PeerCertificates[0])
		if err != nil {
			s.log.Info("client certificate refused", "err", err, "remote", r.RemoteAddr)
			writeError(w, http.StatusForbidden, "client certificate refused")
			return
		}
		c, err := s.store.Collector(r.Context(), collectorID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			s.log.Warn("unknown collector", "collector", collectorID, "member", memberID)
			writeError(w, http.StatusForbidden, "unknown collector")
			return
		case err != nil:
			s.storeFailed(w, r, "look up collector", err, "collector", collectorID)
			return
		case !c.Revoked.IsZero():
			s.log.Info("revoked collector refused", "collector", collectorID, "member", memberID)
			writeError(w, http.StatusForbidden, "collector revoked")
			return
		case c.MemberID != memberID:
			s.log.Warn("certificate member does not match the collector's", "collector", collectorID,
				"member", memberID, "stored_member", c.MemberID)
			writeError(w, http.StatusForbidden, "client certificate refused")
			return
		}
		next(w, r, identity{collector: collectorID, member: memberID})
	})
}

// storeFailed answers 503 for a store error (the caller retries), unless
// the client went away, and logs it.
func (s *Server) storeFailed(w http.ResponseWriter, r *http.Request, what string, err error, attrs ...any) {
	if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		return
	}
	s.log.Error("store: "+what, append(attrs, "err", err)...)
	writeError(w, http.StatusServiceUnavailable, "storage unavailable; retry")
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if _, err := s.store.Members(r.Context()); err != nil {
		s.log.Error("healthz: store", "err", err)
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers {"error": msg}; collectors quote it when they
// quarantine a batch.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
