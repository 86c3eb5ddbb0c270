package scan

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// scanHosts connect-scans every host's ports and examines the open ones.
func (s *Scanner) scanHosts(ctx context.Context, g *guard, hosts []host) []Finding {
	type job struct {
		h    host
		port uint16
	}
	var jobs []job
	for _, h := range hosts {
		for _, p := range s.o.Ports {
			jobs = append(jobs, job{h, p})
		}
	}
	open := make([]bool, len(jobs))
	s.parallel(ctx, len(jobs), func(i int) {
		open[i], _ = g.connectPort(ctx, jobs[i].h, jobs[i].port)
	})
	var opened []job
	for i, j := range jobs {
		if open[i] {
			opened = append(opened, j)
		}
	}
	found := make([][]Finding, len(opened))
	s.parallel(ctx, len(opened), func(i int) {
		found[i] = s.examine(ctx, g, opened[i].h, opened[i].port)
	})
	return slices.Concat(found...)
}

// parallel runs fn(0..n-1) on at most Concurrency goroutines, and stops
// handing out work when ctx ends.
func (s *Scanner) parallel(ctx context.Context, n int, fn func(int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, s.o.Concurrency) {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
}

// service is what identify learnt of an open port.
type service struct {
	Name     string // ssh, smtp, http, https, imaps, tls, unknown, ...
	Greeting string
	TLS      bool
	Root     *response // GET / when the port speaks HTTP
}

// identify finds out what answers on an open port: the port's usual
// service is tried first; a port of no known use is given a moment to
// greet, then tried as TLS, then as HTTP.
func (s *Scanner) identify(ctx context.Context, g *guard, h host, port uint16) service {
	info := ports[port]
	tryTLS := func() (service, bool) {
		if _, err := g.tlsHello(ctx, h, port, clientTLS(h.Name, tls.VersionTLS10, tls.VersionTLS13), "TLS 1.0-1.3 hello"); err != nil {
			return service{}, false
		}
		sv := service{Name: info.Service, TLS: true}
		if info.Speak == speakUnknown || info.Speak == speakTLS && strings.HasPrefix(info.Service, "https") {
			if root, err := g.get(ctx, h, port, true, "/"); err == nil {
				sv.Name, sv.Root = "https", root
			}
		}
		if sv.Name == "" {
			sv.Name = "tls"
		}
		return sv, true
	}
	tryHTTP := func() (service, bool) {
		root, err := g.get(ctx, h, port, false, "/")
		if err != nil {
			return service{}, false
		}
		return service{Name: "http", Root: root}, true
	}
	switch info.Speak {
	case speakTLS:
		if sv, ok := tryTLS(); ok {
			return sv
		}
	case speakHTTP:
		if sv, ok := tryHTTP(); ok {
			return sv
		}
	case speakGreet:
		if text, _ := g.greeting(ctx, h, port, s.o.Timeout); text != "" {
			return service{Name: classify(text, info.Service), Greeting: text}
		}
		return service{Name: cmp.Or(info.Service, "unknown")}
	}
	if text, _ := g.greeting(ctx, h, port, s.o.Greeting); text != "" {
		return service{Name: classify(text, info.Service), Greeting: text}
	}
	if ctx.Err() != nil {
		return service{Name: "unknown"}
	}
	if sv, ok := tryTLS(); ok {
		return sv
	}
	if sv, ok := tryHTTP(); ok {
		return sv
	}
	return service{Name: cmp.Or(info.Service, "unknown")}
}

// examine runs every check that fits an open port.
func (s *Scanner) examine(ctx context.Context, g *guard, h host, port uint16) []Finding {
	info := ports[port]
	sv := s.identify(ctx, g, h, port)
	base := Finding{Host: h.Name, Addr: h.Addr, Port: port, Service: sv.Name}
	out := []Finding{portFinding(base, info)}
	var banners []string
	if sv.Greeting != "" {
		line := printable([]byte(firstLine(sv.Greeting)))
		if v, ok := mysqlVersion([]byte(sv.Greeting)); ok {
			line = "MySQL " + v
		}
		f := base
		f.Check, f.Kind, f.Severity = "service.banner", KindService, Info
		f.Title = fmt.Sprintf("%s service announces itself", strings.ToUpper(sv.Name))
		f.Evidence = clip(line, 300)
		f.Advice = "Banners that name software and version tell attackers which exploits to try; configure the service to announce less where it allows."
		out = append(out, f)
		banners = append(banners, line)
	}
	if sv.TLS {
		out = append(out, s.tlsChecks(ctx, g, h, port, base)...)
	}
	if sv.Root != nil {
		fs, bs := s.httpChecks(ctx, g, h, port, sv.TLS, sv.Root, base)
		out = append(out, fs...)
		banners = append(banners, bs...)
	}
	out = append(out, s.cveChecks(ctx, base, banners)...)
	return out
}

func portFinding(base Finding, info portInfo) Finding {
	f := base
	f.Check, f.Kind = "port.open", KindPort
	f.Title = fmt.Sprintf("TCP port %d open (%s)", f.Port, f.Service)
	f.Evidence = fmt.Sprintf("TCP connect to %s succeeded", addrPort(f.Addr, f.Port))
	f.Severity = info.Risk
	if info.Why != "" && f.Severity > Info {
		f.Title = fmt.Sprintf("%s exposed to the internet on TCP port %d", info.Service, f.Port)
		f.Advice = fmt.Sprintf("Close port %d at the firewall or allow only known addresses: %s.", f.Port, info.Why)
	} else {
		f.Advice = "Make sure this service is meant to be reachable from the internet, and keep it patched."
	}
	return f
}

// SortFindings orders findings for reports and goldens: most severe
// first, then by host, address, port and check.
func SortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(b.Severity, a.Severity),
			cmp.Compare(a.Host, b.Host),
			a.Addr.Compare(b.Addr),
			cmp.Compare(a.Port, b.Port),
			cmp.Compare(a.Check, b.Check),
		)
	})
}
