package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/cyberalarm/cyberalarm/centralapp/pki"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// maxEnrolBody bounds an enrolment or renewal request: a CSR is a few KiB.
const maxEnrolBody = 64 << 10

// enrolRequest is the body of POST /api/v1/enrol, and of /renew without a
// token.
type enrolRequest struct {
	Token string `json:"token,omitempty"`
	CSR   string `json:"csr"` // PEM
}

// enrolResponse answers an enrolment or a renewal.
type enrolResponse struct {
	Certificate string `json:"certificate"` // PEM chain, leaf first
	CA          string `json:"ca"`          // PEM
	CollectorID string `json:"collector_id"`
	MemberID    string `json:"member_id"`
	UpdateKey   []byte `json:"update_key,omitempty"` // ed25519 public key, base64 in JSON
}

// enrol exchanges a one-time token for a client certificate. The token is
// looked up first so that the certificate names the token's member; then
// using the token and adding the collector is one transaction, so of two
// requests with one token only one gets a certificate. The token is never
// logged.
func (s *Server) enrol(w http.ResponseWriter, r *http.Request) {
	var in enrolRequest
	if err := decodeStrict(http.MaxBytesReader(w, r.Body, maxEnrolBody), &in); err != nil {
		writeError(w, bodyStatus(err), "enrolment request: "+err.Error())
		return
	}
	if in.Token == "" || in.CSR == "" {
		writeError(w, http.StatusBadRequest, "enrolment request: token and csr are required")
		return
	}
	hash := store.HashToken(in.Token)
	now := s.now().UTC()
	t, err := s.store.EnrolToken(r.Context(), hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.metrics.enrolments.WithLabelValues("bad_token").Inc()
		s.log.Warn("enrolment refused: unknown token", "remote", r.RemoteAddr)
		writeError(w, http.StatusForbidden, "invalid enrolment token")
		return
	case err != nil:
		s.storeFailed(w, r, "enrolment token", err)
		return
	}
	if msg, ok := tokenUnusable(t, now); !ok {
		s.metrics.enrolments.WithLabelValues("bad_token").Inc()
		s.log.Warn("enrolment refused: "+msg, "member", t.MemberID, "remote", r.RemoteAddr)
		writeError(w, http.StatusForbidden, msg)
		return
	}
	id := ulid.MustNew(ulid.Timestamp(now), ulid.DefaultEntropy()).String()
	chain, serial, notAfter, err := s.ca.SignCSR([]byte(in.CSR), id, t.MemberID, s.lifetime)
	if err != nil {
		s.csrFailed(w, err, "member", t.MemberID)
		return
	}
	err = s.store.UseEnrolToken(r.Context(), hash, now, store.Collector{
		ID: id, MemberID: t.MemberID, CertSerial: serial, CertNotAfter: notAfter.UTC(), Created: now,
	})
	switch {
	case errors.Is(err, store.ErrTokenUsed), errors.Is(err, store.ErrTokenExpired), errors.Is(err, store.ErrNotFound):
		// Lost a race with another request carrying the same token.
		s.metrics.enrolments.WithLabelValues("bad_token").Inc()
		s.log.Warn("enrolment refused: token used meanwhile", "member", t.MemberID, "remote", r.RemoteAddr)
		writeError(w, http.StatusForbidden, "enrolment token already used")
		return
	case err != nil:
		s.storeFailed(w, r, "add collector", err, "member", t.MemberID)
		return
	}
	s.metrics.enrolments.WithLabelValues("ok").Inc()
	s.log.Info("collector enrolled", "collector", id, "member", t.MemberID, "serial", serial, "not_after", notAfter)
	s.writeCertificate(w, chain, id, t.MemberID)
}

// tokenUnusable says why t cannot be used at now.
func tokenUnusable(t store.EnrolToken, now time.Time) (string, bool) {
	switch {
	case !t.Used.IsZero():
		return "enrolment token already used", false
	case !now.Before(t.Expires):
		return "enrolment token expired", false
	}
	return "", true
}

// renew issues a new certificate, for a new key, to the collector the
// request's certificate names.
func (s *Server) renew(w http.ResponseWriter, r *http.Request, id identity) {
	var in enrolRequest
	if err := decodeStrict(http.MaxBytesReader(w, r.Body, maxEnrolBody), &in); err != nil {
		writeError(w, bodyStatus(err), "renewal request: "+err.Error())
		return
	}
	if in.Token != "" || in.CSR == "" {
		writeError(w, http.StatusBadRequest, "renewal request: want a csr and no token")
		return
	}
	chain, serial, notAfter, err := s.ca.SignCSR([]byte(in.CSR), id.collector, id.member, s.lifetime)
	if err != nil {
		s.csrFailed(w, err, "collector", id.collector, "member", id.member)
		return
	}
	err = s.store.RenewCollector(r.Context(), id.collector, serial, notAfter.UTC())
	switch {
	case errors.Is(err, store.ErrRevoked), errors.Is(err, store.ErrNotFound):
		s.log.Info("renewal refused", "collector", id.collector, "member", id.member, "err", err)
		writeError(w, http.StatusForbidden, "collector revoked")
		return
	case err != nil:
		s.storeFailed(w, r, "renew collector", err, "collector", id.collector)
		return
	}
	s.metrics.renewals.Inc()
	s.log.Info("collector certificate renewed", "collector", id.collector, "member", id.member,
		"serial", serial, "not_after", notAfter)
	s.writeCertificate(w, chain, id.collector, id.member)
}

func (s *Server) csrFailed(w http.ResponseWriter, err error, attrs ...any) {
	if errors.Is(err, pki.ErrBadCSR) {
		s.metrics.enrolments.WithLabelValues("bad_csr").Inc()
		s.log.Info("certificate request refused", append(attrs, "err", err)...)
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.log.Error("issuing a certificate failed", append(attrs, "err", err)...)
	writeError(w, http.StatusInternalServerError, "could not issue a certificate")
}

func (s *Server) writeCertificate(w http.ResponseWriter, chain []byte, collectorID, memberID string) {
	writeJSON(w, http.StatusOK, enrolResponse{
		Certificate: string(chain),
		CA:          string(s.ca.CAPEM()),
		CollectorID: collectorID,
		MemberID:    memberID,
		UpdateKey:   s.ca.UpdatePublicKey(),
	})
}
