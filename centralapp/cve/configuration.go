package cve

import (
	"fmt"
	"strings"
)

// A configuration is one entry of an NVD 2.0 record's "configurations":
// nodes joined by Operator (OR when empty), each node a list of CPE match
// criteria joined by its own operator. The record applies to a system when
// any of its configurations holds. The JSON names are NVD's, so the
// importer decodes straight into these types, and the store keeps them
// re-encoded without the fields matching does not use.
type configuration struct {
	Operator string `json:"operator,omitempty"`
	Negate   bool   `json:"negate,omitempty"`
	Nodes    []node `json:"nodes"`
}

type node struct {
	Operator string     `json:"operator,omitempty"`
	Negate   bool       `json:"negate,omitempty"`
	CPEMatch []cpeMatch `json:"cpeMatch"`
}

// cpeMatch is one criterion. Vulnerable false marks a platform the
// vulnerable software must run on or with ("running on Windows"), which is
// not itself vulnerable.
type cpeMatch struct {
	Vulnerable            bool   `json:"vulnerable"`
	Criteria              string `json:"criteria"`
	VersionStartIncluding string `json:"versionStartIncluding,omitempty"`
	VersionStartExcluding string `json:"versionStartExcluding,omitempty"`
	VersionEndIncluding   string `json:"versionEndIncluding,omitempty"`
	VersionEndExcluding   string `json:"versionEndExcluding,omitempty"`

	cpe CPE // Criteria, parsed by prepare
}

// truth is a three-valued (Kleene) truth: a banner names one piece of
// software, so whether a platform entry holds is not known.
type truth int8

const (
	no truth = iota
	maybe
	yes
)

func and(a, b truth) truth { return min(a, b) }
func or(a, b truth) truth  { return max(a, b) }
func not(a truth) truth    { return yes - a }

// prepare checks the configurations and parses their criteria.
func prepare(cs []configuration) error {
	for i := range cs {
		c := &cs[i]
		if err := checkOperator(c.Operator); err != nil {
			return fmt.Errorf("configuration %d: %w", i+1, err)
		}
		if len(c.Nodes) == 0 {
			return fmt.Errorf("configuration %d: no nodes", i+1)
		}
		for j := range c.Nodes {
			n := &c.Nodes[j]
			if err := checkOperator(n.Operator); err != nil {
				return fmt.Errorf("configuration %d node %d: %w", i+1, j+1, err)
			}
			if len(n.CPEMatch) == 0 {
				return fmt.Errorf("configuration %d node %d: no cpeMatch", i+1, j+1)
			}
			for k := range n.CPEMatch {
				m := &n.CPEMatch[k]
				var err error
				if m.cpe, err = ParseCPE(m.Criteria); err != nil {
					return fmt.Errorf("configuration %d node %d: %w", i+1, j+1, err)
				}
			}
		}
	}
	return nil
}

func checkOperator(op string) error {
	switch op {
	case "", "OR", "AND":
		return nil
	}
	return fmt.Errorf("operator %q is neither AND nor OR", op)
}

// applies evaluates a record's configurations for a system of which only
// the names are known. It returns the vulnerable criterion that a name
// matched in a configuration that holds or may hold, or nil. A platform
// entry (vulnerable false) that no name matches may hold: the banner does
// not say what the software runs on, and the finding is only potential.
// A name that matches nothing but a platform entry is no match: the
// software named is not what is vulnerable.
func applies(cs []configuration, names []CPE) *cpeMatch {
	for i := range cs {
		t, hit := cs[i].eval(names)
		if t != no && hit != nil {
			return hit
		}
	}
	return nil
}

func (c *configuration) eval(names []CPE) (truth, *cpeMatch) {
	all := c.Operator == "AND"
	t := no
	if all {
		t = yes
	}
	var hit *cpeMatch
	for i := range c.Nodes {
		nt, nh := c.Nodes[i].eval(names)
		if all {
			t = and(t, nt)
		} else {
			t = or(t, nt)
		}
		if hit == nil && nt != no {
			hit = nh
		}
	}
	if c.Negate {
		t = not(t)
	}
	return t, hit
}

func (n *node) eval(names []CPE) (truth, *cpeMatch) {
	all := n.Operator == "AND"
	t := no
	if all {
		t = yes
	}
	var hit *cpeMatch
	for i := range n.CPEMatch {
		m := &n.CPEMatch[i]
		mt := no
		if m.coversAny(names) {
			mt = yes
			if m.Vulnerable && hit == nil {
				hit = m
			}
		} else if !m.Vulnerable {
			mt = maybe
		}
		if all {
			t = and(t, mt)
		} else {
			t = or(t, mt)
		}
	}
	if n.Negate {
		// A negated node holds when its criteria do not; what matched
		// inside it is no reason for the record to apply.
		return not(t), nil
	}
	return t, hit
}

func (m *cpeMatch) coversAny(names []CPE) bool {
	for _, n := range names {
		if m.covers(n) {
			return true
		}
	}
	return false
}

func (m *cpeMatch) coversIgnoringVersion(names []CPE) bool {
	for _, n := range names {
		if m.cpe.matches(n, false) {
			return true
		}
	}
	return false
}

func (m *cpeMatch) ranged() bool {
	return m.VersionStartIncluding != "" || m.VersionStartExcluding != "" ||
		m.VersionEndIncluding != "" || m.VersionEndExcluding != ""
}

// covers reports whether the criterion matches name n, version range
// included.
func (m *cpeMatch) covers(n CPE) bool {
	ranged := m.ranged()
	if !m.cpe.matches(n, !ranged) {
		return false
	}
	if !ranged {
		return true
	}
	v := n.attr[attrVersion]
	if v.kind != 0 {
		return false
	}
	in := func(bound string, ok func(int) bool) bool {
		return bound == "" || ok(CompareVersions(rangeVersion(n, bound), bound))
	}
	return in(m.VersionStartIncluding, func(c int) bool { return c >= 0 }) &&
		in(m.VersionStartExcluding, func(c int) bool { return c > 0 }) &&
		in(m.VersionEndIncluding, func(c int) bool { return c <= 0 }) &&
		in(m.VersionEndExcluding, func(c int) bool { return c < 0 })
}

// rangeVersion is the version of n to compare with a range bound. NVD
// mostly writes OpenSSH's 8.5p1 as version 8.5, update p1, and its ranges
// on the version alone (before 9.8, so 9.7p1 is in and 9.8p1 is not); a
// bound that carries the patch level itself (4.4p1) is compared with
// version and update together.
func rangeVersion(n CPE, bound string) string {
	v, u := n.attr[attrVersion].s, n.attr[attrUpdate]
	if u.kind == 0 && strings.IndexFunc(bound, func(r rune) bool { return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' }) >= 0 {
		return v + u.s
	}
	return v
}
