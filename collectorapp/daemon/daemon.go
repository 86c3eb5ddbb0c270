// Package daemon runs the collector: inputs, the edge pipeline, the SQLite
// buffer, the forwarder to central, updates, metrics and health. The
// command line's `run` is a thin wrapper around it; the central demo runs
// collectors in process through it.
package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cyberalarm/cyberalarm/collectorapp/buffer"
	"github.com/cyberalarm/cyberalarm/collectorapp/config"
	"github.com/cyberalarm/cyberalarm/collectorapp/egress"
	"github.com/cyberalarm/cyberalarm/collectorapp/forward"
	"github.com/cyberalarm/cyberalarm/collectorapp/input"
	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/detect/update"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/plugins"
	"github.com/cyberalarm/cyberalarm/rules"
)

// Options are what a Daemon needs besides its config.
type Options struct {
	Config   *config.Config
	Registry *parsers.Registry // built-in parsers and loaded plugins
	// Plugins are the started parser plugins (also in Registry): inputs
	// whose format is a plugin's go through its batch path. The caller
	// closes them after Run.
	Plugins *plugins.Set
	Log     *slog.Logger
	Stdin   io.Reader // for stdin inputs; nil means os.Stdin
	Version string
	// Ref is the reference time for stamps without a year; zero means now.
	Ref time.Time
	// Offline runs without central: batches stay in the buffer. For
	// `egress` and tests; a configured central URL is then ignored.
	Offline bool
	// MetricsListener, when set, serves /metrics and /healthz on it instead
	// of on the configured address (tests pass a listener on port 0).
	MetricsListener net.Listener
}

// Daemon is one collector.
type Daemon struct {
	cfg     *config.Config
	opts    Options
	log     *slog.Logger
	started time.Time

	buf    *buffer.Buffer
	pipe   *pipeline
	inputs []namedInput
	creds  *forward.Credentials
	fwd    *forward.Forwarder
	upd    *forward.Updater
	policy *egress.Policy

	ready chan struct{} // closed once the inputs listen
}

type namedInput struct {
	input.Input
	typ string
}

// New builds a collector from its config: it loads the lists and rules,
// opens the buffer and makes the inputs, but starts nothing.
func New(opts Options) (_ *Daemon, err error) {
	cfg := opts.Config
	if cfg == nil || opts.Registry == nil {
		return nil, errors.New("daemon: config and registry are required")
	}
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	d := &Daemon{cfg: cfg, opts: opts, log: log, started: time.Now(), ready: make(chan struct{})}
	defer func() {
		if err != nil {
			d.closeAll()
		}
	}()

	lists, err := LoadLists(cfg.Lists)
	if err != nil {
		return nil, err
	}
	rs, err := LoadRules(cfg.Rules.Builtin, cfg.Rules.Dirs)
	if err != nil {
		return nil, err
	}
	set, err := rules.Compile(rs)
	if err != nil {
		return nil, err
	}
	d.policy = &egress.Policy{
		Internal:      lists.Internal,
		SendUserNames: cfg.Privacy.SendUserNames,
		SendURLPaths:  cfg.Privacy.SendURLPaths,
	}
	if cfg.Privacy.PseudonymiseInternal {
		key, err := egress.LoadKey(cfg.Privacy.HMACKeyFile)
		if err != nil {
			return nil, fmt.Errorf("privacy.hmac_key_file: %w", err)
		}
		if d.policy.Pseudonyms, err = egress.NewPseudonymiser(key); err != nil {
			return nil, fmt.Errorf("privacy.hmac_key_file: %w", err)
		}
	}

	d.buf, err = buffer.Open(buffer.Options{
		Path:         cfg.Buffer.Path,
		MaxBytes:     int64(cfg.Buffer.MaxBytes),
		BatchRecords: cfg.Buffer.BatchMaxRecords,
		BatchBytes:   int(cfg.Buffer.BatchMaxBytes),
		Logger:       log.With("component", "buffer"),
	})
	if err != nil {
		return nil, err
	}

	sc := egress.SummarizerConfig{MaxKeys: cfg.Summaries.MaxKeys, Lateness: cfg.Rules.Lateness}
	if d.policy.Pseudonyms != nil {
		sc.Destination = d.policy.Address
	}
	d.pipe, err = newPipeline(pipelineConfig{
		Registry: opts.Registry, Lists: lists, Rules: set,
		Limits: rules.Limits{MaxGroups: cfg.Rules.MaxGroups, Lateness: cfg.Rules.Lateness},
		Member: cfg.Collector.Member, Policy: d.policy, Summary: sc, Buffer: d.buf,
		Log: log.With("component", "pipeline"), Ref: opts.Ref,
		Workers: cfg.Pipeline.Workers, QueueLines: cfg.Pipeline.QueueLines,
		Summaries: cfg.Summaries.Enabled, Plugins: opts.Plugins,
	})
	if err != nil {
		return nil, err
	}

	for i := range cfg.Inputs {
		in, err := d.newInput(&cfg.Inputs[i])
		if err != nil {
			return nil, fmt.Errorf("inputs[%d] (%s): %w", i, cfg.Inputs[i].Name, err)
		}
		d.inputs = append(d.inputs, namedInput{in, string(cfg.Inputs[i].Type)})
	}

	if cfg.Central.URL != "" && !opts.Offline {
		if err := d.connect(); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// connect loads the enrolment state and makes the forwarder and updater.
func (d *Daemon) connect() error {
	cfg := d.cfg
	creds, err := forward.LoadCredentials(cfg.Collector.DataDir)
	if err != nil {
		return fmt.Errorf("not enrolled with central (run `cyberalarm-collector enrol`): %w", err)
	}
	d.creds = creds
	if id := creds.Identity(); cfg.Collector.Member != "" && id.MemberID != cfg.Collector.Member {
		return fmt.Errorf("collector.member is %q but the enrolment certificate is for member %q", cfg.Collector.Member, id.MemberID)
	}
	d.fwd, err = forward.New(d.buf, forward.Config{
		Central: cfg.Central.URL, Credentials: creds, Timeout: cfg.Central.Timeout,
		MinBackoff: cfg.Central.RetryMin, MaxBackoff: cfg.Central.RetryMax,
		Logger: d.log.With("component", "forwarder"),
	})
	if err != nil {
		return err
	}
	if cfg.Central.UpdatesInterval > 0 {
		d.upd, err = forward.NewUpdater(forward.UpdaterConfig{
			Credentials: creds, PublicKey: cfg.Central.UpdateKey, Interval: cfg.Central.UpdatesInterval,
			Apply: d.applyUpdate, Logger: d.log.With("component", "updater"),
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *Daemon) newInput(c *config.Input) (input.Input, error) {
	common := input.Common{
		Name: c.Name, Format: c.Format, TimeZone: c.Timezone, MaxMessage: int(c.MaxMessageBytes),
		Rate: float64(c.Rate.LinesPerSecond), Burst: c.Rate.Burst,
	}
	log := d.log.With("input", c.Name)
	switch c.Type {
	case config.UDP:
		return input.NewUDP(input.UDPConfig{Common: common, Listen: c.Listen, ReadBuffer: int(c.ReadBuffer)}, log)
	case config.TCP, config.TLS:
		tc := input.TCPConfig{Common: common, Listen: c.Listen, MaxConnections: c.MaxConnections}
		if c.Type == config.TLS {
			tc.TLS = &input.TLSConfig{Cert: c.TLS.CertFile, Key: c.TLS.KeyFile, ClientCA: c.TLS.ClientCAFile}
		}
		return input.NewTCP(tc, log)
	case config.File:
		return input.NewFile(input.FileConfig{Common: common, Path: c.Path, StartAt: c.StartAt}, offsetStore{d.buf}, log)
	case config.Stdin:
		r := d.opts.Stdin
		if r == nil {
			r = os.Stdin
		}
		return input.NewStdin(input.StdinConfig{Common: common}, r, log)
	}
	return nil, fmt.Errorf("unknown input type %q", c.Type)
}

// offsetStore gives file inputs the offsets the pipeline committed.
type offsetStore struct{ buf *buffer.Buffer }

func (s offsetStore) Offset(key string) (input.FileIdent, int64, bool, error) {
	o, ok, err := s.buf.Offset(key)
	if err != nil || !ok {
		return input.FileIdent{}, 0, ok, err
	}
	return inputIdent(o.Ident), o.Offset, true, nil
}

// LoadLists builds the member's lists from config.
func LoadLists(c config.Lists) (*detect.Lists, error) {
	l := detect.NewLists(c.Internal)
	if len(c.TrustedFiles) > 0 {
		t, err := detect.LoadLists("trusted", c.TrustedFiles...)
		if err != nil {
			return nil, fmt.Errorf("lists.trusted_files: %w", err)
		}
		l.Trusted = t
	}
	if err := LoadIndicators(l, c.IndicatorFiles); err != nil {
		return nil, fmt.Errorf("lists.indicator_files: %w", err)
	}
	return l, nil
}

// LoadIndicators adds indicator list files to l, each named by its file
// name without extension: the name detections carry in threat.feed.name.
func LoadIndicators(l *detect.Lists, paths []string) error {
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		in, err := detect.LoadList(name, path)
		if err != nil {
			return err
		}
		l.Indicators = append(l.Indicators, in)
		l.Named[name] = in
	}
	return nil
}

// LoadRules reads the built-in pack and rule folders. File names in errors
// carry their folder.
func LoadRules(builtin bool, dirs []string) ([]*rules.Rule, error) {
	var all []*rules.Rule
	if builtin {
		rs, err := rules.Builtin()
		if err != nil {
			return nil, err
		}
		all = append(all, rs...)
	}
	for _, dir := range dirs {
		rs, err := rules.Load(os.DirFS(dir), ".")
		for _, r := range rs {
			r.File = filepath.Join(dir, r.File)
		}
		if err != nil {
			var es rules.Errors
			if errors.As(err, &es) {
				for _, e := range es {
					e.File = filepath.Join(dir, e.File)
				}
			}
			return nil, err
		}
		all = append(all, rs...)
	}
	return all, nil
}

// centralIndicators names the indicator list that central publishes.
const centralIndicators = "central"

// applyUpdate puts a verified rule pack or indicator list in force.
// Central's rule pack takes the place of the built-in one; the member's own
// rule folders stay. Central's indicator list takes the place of its
// previous version; the member's own lists stay.
func (d *Daemon) applyUpdate(kind string, version int64, payload []byte) error {
	switch kind {
	case update.KindRules:
		rs, err := rules.Parse(fmt.Sprintf("central-rules-v%d.yaml", version), payload)
		if err != nil {
			return err
		}
		local, err := LoadRules(false, d.cfg.Rules.Dirs)
		if err != nil {
			return err
		}
		set, err := rules.Compile(append(rs, local...))
		if err != nil {
			return err
		}
		d.pipe.setRules(set)
		d.log.Info("rule pack from central applied", "version", version, "rules", set.Len())
	case update.KindIndicators:
		in, err := detect.ParseList(centralIndicators, fmt.Sprintf("central-indicators-v%d", version), bytes.NewReader(payload))
		if err != nil {
			return err
		}
		cur := d.pipe.lists.Load()
		next := *cur
		next.Named = make(map[string]*detect.List, len(cur.Named))
		next.Indicators = nil
		for _, l := range cur.Indicators {
			if l.Name != centralIndicators {
				next.Indicators = append(next.Indicators, l)
			}
		}
		for k, v := range cur.Named {
			next.Named[k] = v
		}
		next.Indicators = append(next.Indicators, in)
		next.Named[centralIndicators] = in
		d.pipe.setLists(&next)
		d.log.Info("indicator list from central applied", "version", version)
	default:
		return fmt.Errorf("unknown update kind %q", kind)
	}
	return nil
}

// Run runs the collector until ctx ends, then shuts down gracefully: the
// inputs stop, everything read goes through the pipeline into the buffer,
// and what is pending is sealed. It returns the first error that stopped
// a component that must not stop.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.closeAll()
	if _, err := d.pipe.start(); err != nil {
		return err
	}

	var srv *http.Server
	if ln, err := d.metricsListener(); err != nil {
		d.pipe.close()
		return err
	} else if ln != nil {
		srv = &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	}

	inCtx, stopInputs := context.WithCancel(context.WithoutCancel(ctx))
	defer stopInputs()
	var started []input.Input
	for _, in := range d.inputs {
		if err := in.Start(inCtx, d.pipe.sink); err != nil {
			for _, s := range started {
				s.Close()
			}
			d.pipe.close()
			return fmt.Errorf("input %s: %w", in.Name(), err)
		}
		started = append(started, in)
	}
	close(d.ready)
	d.log.Info("collector running", "inputs", len(d.inputs), "member", d.cfg.Collector.Member, "buffer", d.cfg.Buffer.Path)

	bg, bgCancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	sealerDone := make(chan struct{})
	go func() {
		defer close(sealerDone)
		d.buf.RunSealer(bg, buffer.SealPolicy{MaxAge: d.cfg.Buffer.BatchMaxAge, HealthEvery: healthEvery}, d.sealMeta()) //nolint:errcheck // returns at ctx end
	}()
	if d.fwd != nil {
		wg.Add(2)
		go func() { defer wg.Done(); d.fwd.Run(bg) }()                                                   //nolint:errcheck
		go func() { defer wg.Done(); (&forward.Renewer{Credentials: d.creds, Logger: d.log}).Run(bg) }() //nolint:errcheck
	}
	if d.upd != nil {
		if err := d.upd.Restore(); err != nil {
			d.log.Warn("stored updates not restored", "err", err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); d.upd.Run(bg) }() //nolint:errcheck
	}

	// Stdin ends by itself; the daemon then ends too.
	allDone := make(chan struct{})
	go func() {
		for _, in := range d.inputs {
			<-in.Done()
		}
		close(allDone)
	}()
	select {
	case <-ctx.Done():
	case <-allDone:
	}

	d.log.Info("shutting down: flushing inputs and pipeline")
	for _, in := range d.inputs {
		if err := in.Close(); err != nil {
			d.log.Warn("input close", "input", in.Name(), "err", err)
		}
	}
	stopInputs()
	d.pipe.close()
	// The sealer seals what is pending when its context ends; the
	// forwarder gets until then to send.
	if d.fwd != nil && ctx.Err() == nil {
		d.drainForwarder(shutdownGrace)
	}
	bgCancel()
	<-sealerDone
	wg.Wait()
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		srv.Shutdown(sctx) //nolint:errcheck
		cancel()
	}
	d.log.Info("collector stopped")
	return nil
}

// Ready is closed once Run has started the inputs.
func (d *Daemon) Ready() <-chan struct{} { return d.ready }

// Addr returns the address that the named network input listens on, once
// Ready is closed; nil for other inputs.
func (d *Daemon) Addr(name string) net.Addr {
	for _, in := range d.inputs {
		if a, ok := in.Input.(interface{ Addr() net.Addr }); ok && in.Name() == name {
			return a.Addr()
		}
	}
	return nil
}

// healthEvery is how often health leaves when nothing else does.
const healthEvery = time.Minute

// shutdownGrace is how long a finite run (stdin at its end) waits for the
// forwarder to send what is left.
const shutdownGrace = 30 * time.Second

// drainForwarder seals what is pending and waits until the forwarder has
// sent every batch, or until grace has passed.
func (d *Daemon) drainForwarder(grace time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	for {
		sealed, err := d.buf.Seal(ctx, d.sealMeta())
		if err != nil || !sealed {
			break
		}
	}
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		st, err := d.buf.Stats(ctx)
		if err == nil && st.SealedBatches == 0 {
			return
		}
		select {
		case <-ctx.Done():
			d.log.Warn("batches left unsent at shutdown; they go at the next start", "err", ctx.Err())
			return
		case <-t.C:
		}
	}
}

func (d *Daemon) sealMeta() buffer.SealMeta {
	id := d.cfg.Collector.ID
	member := d.cfg.Collector.Member
	if d.creds != nil {
		ci := d.creds.Identity()
		if id == "" {
			id = ci.CollectorID
		}
		member = ci.MemberID
	}
	return buffer.SealMeta{CollectorID: id, MemberID: member, Health: d.health}
}

func (d *Daemon) metricsListener() (net.Listener, error) {
	if d.opts.MetricsListener != nil {
		return d.opts.MetricsListener, nil
	}
	if !d.cfg.Metrics.Enabled || d.cfg.Metrics.Listen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", d.cfg.Metrics.Listen)
	if err != nil {
		return nil, fmt.Errorf("metrics.listen: %w", err)
	}
	return ln, nil
}

// closeAll releases what New opened.
func (d *Daemon) closeAll() {
	if d.buf != nil {
		if err := d.buf.Close(); err != nil {
			d.log.Warn("buffer close", "err", err)
		}
	}
}

// Handler serves /metrics (Prometheus) and /healthz.
func (d *Daemon) Handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics{snap: d.Snapshot})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", d.healthz)
	return mux
}
