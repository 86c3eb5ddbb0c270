// Package config reads and checks the collector's configuration file.
//
// The file is strict YAML: an unknown setting, a value of the wrong type
// and a value that fails its check are all errors, and every error names
// the file, line and column of the setting and the setting's path, like
//
//	collector.yaml:14:13: inputs[2].listen: "0.0.0.0" has no port; write host:port, like 0.0.0.0:514
//
// All the errors in a file are reported together, in the order of their
// positions. Sample returns a complete file that explains every setting.
//
// Relative paths in the file are taken from the directory of the file
// itself, not from the working directory, so a config means the same
// wherever the collector is started. Paths left out default to files in
// collector.data_dir, which enrolment also writes the collector's
// credentials into.
package config

import (
	"crypto/ed25519"
	_ "embed" // the sample config
	"net/netip"
	"os"
	"path/filepath"
	"time"
)

// Config is the collector's configuration.
type Config struct {
	Collector Collector `yaml:"collector"`
	Inputs    []Input   `yaml:"inputs"`
	Lists     Lists     `yaml:"lists"`
	Rules     Rules     `yaml:"rules"`
	Plugins   []Plugin  `yaml:"plugins"`
	Privacy   Privacy   `yaml:"privacy"`
	Summaries Summaries `yaml:"summaries"`
	Buffer    Buffer    `yaml:"buffer"`
	Central   Central   `yaml:"central"`
	Metrics   Metrics   `yaml:"metrics"`
	Log       Log       `yaml:"log"`
	Pipeline  Pipeline  `yaml:"pipeline"`

	// File is the path the config was read from, as given.
	File string `yaml:"-"`
	pos  positions
}

// Collector says who this collector is and where it keeps its state.
type Collector struct {
	ID      string `yaml:"id"`       // optional: taken from the enrolment certificate when empty
	Member  string `yaml:"member"`   // the member organisation's id
	DataDir string `yaml:"data_dir"` // state: buffer, keys, certificates
}

// InputType is the kind of an input.
type InputType string

// Input types.
const (
	UDP   InputType = "udp"   // syslog datagrams
	TCP   InputType = "tcp"   // syslog over TCP: octet counting or newline framing
	TLS   InputType = "tls"   // syslog over TLS (RFC 5425)
	File  InputType = "file"  // a tailed log file
	Stdin InputType = "stdin" // standard input
)

// Network reports whether the input listens on a socket.
func (t InputType) Network() bool { return t == UDP || t == TCP || t == TLS }

// Stream reports whether the input accepts connections.
func (t InputType) Stream() bool { return t == TCP || t == TLS }

// Input is one source of log lines.
type Input struct {
	Name            string    `yaml:"name"`
	Type            InputType `yaml:"type"`
	Listen          string    `yaml:"listen"` // host:port, for udp, tcp and tls
	Path            string    `yaml:"path"`   // for file
	Format          string    `yaml:"format"` // a parser name, or "auto"
	Timezone        string    `yaml:"timezone"`
	MaxMessageBytes Size      `yaml:"max_message_bytes"`
	Rate            Rate      `yaml:"rate"`
	TLS             TLSFiles  `yaml:"tls"`             // for tls
	MaxConnections  int       `yaml:"max_connections"` // for tcp and tls
	StartAt         string    `yaml:"start_at"`        // for file: beginning or end, when no offset is stored
	ReadBuffer      Size      `yaml:"read_buffer"`     // for udp: the socket's receive buffer

	// Location is Timezone, loaded.
	Location *time.Location `yaml:"-"`
}

// Rate limits the lines taken from each source of an input (a sending
// address, or the input itself for a file or stdin).
type Rate struct {
	LinesPerSecond int `yaml:"lines_per_second"` // 0: no limit
	Burst          int `yaml:"burst"`
}

// TLSFiles are an input's server certificate and the CA that client
// certificates must chain to.
type TLSFiles struct {
	CertFile     string `yaml:"cert_file"`
	KeyFile      string `yaml:"key_file"`
	ClientCAFile string `yaml:"client_ca_file"` // optional: when set, senders must present a certificate
}

// Lists are the member's own ranges and the lists events are checked
// against.
type Lists struct {
	// Internal are the member's ranges beside RFC 1918, loopback,
	// link-local and unique-local addresses, which are always internal
	// (detect.DefaultInternalPrefixes).
	Internal       []netip.Prefix `yaml:"internal"`
	TrustedFiles   []string       `yaml:"trusted_files"`
	IndicatorFiles []string       `yaml:"indicator_files"`
}

// Rules chooses the detection rules and bounds correlation.
type Rules struct {
	Builtin   bool          `yaml:"builtin"`
	Dirs      []string      `yaml:"dirs"`
	Lateness  time.Duration `yaml:"lateness"`
	MaxGroups int           `yaml:"max_groups"`
}

// Plugin is a parser plugin to run. The daemon turns it into a
// plugins.Spec.
type Plugin struct {
	Name         string        `yaml:"name"` // the parser name the plugin declares: a format for inputs
	Path         string        `yaml:"path"`
	SHA256       string        `yaml:"sha256"` // of the executable, lower-case hex
	Args         []string      `yaml:"args"`
	BatchTimeout time.Duration `yaml:"batch_timeout"`
}

// Privacy chooses what of an event's metadata may leave the site, beyond
// what always does (DESIGN.md §1).
type Privacy struct {
	PseudonymiseInternal bool   `yaml:"pseudonymise_internal"`
	HMACKeyFile          string `yaml:"hmac_key_file"`
	SendUserNames        bool   `yaml:"send_user_names"`
	SendURLPaths         bool   `yaml:"send_url_paths"`
}

// Summaries are the per-minute flow summaries of suspicious external
// traffic that no rule matched.
type Summaries struct {
	Enabled bool `yaml:"enabled"`
	MaxKeys int  `yaml:"max_keys"` // distinct keys kept per minute
}

// Buffer is the on-disk store of what waits to be sent.
type Buffer struct {
	Path            string        `yaml:"path"`
	MaxBytes        Size          `yaml:"max_bytes"`
	BatchMaxRecords int           `yaml:"batch_max_records"`
	BatchMaxBytes   Size          `yaml:"batch_max_bytes"`
	BatchMaxAge     time.Duration `yaml:"batch_max_age"`
}

// Central is where batches go and updates come from. The collector's
// credentials (client key and certificate, central's pinned CA, identity)
// are not set here: enrolment writes them into collector.data_dir.
type Central struct {
	URL             string        `yaml:"url"` // empty: nothing is forwarded
	Timeout         time.Duration `yaml:"timeout"`
	RetryMin        time.Duration `yaml:"retry_min"`
	RetryMax        time.Duration `yaml:"retry_max"`
	UpdatesInterval time.Duration `yaml:"updates_interval"`  // 0: no updates
	UpdatePublicKey string        `yaml:"update_public_key"` // empty: the key central gave at enrolment

	// UpdateKey is UpdatePublicKey, decoded; nil when it is empty.
	UpdateKey ed25519.PublicKey `yaml:"-"`
}

// Metrics is the HTTP listener for /metrics and /healthz.
type Metrics struct {
	Enabled     bool   `yaml:"enabled"`
	Listen      string `yaml:"listen"`
	AllowRemote bool   `yaml:"allow_remote"`
}

// Log chooses the daemon's log output.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Pipeline sizes the stages between the inputs and the buffer.
type Pipeline struct {
	QueueLines int `yaml:"queue_lines"`
	Workers    int `yaml:"workers"`
}

//go:embed sample.yaml
var sample []byte

// Sample returns the sample config: every setting, each with a comment.
func Sample() []byte { return append([]byte(nil), sample...) }

// Load reads the config file at path, applies defaults and checks it.
// knownFormats reports whether a parser name exists; "auto" is always
// known, and so is the name of each configured plugin, which is the parser
// name the plugin declares. With a nil knownFormats, formats are not
// checked here, and the caller checks them with CheckFormats.
//
// Problems in the file are reported as Errors. When the file could be read
// and only its values failed their checks, Load returns the config too, as
// read and defaulted, for tools that report more about it (config check);
// the daemon must not run with it.
func Load(path string, knownFormats func(string) bool) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, knownFormats)
}

// Parse is Load on the content of the file at path.
func Parse(path string, data []byte, knownFormats func(string) bool) (*Config, error) {
	c := &Config{File: path}
	pos, errs := decode(path, data, c)
	c.pos = pos
	if len(errs) > 0 {
		return nil, errs.err()
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	c.resolvePaths(dir)
	c.setDefaults()
	errs = c.validate()
	if knownFormats != nil {
		errs = append(errs, c.formatErrors(knownFormats)...)
	}
	return c, errs.err()
}

// Errorf returns an error about the setting at path (like
// "inputs[0].listen"), placed where the setting is written, or where its
// section is when it was left out. The daemon uses it for settings that
// fail when used, such as an address already in use.
func (c *Config) Errorf(path, format string, args ...any) *Error {
	return c.errorf(path, format, args...)
}
