// Package config reads central's configuration: strict YAML in which every
// error names its file, line and column.
package config

import (
	_ "embed" // the sample config
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/cyberalarm/cyberalarm/centralapp/queue"
)

// Config is central's configuration.
type Config struct {
	// Listen is where collectors (mTLS) and the API are served.
	Listen string `yaml:"listen"`
	// OpsListen, if set, is where /healthz and /metrics are served in
	// plain HTTP, for operators' probes: the only port of a worker.
	OpsListen string `yaml:"ops_listen"`
	// Hosts are the names and addresses in central's server certificate,
	// beside localhost, 127.0.0.1 and ::1.
	Hosts []string `yaml:"hosts"`
	// DataDir holds the CA, the store and the session key.
	DataDir string `yaml:"data_dir"`

	// Role is what this node does: all, ingest (the API, publishing
	// batches to the queue) or worker (storing from the queue, and the
	// shared work under a lease).
	Role  string `yaml:"role"`
	Queue Queue  `yaml:"queue"`

	Store     Store     `yaml:"store"`
	Ingest    Ingest    `yaml:"ingest"`
	Aggregate Aggregate `yaml:"aggregate"`
	Log       Log       `yaml:"log"`
	Web       Web       `yaml:"web"`
	Reports   Reports   `yaml:"reports"`
	Scan      Scan      `yaml:"scan"`

	File string `yaml:"-"`
	pos  map[string][2]int
}

// Store chooses the storage backend.
type Store struct {
	Driver        string `yaml:"driver"` // sqlite or postgres
	Path          string `yaml:"path"`   // sqlite: the database file
	RetentionDays int    `yaml:"retention_days"`
	// postgres: the connection string, or a file that holds it (read at
	// load into DSN), and the pool size per node.
	DSN      string `yaml:"dsn"`
	DSNFile  string `yaml:"dsn_file"`
	MaxConns int    `yaml:"max_conns"`
}

// Queue carries verified batches from the ingest API to the store.
type Queue struct {
	Driver       string        `yaml:"driver"` // inprocess or nats
	URLs         []string      `yaml:"urls"`   // nats: the servers
	Stream       string        `yaml:"stream"`
	Replicas     int           `yaml:"replicas"`
	DedupeWindow time.Duration `yaml:"dedupe_window"`
	MaxAge       time.Duration `yaml:"max_age"`
}

// Ingest bounds what a collector may send.
type Ingest struct {
	MaxBodyMiB    int64         `yaml:"max_body_mib"`
	MaxDecodedMiB int64         `yaml:"max_decoded_mib"`
	MaxFuture     time.Duration `yaml:"max_future"`
	MaxAge        time.Duration `yaml:"max_age"`
	Rate          float64       `yaml:"rate"` // batches a second per collector
	Burst         int           `yaml:"burst"`
	CertLifetime  time.Duration `yaml:"cert_lifetime"`
}

// Aggregate tunes the cross-member aggregation.
type Aggregate struct {
	CampaignMembers int           `yaml:"campaign_members"`
	CampaignWindow  time.Duration `yaml:"campaign_window"`
	CampaignTTL     time.Duration `yaml:"campaign_ttl"`
	PublishEvery    time.Duration `yaml:"publish_every"`
}

// Web configures the dashboard, served on Listen beside the API.
type Web struct {
	// Enabled is true unless the config says false.
	Enabled       bool          `yaml:"enabled"`
	EnrolTokenTTL time.Duration `yaml:"enrol_token_ttl"`
}

// Log sets up logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

//go:embed sample.yaml
var sample []byte

// Sample returns the documented sample config.
func Sample() []byte { return append([]byte(nil), sample...) }

// Error is a config error at a place in a file.
type Error struct {
	File         string
	Line, Column int
	Msg          string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// Load reads and checks the config at path. Relative paths in it are taken
// from the config file's folder.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse is Load on the file's content.
func Parse(path string, data []byte) (*Config, error) {
	c := &Config{File: path, Web: Web{Enabled: true}}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil {
			p := ye.GetToken().Position
			return nil, &Error{path, p.Line, p.Column, ye.GetMessage()}
		}
		return nil, &Error{File: path, Msg: err.Error()}
	}
	c.pos = map[string][2]int{}
	vals := map[string]string{}
	if len(f.Docs) > 0 && f.Docs[0].Body != nil {
		positions(f.Docs[0].Body, "", c.pos, vals)
	}
	// The YAML decoder reports a bad duration without its place.
	for _, k := range slices.Concat(durations, scanDurations) {
		if v, ok := vals[k]; ok {
			if _, err := time.ParseDuration(v); err != nil {
				p := c.pos[k]
				return nil, &Error{path, p[0], p[1], fmt.Sprintf("%s: %q is not a duration (like 90s, 10m or 24h)", k, v)}
			}
		}
	}
	if err := yaml.UnmarshalWithOptions(data, c, yaml.Strict()); err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil {
			p := ye.GetToken().Position
			return nil, &Error{path, p.Line, p.Column, ye.GetMessage()}
		}
		return nil, &Error{File: path, Msg: err.Error()}
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	c.defaults(dir)
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

var durations = []string{"ingest.max_future", "ingest.max_age", "ingest.cert_lifetime",
	"aggregate.campaign_window", "aggregate.campaign_ttl", "aggregate.publish_every",
	"queue.dedupe_window", "queue.max_age", "web.enrol_token_ttl",
	"reports.period", "reports.block_for", "reports.silent_after",
	"reports.smtp.timeout", "reports.smtp.backoff", "reports.smtp.max_backoff"}

// positions records where each setting's value is written, and its text,
// by dotted path.
func positions(n ast.Node, prefix string, out map[string][2]int, vals map[string]string) {
	m, ok := n.(*ast.MappingNode)
	if !ok {
		return
	}
	for _, kv := range m.Values {
		key := kv.Key.GetToken().Value
		if prefix != "" {
			key = prefix + "." + key
		}
		p := kv.Value.GetToken().Position
		if _, nested := kv.Value.(*ast.MappingNode); nested {
			p = kv.Key.GetToken().Position
		}
		out[key] = [2]int{p.Line, p.Column}
		if _, scalar := kv.Value.(ast.ScalarNode); scalar {
			vals[key] = kv.Value.GetToken().Value
		}
		positions(kv.Value, key, out, vals)
	}
}

func (c *Config) defaults(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8443"
	}
	if c.DataDir == "" {
		c.DataDir = "/var/lib/cyberalarm-central"
	}
	abs(&c.DataDir)
	if c.Store.Driver == "" {
		c.Store.Driver = "sqlite"
	}
	if c.Store.Path == "" {
		c.Store.Path = filepath.Join(c.DataDir, "central.db")
	}
	abs(&c.Store.Path)
	abs(&c.Store.DSNFile)
	if c.Store.RetentionDays == 0 {
		c.Store.RetentionDays = 400
	}
	if c.Aggregate.PublishEvery == 0 {
		c.Aggregate.PublishEvery = 5 * time.Minute
	}
	if c.Web.EnrolTokenTTL == 0 {
		c.Web.EnrolTokenTTL = 7 * 24 * time.Hour
	}
	if c.Role == "" {
		c.Role = "all"
	}
	if c.Queue.Driver == "" {
		c.Queue.Driver = "inprocess"
	}
	if c.Queue.Stream == "" {
		c.Queue.Stream = "INGEST"
	}
	if c.Queue.Replicas == 0 {
		c.Queue.Replicas = 1
	}
	if c.Queue.DedupeWindow == 0 {
		c.Queue.DedupeWindow = 10 * time.Minute
	}
	if c.Queue.MaxAge == 0 {
		c.Queue.MaxAge = 72 * time.Hour
	}
	c.reportDefaults(dir)
	c.scheduleDefaults(dir)
	c.scanDefaults(dir)
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
}

func (c *Config) validate() error {
	var errs []*Error
	bad := func(path, format string, args ...any) {
		p := c.pos[path]
		errs = append(errs, &Error{c.File, p[0], p[1], path + ": " + fmt.Sprintf(format, args...)})
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "%q is not host:port", c.Listen)
	}
	if c.OpsListen != "" {
		if _, _, err := net.SplitHostPort(c.OpsListen); err != nil {
			bad("ops_listen", "%q is not host:port", c.OpsListen)
		} else if c.OpsListen == c.Listen && c.Role != "worker" {
			bad("ops_listen", "%q is listen's address too; give it a port of its own", c.OpsListen)
		}
	}
	for i, h := range c.Hosts {
		if h == "" || strings.ContainsAny(h, " /:") && net.ParseIP(h) == nil {
			bad(fmt.Sprintf("hosts[%d]", i), "%q is not a host name or address", h)
		}
	}
	c.validateStore(bad)
	if c.Store.RetentionDays < 1 {
		bad("store.retention_days", "%d: at least 1", c.Store.RetentionDays)
	}
	for path, v := range map[string]int64{
		"ingest.max_body_mib": c.Ingest.MaxBodyMiB, "ingest.max_decoded_mib": c.Ingest.MaxDecodedMiB,
		"ingest.burst": int64(c.Ingest.Burst), "aggregate.campaign_members": int64(c.Aggregate.CampaignMembers),
	} {
		if v < 0 {
			bad(path, "%d must not be negative", v)
		}
	}
	for path, v := range map[string]time.Duration{
		"ingest.max_future": c.Ingest.MaxFuture, "ingest.max_age": c.Ingest.MaxAge, "ingest.cert_lifetime": c.Ingest.CertLifetime,
		"aggregate.campaign_window": c.Aggregate.CampaignWindow, "aggregate.campaign_ttl": c.Aggregate.CampaignTTL,
		"aggregate.publish_every": c.Aggregate.PublishEvery,
	} {
		if v < 0 {
			bad(path, "%s must not be negative", v)
		}
	}
	if c.Web.EnrolTokenTTL < time.Minute || c.Web.EnrolTokenTTL > 30*24*time.Hour {
		bad("web.enrol_token_ttl", "%s: want between 1m and 720h", c.Web.EnrolTokenTTL)
	}
	if c.Ingest.Rate < 0 {
		bad("ingest.rate", "%g must not be negative", c.Ingest.Rate)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q: want debug, info, warn or error", c.Log.Level)
	}
	c.validateQueue(bad)
	c.validateReports(bad)
	c.validateSchedule(bad)
	c.validateScan(bad)
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "%q: want text or json", c.Log.Format)
	}
	if len(errs) == 0 {
		return nil
	}
	sort.Slice(errs, func(i, j int) bool {
		if errs[i].Line != errs[j].Line {
			return errs[i].Line < errs[j].Line
		}
		return errs[i].Column < errs[j].Column
	})
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}

// validateQueue checks role: and queue:.
func (c *Config) validateQueue(bad func(path, format string, args ...any)) {
	q := &c.Queue
	switch c.Role {
	case "all", "ingest", "worker":
	default:
		bad("role", "%q: want all, ingest or worker", c.Role)
	}
	switch q.Driver {
	case "inprocess":
		if c.Role != "all" {
			bad("role", "%q needs queue.driver: nats; with the in-process queue one node does everything", c.Role)
		}
	case "nats":
		if len(q.URLs) == 0 {
			bad("queue", "driver nats needs urls")
		}
		for i, u := range q.URLs {
			pu, err := url.Parse(u)
			if err != nil || pu.Host == "" || pu.Scheme != "nats" && pu.Scheme != "tls" {
				bad("queue.urls", "item %d, %q, is not a NATS URL like nats://host:4222", i+1, u)
			}
		}
	default:
		bad("queue.driver", "%q: want inprocess or nats", q.Driver)
	}
	if !queue.ValidName(q.Stream) {
		bad("queue.stream", "%q: want up to 64 letters, digits, '_' and '-'", q.Stream)
	}
	if q.Replicas < 1 || q.Replicas > 5 {
		bad("queue.replicas", "%d: want 1 to 5 (3 in a 3-node cluster)", q.Replicas)
	}
	if q.DedupeWindow < 0 {
		bad("queue.dedupe_window", "%s must not be negative", q.DedupeWindow)
	}
	if q.MaxAge < time.Minute {
		bad("queue.max_age", "%s: at least 1m", q.MaxAge)
	} else if q.DedupeWindow > q.MaxAge {
		bad("queue.dedupe_window", "%s is longer than queue.max_age %s", q.DedupeWindow, q.MaxAge)
	}
}
