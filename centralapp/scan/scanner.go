// Package scan runs authorised, connect-only vulnerability scans of the
// internet-facing hosts members prove are theirs, and writes the
// Vulnerability Assessment Report.
//
// Safety comes first, and it is enforced in one place: every connection a
// scan opens goes through a run's guard, which dials only addresses the
// run resolved from a proven target, refuses the rest without dialling,
// waits for the overall and per-address rate limits, stops when the kill
// switch is thrown, and writes each probe to the audit log before it is
// made. Probes only connect, complete TLS handshakes, read greetings and
// send GET requests for fixed paths: nothing is exploited.
package scan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// Vuln is a known vulnerability as the CVE database reports it.
type Vuln struct {
	ID          string
	Description string
	CVSS        float64
	Version     string // CVSS version
	Vector      string
	Severity    string // Critical, High, Medium, Low or None
	Published   time.Time
	KEV         bool
	KEVAdded    time.Time
	Advice      string
}

// VulnDB is the offline CVE database (package cve), as scanning uses it.
type VulnDB interface {
	// Match returns the CVEs of software at version ("Apache", "2.4.49").
	Match(ctx context.Context, software, version string) ([]Vuln, error)
	// Imported is when the data was last imported; zero if never.
	Imported(ctx context.Context) (time.Time, error)
}

// Resolver looks up what proving and scanning a domain needs;
// *net.Resolver is one.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// DialFunc opens a connection; (*net.Dialer).DialContext is one.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Endpoint is a scheme and port where a domain's verification token may
// be served.
type Endpoint struct {
	Scheme string // http or https
	Port   uint16
}

// Errors of a scan.
var (
	ErrOutOfScope = errors.New("out of scope")
	ErrKilled     = errors.New("scanning stopped by the kill switch")
	ErrNotProven  = errors.New("target not proven")
)

// Options configure a Scanner. Store is required.
type Options struct {
	Store Store
	CVE   VulnDB // nil: no CVE checks
	// Resolver and Dial default to the system's.
	Resolver Resolver
	Dial     DialFunc
	// Ports to connect-scan on every address; default TopPorts().
	Ports []uint16
	// Rate is probes a second across all scans, TargetRate probes a
	// second to one address; 0 is unlimited.
	Rate, TargetRate float64
	// Concurrency is the probes in flight in one run (default 8).
	Concurrency int
	// Timeout bounds each probe: its connect and its whole exchange
	// (default 5s). Greeting is how long a silent service is given to
	// speak first before it is tried as TLS and HTTP (default 2s).
	Timeout, Greeting time.Duration
	// ProofTTL is how long a domain proof holds (default 30 days);
	// ApprovalTTL how long an analyst's approval of a range does (default
	// a year).
	ProofTTL, ApprovalTTL time.Duration
	// WellKnown are where a domain's token is fetched (default https:443
	// and http:80).
	WellKnown []Endpoint
	// AllowNonPublic lets scans reach loopback, private and link-local
	// addresses. Off in production: a member could otherwise point a
	// proven domain at central's own network. Tests and the demo turn it
	// on to scan their fixtures on 127.0.0.1.
	AllowNonPublic bool
	// Killed is the config's kill switch: when set nothing is scanned.
	Killed bool
	// KillPoll is how often a running scan re-reads the durable kill
	// switch, so a `scan kill` from another process, or through another
	// node sharing a PostgreSQL store, stops it (default 1s).
	KillPoll time.Duration
	Now      func() time.Time
	Log      *slog.Logger
}

// Scanner runs scans. It is safe for concurrent use.
type Scanner struct {
	o       Options
	overall *pacer
	perAddr pacers

	mu       sync.Mutex
	inflight map[string]context.CancelCauseFunc // by run id
}

// New returns a Scanner.
func New(o Options) (*Scanner, error) {
	if o.Store == nil {
		return nil, errors.New("scan: no store")
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.Dial == nil {
		o.Dial = (&net.Dialer{}).DialContext
	}
	if o.Ports == nil {
		o.Ports = TopPorts()
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Greeting <= 0 {
		o.Greeting = 2 * time.Second
	}
	if o.ProofTTL <= 0 {
		o.ProofTTL = 30 * 24 * time.Hour
	}
	if o.ApprovalTTL <= 0 {
		o.ApprovalTTL = 365 * 24 * time.Hour
	}
	if o.WellKnown == nil {
		o.WellKnown = []Endpoint{{"https", 443}, {"http", 80}}
	}
	if o.KillPoll <= 0 {
		o.KillPoll = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Scanner{o: o, overall: newPacer(o.Rate), perAddr: pacers{rate: o.TargetRate}, inflight: map[string]context.CancelCauseFunc{}}, nil
}

func (s *Scanner) now() time.Time { return s.o.Now().UTC() }

// Kill throws the durable kill switch and stops every scan in flight in
// this process; scans in other processes and on other nodes sharing the
// store stop at their next poll.
func (s *Scanner) Kill(ctx context.Context, by, why string) error {
	if err := s.o.Store.SetKill(ctx, KillState{On: true, By: by, At: s.now(), Why: why}); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, cancel := range s.inflight {
		cancel(ErrKilled)
	}
	return nil
}

// Resume releases the durable kill switch. The config's switch, when set,
// still holds.
func (s *Scanner) Resume(ctx context.Context, by string) error {
	return s.o.Store.SetKill(ctx, KillState{On: false, By: by, At: s.now()})
}

// killed says why scanning is off, or nil.
func (s *Scanner) killed(ctx context.Context) error {
	if s.o.Killed {
		return fmt.Errorf("%w (scan.kill_switch in the config)", ErrKilled)
	}
	k, err := s.o.Store.Kill(ctx)
	if err != nil {
		return err
	}
	if k.On {
		return fmt.Errorf("%w (thrown by %s at %s: %s)", ErrKilled, k.By, k.At.Format(time.RFC3339), k.Why)
	}
	return nil
}

// host is one address of a target, in a run's scope.
type host struct {
	Name string // the domain, or the address for a range target
	Addr netip.Addr
}

// Result is a finished run and its findings.
type Result struct {
	Run      Run
	Findings []Finding
}

// Run scans every target of member that is proven now: domains are
// checked again first, ranges must hold an unexpired approval. Targets
// that fail are noted in the run and not dialled. The run and its findings
// are stored, and the run is refused as a whole when nothing is in scope.
func (s *Scanner) Run(ctx context.Context, member, by string) (Result, error) {
	targets, err := s.o.Store.Targets(ctx, member)
	if err != nil {
		return Result{}, err
	}
	return s.run(ctx, member, by, targets)
}

// RunTarget scans one target, which must be member's and proven.
func (s *Scanner) RunTarget(ctx context.Context, member, targetID, by string) (Result, error) {
	t, err := s.o.Store.Target(ctx, targetID)
	if err != nil {
		return Result{}, err
	}
	if t.MemberID != member {
		// Refused before a run exists: nothing about another member's
		// target is looked up or dialled.
		return Result{}, fmt.Errorf("target %s is not %s's: %w", targetID, member, ErrOutOfScope)
	}
	return s.run(ctx, member, by, []Target{t})
}

func (s *Scanner) run(ctx context.Context, member, by string, targets []Target) (Result, error) {
	if err := s.killed(ctx); err != nil {
		return Result{}, err
	}
	r := Run{ID: ulid.Make().String(), MemberID: member, By: by, Started: s.now(), Status: StatusRunning}
	if err := s.o.Store.StartRun(ctx, r); err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.mu.Lock()
	s.inflight[r.ID] = cancel
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.inflight, r.ID)
		s.mu.Unlock()
	}()
	stopWatch := s.watchKill(ctx, cancel)
	defer stopWatch()

	g := &guard{s: s, run: r.ID, member: member, by: by, scope: map[netip.Addr]string{}}
	var hosts []host
	failed := 0
	for i := range targets {
		hs, err := s.scope(ctx, g, &targets[i])
		if err != nil {
			r.Notes = append(r.Notes, fmt.Sprintf("%s %s refused: %v", targets[i].Kind, targets[i].Value, err))
			failed++
			continue
		}
		hosts = append(hosts, hs...)
	}
	for _, h := range hosts {
		g.scope[h.Addr] = h.Name
	}
	var findings []Finding
	if len(hosts) > 0 {
		findings = s.scanHosts(ctx, g, hosts)
	}
	r.Finished, r.Probes = s.now(), g.probes.Load()
	switch {
	case context.Cause(ctx) != nil && errors.Is(context.Cause(ctx), ErrKilled):
		r.Status = StatusKilled
		r.Notes = append(r.Notes, "stopped by the kill switch; findings are those made before it")
	case ctx.Err() != nil:
		r.Status = StatusFailed
		r.Notes = append(r.Notes, "cancelled: "+context.Cause(ctx).Error())
	case len(hosts) == 0:
		r.Status = StatusRefused
		if len(targets) == 0 {
			r.Notes = append(r.Notes, "the member has no targets")
		}
	case failed > 0:
		r.Status = StatusPartial
	default:
		r.Status = StatusDone
	}
	SortFindings(findings)
	if err := s.o.Store.FinishRun(context.WithoutCancel(ctx), r, findings); err != nil {
		return Result{}, err
	}
	res := Result{Run: r, Findings: findings}
	if r.Status == StatusRefused {
		return res, fmt.Errorf("nothing of %s in scope: %w", member, ErrNotProven)
	}
	return res, nil
}

// watchKill polls the durable kill switch while a run lasts.
func (s *Scanner) watchKill(ctx context.Context, cancel context.CancelCauseFunc) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(s.o.KillPoll)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.killed(ctx); errors.Is(err, ErrKilled) {
					cancel(ErrKilled)
					return
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// scope checks a target's proof and returns its addresses.
func (s *Scanner) scope(ctx context.Context, g *guard, t *Target) ([]host, error) {
	switch t.Kind {
	case TargetDomain:
		// A domain's proof is checked again before every scan: control
		// of a name can change hands at any time.
		p, err := s.verify(ctx, g, t)
		if err != nil {
			return nil, err
		}
		if !p.OK {
			return nil, fmt.Errorf("%w: %s", ErrNotProven, p.Detail)
		}
		addrs, err := s.o.Resolver.LookupNetIP(ctx, "ip", t.Value)
		if err != nil {
			return nil, fmt.Errorf("resolving: %w", err)
		}
		var hs []host
		for _, a := range addrs {
			a = a.Unmap().WithZone("")
			if err := s.allowed(a); err != nil {
				return nil, err
			}
			hs = append(hs, host{Name: t.Value, Addr: a})
		}
		if len(hs) == 0 {
			return nil, errors.New("the domain has no addresses")
		}
		slices.SortFunc(hs, func(a, b host) int { return a.Addr.Compare(b.Addr) })
		return slices.CompactFunc(hs, func(a, b host) bool { return a.Addr == b.Addr }), nil
	case TargetRange:
		if !t.ProvenAt(s.now()) || t.ProvenBy == "" {
			if t.Proven.IsZero() {
				return nil, fmt.Errorf("%w: no analyst has approved it", ErrNotProven)
			}
			return nil, fmt.Errorf("%w: the approval by %s expired on %s", ErrNotProven, t.ProvenBy, t.Expires.Format(time.DateOnly))
		}
		p, err := netip.ParsePrefix(t.Value)
		if err != nil {
			return nil, err
		}
		if p.Addr().BitLen()-p.Bits() > 8 {
			return nil, fmt.Errorf("%s is larger than %d addresses", p, MaxRangeAddrs)
		}
		var hs []host
		for a := p.Addr(); p.Contains(a); a = a.Next() {
			if err := s.allowed(a); err != nil {
				return nil, err
			}
			hs = append(hs, host{Name: a.String(), Addr: a})
			if !a.Next().IsValid() {
				break
			}
		}
		return hs, nil
	}
	return nil, fmt.Errorf("unknown target kind %q", t.Kind)
}

// allowed refuses addresses that are not on the public internet, unless
// the options allow them.
func (s *Scanner) allowed(a netip.Addr) error {
	if s.o.AllowNonPublic {
		return nil
	}
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsMulticast() || a.IsUnspecified() || a.IsInterfaceLocalMulticast() || cgnat.Contains(a) {
		return fmt.Errorf("%s is not a public address: %w", a, ErrOutOfScope)
	}
	return nil
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// addrPort formats a dial address.
func addrPort(a netip.Addr, port uint16) string {
	return net.JoinHostPort(a.String(), strconv.Itoa(int(port)))
}
