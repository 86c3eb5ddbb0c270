// Package server is central's HTTP API: the collector-facing endpoints of
// DESIGN.md §3.4 (enrolment, renewal, batch ingest, signed updates), over
// TLS 1.3 with client certificates, and the analyst and member API behind
// account authentication (login, detections export, members, health), with
// /healthz and /metrics.
//
// A collector is identified by its client certificate alone: subject CN is
// its collector id and the one OU its member id. The certificate is checked
// on every request, not only at the handshake (sessions resume and HTTP/2
// connections outlive revocations), and the collector is looked up in the
// store, so a revocation made by another process takes effect at once.
package server

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/semaphore"

	"github.com/cyberalarm/cyberalarm/centralapp/pki"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/detect/update"
)

// CA is what the server needs of central's certificate authority.
// *pki.CA implements it.
type CA interface {
	// SignCSR issues a client certificate naming collectorID (CN) and
	// memberID (OU); errors matching pki.ErrBadCSR are the request's fault.
	SignCSR(csrPEM []byte, collectorID, memberID string, lifetime time.Duration) (chainPEM []byte, serial string, notAfter time.Time, err error)
	// CAPEM is the CA certificate collectors pin.
	CAPEM() []byte
	// VerifyPeer checks a client certificate's chain, validity and
	// revocation now, and returns the identity it carries.
	VerifyPeer(cert *x509.Certificate) (collectorID, memberID string, err error)
	// UpdatePublicKey is handed to collectors at enrolment.
	UpdatePublicKey() ed25519.PublicKey
	// SignUpdate signs a release of a rule pack or indicator list.
	SignUpdate(kind string, version int64, payload []byte) (update.Signed, error)
}

var _ CA = (*pki.CA)(nil)

// Authenticator authenticates the analyst and member API. Middleware puts
// an auth.Principal in the request context. *auth.Authenticator implements
// it.
type Authenticator interface {
	Middleware(next http.Handler) http.Handler
	Login() http.Handler
	Logout() http.Handler
}

// Limits bound what a collector may send. Zero fields take the defaults.
type Limits struct {
	// MaxBody bounds a compressed batch, MaxDecoded the batch after
	// decompression.
	MaxBody    int64 // default 8 MiB
	MaxDecoded int64 // default 64 MiB
	// MaxDetections, MaxSummaries and MaxDevices bound the records of one
	// batch.
	MaxDetections int // default 100 000
	MaxSummaries  int // default 100 000
	MaxDevices    int // default 10 000
	// MaxFuture and MaxAge bound a batch's created time against central's
	// clock.
	MaxFuture time.Duration // default 10 min
	MaxAge    time.Duration // default 30 days
	// Rate is the sustained number of batch requests a collector may make
	// per second, and Burst how many it may make at once.
	Rate  float64 // default 20
	Burst int     // default 100
	// Ingests bounds the batches read and decoded at once; the rest
	// wait. It bounds their buffers to about Ingests × MaxDecoded; between
	// batches each slot keeps at most 5 MiB.
	Ingests int // default 2 × GOMAXPROCS
	// Pending bounds the decoded batches waiting for or in the store, by
	// their decompressed size in bytes (a batch larger than Pending
	// counts as Pending).
	Pending int64 // default 256 MiB, and at least MaxDecoded
}

func (l Limits) withDefaults() Limits {
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxBody, 8<<20)
	def(&l.MaxDecoded, 64<<20)
	defInt(&l.MaxDetections, 100_000)
	defInt(&l.MaxSummaries, 100_000)
	defInt(&l.MaxDevices, 10_000)
	defInt(&l.Burst, 100)
	defInt(&l.Ingests, 2*runtime.GOMAXPROCS(0))
	def(&l.Pending, max(256<<20, l.MaxDecoded))
	if l.MaxFuture <= 0 {
		l.MaxFuture = 10 * time.Minute
	}
	if l.MaxAge <= 0 {
		l.MaxAge = 30 * 24 * time.Hour
	}
	if l.Rate <= 0 {
		l.Rate = 20
	}
	return l
}

// Config configures a Server. Store, CA, TLS and Auth are required.
type Config struct {
	Store store.Store
	CA    CA
	// TLS is the listener's configuration, normally pki's ServerTLS. Serve
	// raises its minimum version to TLS 1.3 whatever it says.
	TLS  *tls.Config
	Auth Authenticator
	// CertLifetime is the validity of issued client certificates; zero:
	// the CA's default.
	CertLifetime time.Duration
	Limits       Limits
	// OnIngest, when set, receives every batch newly stored (never a
	// duplicate), on the request's goroutine after the commit: it must
	// not block for long. The cross-member aggregator is wired here.
	OnIngest func(store.Batch)
	// Ingest, when set, takes each verified batch instead of
	// Store.IngestBatch: central's queue (centralapp/queue), which answers
	// once the batch is durable. It returns the store's errors, or any
	// other for a retry.
	Ingest func(context.Context, *store.Batch) (duplicate bool, err error)
	// Web, when set, serves every path the API does not: the dashboard.
	Web http.Handler
	// Registry receives the server's metrics and is what /metrics serves;
	// nil: a new registry with the Go and process collectors.
	Registry *prometheus.Registry
	// Logger: nil means slog.Default().
	Logger *slog.Logger
	// ShutdownTimeout bounds how long Serve waits for requests in flight
	// when its context ends; zero: 30s.
	ShutdownTimeout time.Duration
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Server is central's HTTP API.
type Server struct {
	store    store.Store
	ca       CA
	tls      *tls.Config
	auth     Authenticator
	lifetime time.Duration
	limits   Limits
	onIngest func(store.Batch)
	ingest   func(context.Context, *store.Batch) (bool, error)
	web      http.Handler
	registry *prometheus.Registry
	metrics  *metrics
	log      *slog.Logger
	shutdown time.Duration
	now      func() time.Time

	dec     *zstd.Decoder
	rate    *rateLimiter
	ingests chan *scratch       // Limits.Ingests slots: take one to ingest, give it back
	pending *semaphore.Weighted // Limits.Pending bytes of decoded batches
	handler http.Handler

	publishMu sync.Mutex // one Publish at a time, so versions rise by one
	inflight  *gate      // requests running in Handler
	closeDec  sync.Once
}

// New returns a Server. Close releases it.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("server: no store")
	case cfg.CA == nil:
		return nil, errors.New("server: no CA")
	case cfg.TLS == nil:
		return nil, errors.New("server: no TLS configuration")
	case cfg.Auth == nil:
		return nil, errors.New("server: no authenticator")
	case cfg.CertLifetime < 0:
		return nil, fmt.Errorf("server: negative certificate lifetime %v", cfg.CertLifetime)
	}
	s := &Server{
		store:    cfg.Store,
		ca:       cfg.CA,
		tls:      cfg.TLS.Clone(),
		auth:     cfg.Auth,
		lifetime: cfg.CertLifetime,
		limits:   cfg.Limits.withDefaults(),
		onIngest: cfg.OnIngest,
		ingest:   cfg.Ingest,
		web:      cfg.Web,
		registry: cfg.Registry,
		log:      cfg.Logger,
		shutdown: cfg.ShutdownTimeout,
		now:      cfg.Now,
	}
	if s.ingest == nil {
		s.ingest = s.store.IngestBatch
	}
	s.tls.MinVersion = tls.VersionTLS13
	s.tls.MaxVersion = 0
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.shutdown <= 0 {
		s.shutdown = 30 * time.Second
	}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
		s.registry.MustRegister(collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	var err error
	if s.metrics, err = newMetrics(s.registry); err != nil {
		return nil, err
	}
	// Bombs: decoding stops at MaxDecoded, and no frame may ask for a
	// window (memory held while decoding) beyond it or 64 MiB.
	s.dec, err = zstd.NewReader(nil,
		zstd.WithDecoderMaxMemory(uint64(s.limits.MaxDecoded)),
		zstd.WithDecoderMaxWindow(uint64(min(s.limits.MaxDecoded, 1<<26))),
		zstd.WithDecoderConcurrency(s.limits.Ingests))
	if err != nil {
		return nil, fmt.Errorf("server: zstd: %w", err)
	}
	s.rate = newRateLimiter(s.limits.Rate, s.limits.Burst)
	s.ingests = make(chan *scratch, s.limits.Ingests)
	s.pending = semaphore.NewWeighted(s.limits.Pending)
	for range s.limits.Ingests {
		s.ingests <- new(scratch)
	}
	routes := s.routes()
	s.inflight = newGate()
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.inflight.enter() {
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusServiceUnavailable, "shutting down; retry")
			return
		}
		defer s.inflight.leave()
		routes.ServeHTTP(w, r)
	})
	return s, nil
}

// Close turns new requests away with 503, waits for those still running
// in Handler, and releases the server's decoder. Serve calls it on its way
// out; call it yourself when you serve Handler another way. A Server
// cannot serve again after Close.
func (s *Server) Close() {
	s.inflight.closeAndWait()
	s.closeDec.Do(s.dec.Close)
}

// Handler returns the API's handler, for a listener whose TLS configuration
// requests client certificates (see Serve).
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves the API over TLS 1.3 on ln until ctx ends, then shuts down
// gracefully: it stops accepting, lets requests in flight finish for up to
// ShutdownTimeout, then drops what remains (a batch cut short is rolled
// back and sent again by its collector). It returns nil after a shutdown
// for ctx, once no request is running, so the caller may close the store.
// A Server serves once: Serve closes it (see Close).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		TLSConfig:         s.tls,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		// Failed handshakes (wrong CA, revoked, old TLS) are the clients'
		// problem; keep them at debug level.
		ErrorLog: log.New(debugWriter{s.log}, "", 0),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.shutdown)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		s.log.Warn("server: requests still running at shutdown; dropping them", "err", err)
		srv.Close()
	}
	serr := <-errc
	// http.Server.Close does not wait for handlers: wait for those cut
	// off.
	s.Close()
	if !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("server: %w", serr)
	}
	return nil
}

// debugWriter sends net/http's error log to slog at debug level.
type debugWriter struct{ log *slog.Logger }

var _ io.Writer = debugWriter{}

func (w debugWriter) Write(p []byte) (int, error) {
	w.log.Debug("http: " + string(trimNewline(p)))
	return len(p), nil
}

func trimNewline(p []byte) []byte {
	if n := len(p); n > 0 && p[n-1] == '\n' {
		return p[:n-1]
	}
	return p
}
