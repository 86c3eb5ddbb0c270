package scan

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Verify checks the proof of a domain target now, records the check, and
// returns it: a DNS TXT record at the domain or at _cyberalarm.DOMAIN, or
// the token served at WellKnownPath. Range targets are approved by an
// analyst instead (see Approve).
func (s *Scanner) Verify(ctx context.Context, targetID, by string) (Proof, error) {
	t, err := s.o.Store.Target(ctx, targetID)
	if err != nil {
		return Proof{}, err
	}
	g := &guard{s: s, member: t.MemberID, by: by}
	return s.verify(ctx, g, &t)
}

func (s *Scanner) verify(ctx context.Context, g *guard, t *Target) (Proof, error) {
	if t.Kind != TargetDomain {
		return Proof{}, fmt.Errorf("%s is a %s target: an analyst approves it", t.Value, t.Kind)
	}
	p := Proof{TargetID: t.ID, By: g.by, Checked: s.now()}
	var why []string
	if ok, detail := s.verifyTXT(ctx, t); ok {
		p.Method, p.OK, p.Detail = "dns-txt", true, detail
	} else {
		why = append(why, detail)
		if ok, detail := s.verifyWellKnown(ctx, g, t); ok {
			p.Method, p.OK, p.Detail = "well-known", true, detail
		} else {
			why = append(why, detail)
		}
	}
	if err := context.Cause(ctx); err != nil {
		return Proof{}, err
	}
	if p.OK {
		p.Expires = p.Checked.Add(s.o.ProofTTL)
	} else {
		p.Method, p.Detail = "none", strings.Join(why, "; ")
	}
	if err := s.o.Store.AddProof(ctx, p); err != nil {
		return Proof{}, err
	}
	if p.OK {
		t.ProvenBy, t.Proven, t.Expires = p.Method, p.Checked, p.Expires
	}
	return p, nil
}

func (s *Scanner) verifyTXT(ctx context.Context, t *Target) (bool, string) {
	want := TXTRecord(t.Token)
	var errs []string
	for _, name := range []string{TXTName(t.Value), t.Value} {
		recs, err := s.o.Resolver.LookupTXT(ctx, name)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		for _, r := range recs {
			if strings.TrimSpace(r) == want {
				return true, fmt.Sprintf("TXT %s %q", name, want)
			}
		}
	}
	if len(errs) == 2 {
		return false, "no TXT record: " + errs[0]
	}
	return false, fmt.Sprintf("no TXT record %q at %s or %s", want, TXTName(t.Value), t.Value)
}

// verifyWellKnown fetches the token from the domain's own web server. The
// fetch is one GET of a fixed path at an address the domain resolves to,
// audited like any probe.
func (s *Scanner) verifyWellKnown(ctx context.Context, g *guard, t *Target) (bool, string) {
	addrs, err := s.o.Resolver.LookupNetIP(ctx, "ip", t.Value)
	if err != nil {
		return false, "no web token: " + err.Error()
	}
	vg := &guard{s: s, run: g.run, member: g.member, by: g.by, scope: map[netip.Addr]string{}}
	defer func() { g.probes.Add(vg.probes.Load()) }()
	var hosts []host
	for _, a := range addrs {
		a = a.Unmap().WithZone("")
		if err := s.allowed(a); err != nil {
			return false, "no web token: " + err.Error()
		}
		vg.scope[a] = t.Value
		hosts = append(hosts, host{Name: t.Value, Addr: a})
	}
	var last error = errors.New("the domain has no addresses")
	for _, h := range hosts {
		for _, ep := range s.o.WellKnown {
			resp, err := vg.get(ctx, h, ep.Port, ep.Scheme == "https", WellKnownPath)
			if err != nil {
				last = err
				continue
			}
			if resp.Status == 200 && strings.TrimSpace(string(resp.Body)) == t.Token {
				return true, fmt.Sprintf("%s://%s:%d%s served the token", ep.Scheme, t.Value, ep.Port, WellKnownPath)
			}
			last = fmt.Errorf("%s://%s:%d%s: status %d without the token", ep.Scheme, t.Value, ep.Port, WellKnownPath, resp.Status)
		}
	}
	return false, "no web token: " + last.Error()
}

// Approve records an analyst's approval of a range target, valid for
// ApprovalTTL.
func (s *Scanner) Approve(ctx context.Context, targetID, by, note string) error {
	if by == "" {
		return errors.New("an approval needs the approver's name")
	}
	now := s.now()
	return s.o.Store.Approve(ctx, Approval{TargetID: targetID, By: by, At: now, Expires: now.Add(s.o.ApprovalTTL), Note: note})
}
