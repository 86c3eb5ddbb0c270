package detect

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"github.com/bits-and-blooms/bloom/v3"
	"github.com/gaissmai/bart"
)

// List is a set of addresses, CIDR ranges and host names: a member's trusted
// sources, or an indicator list of known-bad sources.
//
// Exact addresses and names go into a Bloom filter, which answers the
// common question ("is this attacker trusted?" — no) without touching the
// exact set, and which is the compact form in which central ships indicator
// lists. A Bloom filter has false positives, so:
//
//   - A list loaded from text keeps the exact set too, and every Bloom hit is
//     confirmed against it: a false positive can never drop an attacker's
//     events.
//   - A list that arrived as a filter alone (FilterList) cannot confirm; its
//     hits are "possible" and its false-positive rate is bounded by the rate
//     it was built with (FilterFPRate, configurable). Such lists are only
//     used to mark events (indicators), never to drop them.
//
// CIDR ranges live in a bart table. A List is read-only once built and safe
// for concurrent use.
type List struct {
	Name   string
	filter *bloom.BloomFilter
	addrs  map[netip.Addr]struct{} // nil for a filter-only list
	names  map[string]struct{}
	cidrs  bart.Lite
	nCIDR  int
}

// FilterFPRate is the false-positive rate lists' Bloom filters are built
// for.
const FilterFPRate = 1e-4

// NewList builds a list from addresses, prefixes and host names.
func NewList(name string, addrs []netip.Addr, prefixes []netip.Prefix, names []string) *List {
	n := uint(len(addrs) + len(names))
	l := &List{
		Name:   name,
		filter: bloom.NewWithEstimates(max(n, 64), FilterFPRate),
		addrs:  make(map[netip.Addr]struct{}, len(addrs)),
		names:  make(map[string]struct{}, len(names)),
	}
	var key [16]byte
	for _, a := range addrs {
		a = a.Unmap()
		l.addrs[a] = struct{}{}
		key = a.As16()
		l.filter.Add(key[:])
	}
	for _, s := range names {
		s = strings.ToLower(strings.TrimSuffix(s, "."))
		l.names[s] = struct{}{}
		l.filter.AddString(s)
	}
	for _, p := range prefixes {
		l.cidrs.Insert(p.Masked())
		l.nCIDR++
	}
	return l
}

// FilterList wraps a Bloom filter that arrived without its exact set (an
// indicator list from central): its hits are possible, not certain.
func FilterList(name string, f *bloom.BloomFilter) *List {
	return &List{Name: name, filter: f}
}

// Exact reports whether the list can confirm its Bloom hits.
func (l *List) Exact() bool { return l.addrs != nil }

// Len returns the number of exact entries and ranges.
func (l *List) Len() int { return len(l.addrs) + len(l.names) + l.nCIDR }

// ContainsAddr reports whether a is on the list, by exact address or range.
func (l *List) ContainsAddr(a netip.Addr) bool {
	if l == nil || !a.IsValid() {
		return false
	}
	a = a.Unmap()
	if l.nCIDR > 0 && l.cidrs.Contains(a) {
		return true
	}
	key := a.As16()
	if !l.filter.Test(key[:]) {
		return false
	}
	if l.addrs == nil {
		return true // filter-only: a possible hit, see List
	}
	_, ok := l.addrs[a]
	return ok
}

// ContainsName reports whether the host name s is on the list.
func (l *List) ContainsName(s string) bool {
	if l == nil || s == "" {
		return false
	}
	s = strings.ToLower(strings.TrimSuffix(s, "."))
	if !l.filter.TestString(s) {
		return false
	}
	if l.addrs == nil {
		return true
	}
	_, ok := l.names[s]
	return ok
}

// Contains reports whether s, an address or a host name, is on the list.
func (l *List) Contains(s string) bool {
	if a, err := netip.ParseAddr(s); err == nil {
		return l.ContainsAddr(a)
	}
	return l.ContainsName(s)
}

// ListError is an error in a list file, with its place.
type ListError struct {
	File   string
	Line   int
	Column int
	Msg    string
}

func (e *ListError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// ParseList reads a list: one IP address, CIDR range or host name per line;
// '#' starts a comment. file names the source in errors.
func ParseList(name, file string, r io.Reader) (*List, error) {
	var e listEntries
	if err := e.parse(file, r); err != nil {
		return nil, err
	}
	return NewList(name, e.addrs, e.prefixes, e.names), nil
}

// LoadList reads a list file.
func LoadList(name, path string) (*List, error) {
	return LoadLists(name, path)
}

// LoadLists reads several list files into one list.
func LoadLists(name string, paths ...string) (*List, error) {
	var e listEntries
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		err = e.parse(path, f)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return NewList(name, e.addrs, e.prefixes, e.names), nil
}

type listEntries struct {
	addrs    []netip.Addr
	prefixes []netip.Prefix
	names    []string
}

func (e *listEntries) parse(file string, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		col := len(text) - len(strings.TrimLeft(text, " \t")) + 1
		entry := strings.TrimSpace(text)
		if entry == "" {
			continue
		}
		if strings.ContainsAny(entry, " \t") {
			return &ListError{file, line, col, fmt.Sprintf("%q: one entry per line", entry)}
		}
		switch {
		case strings.Contains(entry, "/"):
			p, err := netip.ParsePrefix(entry)
			if err != nil {
				return &ListError{file, line, col, fmt.Sprintf("%q is not a CIDR range: %v", entry, err)}
			}
			e.prefixes = append(e.prefixes, p)
		default:
			if a, err := netip.ParseAddr(entry); err == nil {
				e.addrs = append(e.addrs, a)
				continue
			}
			if !validHostName(entry) {
				return &ListError{file, line, col, fmt.Sprintf("%q is not an IP address, CIDR range or host name", entry)}
			}
			e.names = append(e.names, entry)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

func validHostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i] | 0x20
			if !(c >= 'a' && c <= 'z' || label[i] >= '0' && label[i] <= '9' || label[i] == '-' || label[i] == '_') {
				return false
			}
		}
	}
	// An all-numeric dotted name is a malformed address, not a host.
	return strings.Trim(s, "0123456789.") != ""
}
