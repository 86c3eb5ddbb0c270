// Package parsers holds CyberAlarm's built-in log parsers, the registry that
// names them, auto-detection of a line's format, and Stream, which takes a
// raw line through syslog framing and a parser to a normalised event.
package parsers

import (
	"fmt"
	"regexp"
	"sort"

	"github.com/cyberalarm/cyberalarm/detect"
)

// Registry maps parser names to parsers. It is filled once, at start-up, and
// is then read-only and safe for concurrent use.
type Registry struct {
	infos  []detect.ParserInfo
	byName map[string]int
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{byName: make(map[string]int)}
}

var validName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Register adds a parser. It panics on a duplicate or malformed name, or a
// missing constructor: these are programming errors, found at start-up.
func (r *Registry) Register(info detect.ParserInfo) {
	if !validName.MatchString(info.Name) || info.Name == "auto" {
		panic(fmt.Sprintf("parsers: invalid parser name %q", info.Name))
	}
	if _, dup := r.byName[info.Name]; dup {
		panic(fmt.Sprintf("parsers: parser %q registered twice", info.Name))
	}
	if info.New == nil {
		panic(fmt.Sprintf("parsers: parser %q has no New", info.Name))
	}
	if info.Sniff == nil && len(info.Tags) == 0 {
		panic(fmt.Sprintf("parsers: parser %q has neither Tags nor Sniff, so auto-detection cannot find it", info.Name))
	}
	r.byName[info.Name] = len(r.infos)
	r.infos = append(r.infos, info)
}

// Lookup returns the parser registered under name.
func (r *Registry) Lookup(name string) (detect.ParserInfo, bool) {
	i, ok := r.byName[name]
	if !ok {
		return detect.ParserInfo{}, false
	}
	return r.infos[i], true
}

// All returns every registered parser, sorted by name.
func (r *Registry) All() []detect.ParserInfo {
	out := append([]detect.ParserInfo(nil), r.infos...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	var out []string
	for _, in := range r.All() {
		out = append(out, in.Name)
	}
	return out
}
