package plugins

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Spec configures one plugin. The collector's config holds a list of them
// under `plugins:`, and so does a plugins file (LoadFile):
//
//	plugins:
//	  - name: kestrel_kx
//	    path: /usr/local/lib/cyberalarm/kestrel-kx
//	    sha256: 3f7a...          # sha256sum of the binary
//	    timeout: 10s             # optional; see below for the rest
type Spec struct {
	// Name is the parser name the plugin must declare.
	Name string `yaml:"name"`
	// Path is the plugin binary; relative to the config file's folder.
	Path string `yaml:"path"`
	// SHA256 pins the binary: hex SHA-256 of the file.
	SHA256 string `yaml:"sha256"`
	// Args are passed to the binary.
	Args []string `yaml:"args"`
	// Timeout is how long one batch may take before the plugin is taken as
	// hung and restarted. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// StartTimeout is how long the binary may take to start. Default 10s.
	StartTimeout time.Duration `yaml:"start_timeout"`
	// BatchLines, BatchBytes and BatchWait cap a batch by line count, bytes
	// and age. Defaults 1,000 lines, 256 KiB, 50ms.
	BatchLines int           `yaml:"batch_lines"`
	BatchBytes int           `yaml:"batch_bytes"`
	BatchWait  time.Duration `yaml:"batch_wait"`
	// InFlight is how many batches of a stream may await their answer;
	// beyond it, the stream waits, so a slow plugin pushes back. Default 4.
	InFlight int `yaml:"in_flight"`

	// File, Line and Column say where the spec was written, for errors.
	File         string `yaml:"-"`
	Line, Column int    `yaml:"-"`
}

// Defaults.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultStartTimeout = 10 * time.Second
	DefaultBatchLines   = 1000
	DefaultBatchBytes   = 256 << 10
	DefaultBatchWait    = 50 * time.Millisecond
	DefaultInFlight     = 4
)

// withDefaults fills the fields left zero.
func (s Spec) withDefaults() Spec {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&s.Timeout, DefaultTimeout)
	def(&s.StartTimeout, DefaultStartTimeout)
	def(&s.BatchWait, DefaultBatchWait)
	if s.BatchLines == 0 {
		s.BatchLines = DefaultBatchLines
	}
	if s.BatchBytes == 0 {
		s.BatchBytes = DefaultBatchBytes
	}
	if s.InFlight == 0 {
		s.InFlight = DefaultInFlight
	}
	return s
}

// ConfigError is a mistake in a plugin spec, at its place in the file.
type ConfigError struct {
	File         string
	Line, Column int
	Msg          string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// LoadFile reads a plugins file: a YAML mapping with the list under
// `plugins:`, and nothing else.
func LoadFile(path string) ([]Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlError(path, err)
	}
	if len(f.Docs) != 1 || f.Docs[0].Body == nil {
		return nil, &ConfigError{File: path, Line: 1, Column: 1, Msg: "want one YAML document with a plugins: list"}
	}
	m, ok := f.Docs[0].Body.(*ast.MappingNode)
	if !ok {
		p := f.Docs[0].Body.GetToken().Position
		return nil, &ConfigError{File: path, Line: p.Line, Column: p.Column, Msg: "want a mapping with a plugins: list"}
	}
	var list ast.Node
	for _, kv := range m.Values {
		if kv.Key.String() != "plugins" {
			p := kv.Key.GetToken().Position
			return nil, &ConfigError{File: path, Line: p.Line, Column: p.Column, Msg: fmt.Sprintf("unknown field %q: a plugins file holds only plugins:", kv.Key.String())}
		}
		list = kv.Value
	}
	if list == nil {
		return nil, &ConfigError{File: path, Line: 1, Column: 1, Msg: "plugins: missing"}
	}
	return DecodeSpecs(path, list)
}

// DecodeSpecs decodes and checks the plugin list in node, a YAML sequence
// from file: the value of a `plugins:` key. Relative binary paths are made
// relative to file's folder. Every error names file:line:column.
func DecodeSpecs(file string, node ast.Node) ([]Spec, error) {
	if _, null := node.(*ast.NullNode); null {
		return nil, nil
	}
	seq, ok := node.(*ast.SequenceNode)
	if !ok {
		p := node.GetToken().Position
		return nil, &ConfigError{File: file, Line: p.Line, Column: p.Column, Msg: "plugins: want a list"}
	}
	var out []Spec
	var errs []error
	seen := make(map[string]bool)
	for _, el := range seq.Values {
		p := el.GetToken().Position
		if m, ok := el.(*ast.MappingNode); ok && len(m.Values) > 0 {
			p = m.Values[0].Key.GetToken().Position // the token of a mapping is its first colon
		}
		s := Spec{File: file, Line: p.Line, Column: p.Column}
		if err := checkDurations(file, el); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := yaml.NodeToValue(el, &s, yaml.DisallowUnknownField()); err != nil {
			errs = append(errs, yamlError(file, err))
			continue
		}
		pos := keyPositions(el)
		errAt := func(key, format string, args ...any) {
			at, ok := pos[key]
			if !ok {
				at = [2]int{s.Line, s.Column}
			}
			errs = append(errs, &ConfigError{File: file, Line: at[0], Column: at[1], Msg: fmt.Sprintf(format, args...)})
		}
		n := len(errs)
		switch {
		case s.Name == "":
			errAt("name", "name: missing")
		case !validName.MatchString(s.Name) || s.Name == "auto":
			errAt("name", "name: %q must be lower case letters, digits and underscores, starting with a letter", s.Name)
		case seen[s.Name]:
			errAt("name", "name: plugin %q is listed twice", s.Name)
		}
		seen[s.Name] = true
		if s.Path == "" {
			errAt("path", "path: missing")
		} else if !filepath.IsAbs(s.Path) {
			// Absolute, or exec would look a bare name up in $PATH.
			abs, err := filepath.Abs(filepath.Join(filepath.Dir(file), s.Path))
			if err != nil {
				errAt("path", "path: %v", err)
			}
			s.Path = abs
		}
		if b, err := hex.DecodeString(s.SHA256); err != nil || len(b) != 32 {
			errAt("sha256", "sha256: want the 64 hex digits of the binary's SHA-256 (sha256sum FILE)")
		}
		s.SHA256 = strings.ToLower(s.SHA256)
		durations := []struct {
			key      string
			d        time.Duration
			min, max time.Duration
		}{
			{"timeout", s.Timeout, 10 * time.Millisecond, 10 * time.Minute},
			{"start_timeout", s.StartTimeout, 100 * time.Millisecond, 10 * time.Minute},
			{"batch_wait", s.BatchWait, time.Millisecond, 10 * time.Second},
		}
		for _, d := range durations {
			if d.d != 0 && (d.d < d.min || d.d > d.max) {
				errAt(d.key, "%s: %v is not from %v to %v", d.key, d.d, d.min, d.max)
			}
		}
		ints := []struct {
			key      string
			n        int
			min, max int
		}{
			{"batch_lines", s.BatchLines, 1, 100_000},
			{"batch_bytes", s.BatchBytes, 1 << 10, 16 << 20},
			{"in_flight", s.InFlight, 1, 64},
		}
		for _, c := range ints {
			if c.n != 0 && (c.n < c.min || c.n > c.max) {
				errAt(c.key, "%s: %d is not from %d to %d", c.key, c.n, c.min, c.max)
			}
		}
		if len(errs) == n {
			out = append(out, s)
		}
	}
	return out, errors.Join(errs...)
}

// checkDurations checks the duration fields of a spec node, since go-yaml's
// own duration errors do not say where they are.
func checkDurations(file string, n ast.Node) error {
	m, ok := n.(*ast.MappingNode)
	if !ok {
		return nil
	}
	for _, kv := range m.Values {
		switch kv.Key.String() {
		case "timeout", "start_timeout", "batch_wait":
			if _, err := time.ParseDuration(strings.Trim(kv.Value.String(), `"'`)); err != nil {
				p := kv.Value.GetToken().Position
				return &ConfigError{File: file, Line: p.Line, Column: p.Column,
					Msg: fmt.Sprintf("%s: %q is not a duration like 10s or 500ms", kv.Key.String(), kv.Value.String())}
			}
		}
	}
	return nil
}

// keyPositions maps the keys of a mapping node to their line and column.
func keyPositions(n ast.Node) map[string][2]int {
	out := make(map[string][2]int)
	if m, ok := n.(*ast.MappingNode); ok {
		for _, kv := range m.Values {
			p := kv.Key.GetToken().Position
			out[kv.Key.String()] = [2]int{p.Line, p.Column}
		}
	}
	return out
}

// yamlError turns a go-yaml error into a ConfigError at its position.
func yamlError(file string, err error) *ConfigError {
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		p := ye.GetToken().Position
		return &ConfigError{File: file, Line: p.Line, Column: p.Column, Msg: ye.GetMessage()}
	}
	return &ConfigError{File: file, Line: 1, Column: 1, Msg: err.Error()}
}
