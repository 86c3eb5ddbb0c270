package plugins

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/plugins/internal/pluginpb"
)

// ErrPluginShutdown is wrapped by the error for a line whose plugin
// crashed or hung while parsing it, and by the errors of calls made once a
// plugin is closed or can no longer be started.
var ErrPluginShutdown = errors.New("plugin shut down")

// ErrTimeout is wrapped, beside ErrPluginShutdown, by the error for a line
// that a plugin took longer than its Timeout to parse.
var ErrTimeout = errors.New("plugin timed out")

// Options tune the host side of all plugins.
type Options struct {
	// Logger receives the plugins' stderr, one record per line with the
	// plugin's name, and their starts, crashes and restarts. Nil discards.
	Logger *slog.Logger
	// MinBackoff and MaxBackoff bound the wait before a restart, which
	// doubles with each failure in a row. Defaults 100ms and 30s.
	MinBackoff, MaxBackoff time.Duration
}

// Plugin is one running plugin binary, started, checked and supervised by
// the host. Its methods are safe for concurrent use.
type Plugin struct {
	spec Spec
	opts Options
	log  *slog.Logger
	info detect.ParserInfo

	ctx    context.Context // ended by Close; parents every stream
	cancel context.CancelFunc

	sem      chan struct{} // held while starting or stopping an instance
	cur      atomic.Pointer[instance]
	gen      uint64    // instances started, under sem
	failures int       // failures in a row, under sem
	failedAt time.Time // last failure, under sem
	ok       atomic.Bool

	restarts, crashes, timeouts atomic.Int64
}

// instance is one process of a plugin.
type instance struct {
	gen    uint64
	client *plugin.Client
	rpc    pluginpb.ParserClient
}

// Start checks spec's binary, starts it, and asks it what it parses. The
// plugin must declare the name that spec gives it.
func Start(ctx context.Context, spec Spec, opts Options) (*Plugin, error) {
	spec = spec.withDefaults()
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(30*time.Second, opts.MinBackoff)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Plugin{spec: spec, opts: opts, log: log.With("plugin", spec.Name), sem: make(chan struct{}, 1)}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	inst, err := p.start()
	if err != nil {
		p.cancel()
		return nil, err
	}
	p.cur.Store(inst)
	dctx, cancel := context.WithTimeout(ctx, spec.StartTimeout)
	defer cancel()
	d, err := inst.rpc.Describe(dctx, &pluginpb.DescribeRequest{})
	if err == nil {
		err = p.describe(d)
	}
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("plugin %s (%s): %w", spec.Name, spec.Path, err)
	}
	return p, nil
}

// describe checks the plugin's own description and makes its ParserInfo.
func (p *Plugin) describe(d *pluginpb.DescribeResponse) error {
	in := Info{Name: d.GetName(), Description: d.GetDescription(), Tags: d.GetTags(), Generic: d.GetGeneric()}
	for _, s := range d.GetSignatures() {
		in.Signatures = append(in.Signatures, Signature{Prefix: s.GetPrefix(), Contains: s.GetContains(), Regexp: s.GetRegexp()})
	}
	if err := in.validate(); err != nil {
		return err
	}
	if in.Name != p.spec.Name {
		return fmt.Errorf("the binary declares parser %q, but the config names it %q", in.Name, p.spec.Name)
	}
	sn, err := sniff(in.Signatures)
	if err != nil {
		return err
	}
	p.info = detect.ParserInfo{
		Name: in.Name, Description: in.Description, Tags: in.Tags, Sniff: sn, Generic: in.Generic,
		New: func() detect.Parser { return newLineParser(p) },
	}
	return nil
}

// Name returns the plugin's parser name.
func (p *Plugin) Name() string { return p.spec.Name }

// Spec returns the plugin's spec, with defaults filled.
func (p *Plugin) Spec() Spec { return p.spec }

// Info returns the plugin's parser as a registry holds it. Its New makes a
// per-line parser: each Parse is one round trip to the plugin, so use it
// for auto-detection and single lines, and a Session for streams.
func (p *Plugin) Info() detect.ParserInfo { return p.info }

// Stats counts a plugin's troubles.
type Stats struct {
	Restarts int64 // processes started after the first
	Crashes  int64 // streams that failed: exits, broken connections, corrupt batches
	Timeouts int64 // batches that took longer than the spec's Timeout
}

// Stats returns the plugin's counts so far.
func (p *Plugin) Stats() Stats {
	return Stats{Restarts: p.restarts.Load(), Crashes: p.crashes.Load(), Timeouts: p.timeouts.Load()}
}

// Close stops the plugin. Streams in use fail with ErrPluginShutdown.
func (p *Plugin) Close() error {
	p.cancel()
	p.sem <- struct{}{}
	defer func() { <-p.sem }()
	if inst := p.cur.Swap(nil); inst != nil {
		inst.client.Kill()
	}
	return nil
}

// instance returns the running instance, starting one, after the backoff
// that failures in a row call for, when there is none.
func (p *Plugin) instance(ctx context.Context) (*instance, error) {
	if inst := p.cur.Load(); inst != nil {
		return inst, nil
	}
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.ctx.Done():
		return nil, p.closedErr()
	}
	defer func() { <-p.sem }()
	var err error
	for attempt := 0; attempt < maxStartAttempts; attempt++ {
		if inst := p.cur.Load(); inst != nil {
			return inst, nil
		}
		if p.ctx.Err() != nil {
			return nil, p.closedErr()
		}
		if wait := p.backoff() - time.Since(p.failedAt); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-p.ctx.Done():
				t.Stop()
				return nil, p.closedErr()
			}
		}
		var inst *instance
		inst, err = p.start()
		if err != nil {
			p.failures++
			p.failedAt = time.Now()
			p.log.Error("plugin restart failed", "error", err, "failures", p.failures)
			continue
		}
		p.restarts.Add(1)
		p.log.Info("plugin restarted", "restarts", p.restarts.Load())
		p.cur.Store(inst)
		return inst, nil
	}
	return nil, fmt.Errorf("%w: %w", ErrPluginShutdown, err)
}

// maxStartAttempts is how many starts one call of instance tries before it
// gives up, so that a plugin that cannot start fails its callers' lines
// instead of holding them.
const maxStartAttempts = 3

// backoff is the wait after p.failures failures in a row, under sem.
func (p *Plugin) backoff() time.Duration {
	if p.failures == 0 {
		return 0
	}
	d := p.opts.MinBackoff
	for i := 1; i < p.failures && d < p.opts.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, p.opts.MaxBackoff)
}

func (p *Plugin) closedErr() error {
	return fmt.Errorf("plugin %s: closed: %w", p.spec.Name, ErrPluginShutdown)
}

// fail reports that a stream on inst broke because of why. The first
// report for an instance kills it, so that the next call of instance
// starts a fresh one.
func (p *Plugin) fail(inst *instance, why error) {
	p.sem <- struct{}{}
	defer func() { <-p.sem }()
	if !p.cur.CompareAndSwap(inst, nil) {
		return // already replaced
	}
	p.ok.Store(false)
	p.failures++
	p.failedAt = time.Now()
	if errors.Is(why, ErrTimeout) {
		p.timeouts.Add(1)
	} else {
		p.crashes.Add(1)
	}
	p.log.Warn("plugin failed; restarting", "error", why, "failures", p.failures)
	inst.client.Kill()
}

// healthy notes that a batch came back, which ends a run of failures.
func (p *Plugin) healthy() {
	if p.ok.Load() {
		return
	}
	p.sem <- struct{}{}
	p.failures = 0
	p.ok.Store(true)
	<-p.sem
}

// start checks the binary and starts one process.
func (p *Plugin) start() (*instance, error) {
	if err := checkBinary(p.spec.Path, p.spec.SHA256); err != nil {
		return nil, fmt.Errorf("plugin %s: %w", p.spec.Name, err)
	}
	stderr := &lineLogger{log: p.log, msg: "plugin stderr"}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: handshake(),
		VersionedPlugins: map[int]plugin.PluginSet{
			ProtocolVersion: {pluginName: &grpcPlugin{}},
		},
		Cmd:              exec.Command(p.spec.Path, p.spec.Args...),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		StartTimeout:     p.spec.StartTimeout,
		GRPCDialOptions:  grpcDialOptions(),
		Stderr:           stderr,
		SyncStdout:       &lineLogger{log: p.log, msg: "plugin stdout"},
		SyncStderr:       &lineLogger{log: p.log, msg: "plugin stderr"},
		Logger:           hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Off}),
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("plugin %s: starting %s: %w", p.spec.Name, p.spec.Path, startError(err))
	}
	raw, err := rpc.Dispense(pluginName)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("plugin %s: %w", p.spec.Name, err)
	}
	pc, ok := raw.(pluginpb.ParserClient)
	if !ok {
		client.Kill()
		return nil, fmt.Errorf("plugin %s: unexpected client type %T", p.spec.Name, raw)
	}
	p.gen++
	return &instance{gen: p.gen, client: client, rpc: pc}, nil
}

// startError explains go-plugin's start errors that users meet.
func startError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "incompatible API version"):
		return fmt.Errorf("the plugin speaks another protocol version than this collector, which speaks version %d: "+
			"rebuild the plugin with the SDK of this collector's release (%v)", ProtocolVersion, err)
	case strings.Contains(msg, "Unrecognized remote plugin message"):
		return fmt.Errorf("the binary did not answer as a CyberAlarm parser plugin: is it built with plugins.Serve? (%v)", err)
	}
	return err
}

// checkBinary refuses a binary that others could have replaced, or that is
// not the one pinned. The check runs before every start.
func checkBinary(path, sum string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("%s is writable by group or others (mode %v): refusing to run it; chmod go-w it", path, perm)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return fmt.Errorf("%s has SHA-256 %s, but the config pins %s: refusing to run it "+
			"(if you rebuilt or upgraded the plugin on purpose, put the new sum in the config)", path, got, sum)
	}
	return nil
}

// lineLogger logs each line written to it.
type lineLogger struct {
	log *slog.Logger
	msg string
	mu  sync.Mutex
	buf []byte
}

func (l *lineLogger) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, b...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimRight(string(l.buf[:i]), "\r"); line != "" {
			l.log.Info(l.msg, "line", line)
		}
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 64<<10 { // a line without end: log what there is
		l.log.Info(l.msg, "line", string(l.buf))
		l.buf = l.buf[:0]
	}
	return len(b), nil
}
