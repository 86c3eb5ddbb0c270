package config

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults of settings that are left out.
const (
	DefaultDataDir         = "/var/lib/cyberalarm-collector"
	DefaultMetricsListen   = "127.0.0.1:9464"
	DefaultMaxMessageBytes = 64 << 10
	DefaultMaxConnections  = 1024
	DefaultReadBuffer      = Size(32 << 20)
)

// resolvePaths makes the relative paths in c absolute, from dir.
func (c *Config) resolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&c.Collector.DataDir)
	for i := range c.Inputs {
		in := &c.Inputs[i]
		abs(&in.Path)
		abs(&in.TLS.CertFile)
		abs(&in.TLS.KeyFile)
		abs(&in.TLS.ClientCAFile)
	}
	for _, l := range [][]string{c.Lists.TrustedFiles, c.Lists.IndicatorFiles, c.Rules.Dirs} {
		for i := range l {
			abs(&l[i])
		}
	}
	for i := range c.Plugins {
		abs(&c.Plugins[i].Path)
	}
	abs(&c.Privacy.HMACKeyFile)
	abs(&c.Buffer.Path)
}

// setDefaults fills in the settings that were left out. Paths it fills in
// are under the data directory, which is absolute by now.
func (c *Config) setDefaults() {
	def(c, "collector.data_dir", &c.Collector.DataDir, DefaultDataDir)
	data := func(name string) string { return filepath.Join(c.Collector.DataDir, name) }

	for i := range c.Inputs {
		in, p := &c.Inputs[i], fmt.Sprintf("inputs[%d]", i)
		def(c, p+".format", &in.Format, "auto")
		def(c, p+".timezone", &in.Timezone, "UTC")
		def(c, p+".max_message_bytes", &in.MaxMessageBytes, DefaultMaxMessageBytes)
		def(c, p+".rate.burst", &in.Rate.Burst, in.Rate.LinesPerSecond)
		if in.Type.Stream() {
			def(c, p+".max_connections", &in.MaxConnections, DefaultMaxConnections)
		}
		if in.Type == File {
			def(c, p+".start_at", &in.StartAt, "beginning")
		}
		if in.Type == UDP {
			def(c, p+".read_buffer", &in.ReadBuffer, DefaultReadBuffer)
		}
	}
	def(c, "rules.builtin", &c.Rules.Builtin, true)
	def(c, "rules.lateness", &c.Rules.Lateness, 5*time.Minute)
	def(c, "rules.max_groups", &c.Rules.MaxGroups, 250_000)
	for i := range c.Plugins {
		def(c, fmt.Sprintf("plugins[%d].batch_timeout", i), &c.Plugins[i].BatchTimeout, 10*time.Second)
	}
	def(c, "privacy.hmac_key_file", &c.Privacy.HMACKeyFile, data("pseudonym.key"))
	def(c, "summaries.enabled", &c.Summaries.Enabled, true)
	def(c, "summaries.max_keys", &c.Summaries.MaxKeys, 100_000)
	def(c, "buffer.path", &c.Buffer.Path, data("buffer.db"))
	def(c, "buffer.max_bytes", &c.Buffer.MaxBytes, 1<<30)
	def(c, "buffer.batch_max_records", &c.Buffer.BatchMaxRecords, 10_000)
	def(c, "buffer.batch_max_bytes", &c.Buffer.BatchMaxBytes, 4<<20)
	def(c, "buffer.batch_max_age", &c.Buffer.BatchMaxAge, 10*time.Second)
	def(c, "central.timeout", &c.Central.Timeout, 30*time.Second)
	def(c, "central.retry_min", &c.Central.RetryMin, time.Second)
	def(c, "central.retry_max", &c.Central.RetryMax, 5*time.Minute)
	def(c, "central.updates_interval", &c.Central.UpdatesInterval, 15*time.Minute)
	def(c, "metrics.enabled", &c.Metrics.Enabled, true)
	def(c, "metrics.listen", &c.Metrics.Listen, DefaultMetricsListen)
	def(c, "log.level", &c.Log.Level, "info")
	def(c, "log.format", &c.Log.Format, "text")
	def(c, "pipeline.queue_lines", &c.Pipeline.QueueLines, 8192)
	def(c, "pipeline.workers", &c.Pipeline.Workers, runtime.GOMAXPROCS(0))
}

// def sets the setting at path to v unless it was written.
func def[T any](c *Config, path string, p *T, v T) {
	if !c.pos.set(path) {
		*p = v
	}
}

var (
	validID   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	validHost = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)
)

// checker gathers the errors of a config.
type checker struct {
	c    *Config
	errs Errors
}

func (k *checker) bad(path, format string, args ...any) {
	k.errs = append(k.errs, k.c.errorf(path, format, args...))
}

// between checks that the number at path is from lo to hi.
func between[T int | Size | time.Duration](k *checker, path string, v, lo, hi T) {
	if v < lo || v > hi {
		k.bad(path, "%v is not from %v to %v", v, lo, hi)
	}
}

// id checks an identifier: a member, collector, input or plugin name.
func (k *checker) id(path, v string) {
	if !validID.MatchString(v) {
		k.bad(path, "%q must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", v)
	}
}

// only reports a setting written for an input type that does not use it.
func (k *checker) only(path, types string) {
	if k.c.pos.set(path) {
		k.bad(path, "only for %s inputs", types)
	}
}

func (c *Config) validate() Errors {
	k := &checker{c: c}
	if c.Collector.ID != "" {
		k.id("collector.id", c.Collector.ID)
	}
	if c.Collector.Member == "" {
		k.bad("collector.member", "missing: the member organisation's id is needed")
	} else {
		k.id("collector.member", c.Collector.Member)
	}
	k.inputs()
	k.lists()
	k.rules()
	k.plugins()
	between(k, "summaries.max_keys", c.Summaries.MaxKeys, 1, 10_000_000)
	k.buffer()
	k.central()
	k.metrics()
	k.log()
	between(k, "pipeline.queue_lines", c.Pipeline.QueueLines, 16, 1<<24)
	between(k, "pipeline.workers", c.Pipeline.Workers, 1, 1024)
	return k.errs
}

// listener is a socket an input or the metrics server binds.
type listener struct {
	path, proto string // proto: "tcp" or "udp"
	host        string
	port        int
}

func (k *checker) inputs() {
	c := k.c
	if len(c.Inputs) == 0 {
		k.bad("inputs", "at least one input is needed")
	}
	names := map[string]int{}
	files := map[string]int{}
	stdin := -1
	// The metrics server goes first, so that an input that takes its port
	// is the one reported.
	var socks []listener
	if c.Metrics.Enabled {
		if host, port, err := splitListen(c.Metrics.Listen); err == nil {
			socks = append(socks, listener{"metrics.listen", "tcp", host, port})
		}
	}
	for i := range c.Inputs {
		in, p := &c.Inputs[i], fmt.Sprintf("inputs[%d]", i)
		switch {
		case in.Name == "":
			k.bad(p+".name", "missing")
		case names[in.Name] > 0:
			k.bad(p+".name", "%q is also the name of inputs[%d]", in.Name, names[in.Name]-1)
		default:
			k.id(p+".name", in.Name)
			names[in.Name] = i + 1
		}
		switch in.Type {
		case UDP, TCP, TLS, File, Stdin:
		case "":
			k.bad(p+".type", "missing: one of udp, tcp, tls, file or stdin")
		default:
			k.bad(p+".type", "%q is not one of udp, tcp, tls, file or stdin", in.Type)
		}

		if in.Type.Network() {
			if in.Listen == "" {
				k.bad(p+".listen", "missing: the host:port to listen on, like 0.0.0.0:514")
			} else if host, port, err := splitListen(in.Listen); err != nil {
				k.bad(p+".listen", "%v", err)
			} else {
				proto := "tcp"
				if in.Type == UDP {
					proto = "udp"
				}
				socks = append(socks, listener{p + ".listen", proto, host, port})
			}
		} else {
			k.only(p+".listen", "udp, tcp and tls")
		}

		if in.Type == File {
			if in.Path == "" {
				k.bad(p+".path", "missing: the log file to follow")
			} else if j, dup := files[in.Path]; dup {
				k.bad(p+".path", "%s is also followed by inputs[%d]", in.Path, j)
			} else {
				files[in.Path] = i
			}
		} else {
			k.only(p+".path", "file")
		}
		if in.Type == Stdin {
			if stdin >= 0 {
				k.bad(p+".type", "inputs[%d] already reads stdin", stdin)
			}
			stdin = i
		}

		if loc, err := time.LoadLocation(in.Timezone); err != nil || in.Timezone == "" {
			k.bad(p+".timezone", "%q is not a time zone like UTC or Europe/London", in.Timezone)
		} else {
			in.Location = loc
		}
		between(k, p+".max_message_bytes", in.MaxMessageBytes, 1<<10, 64<<20)
		if in.Rate.LinesPerSecond < 0 {
			k.bad(p+".rate.lines_per_second", "%d is negative; 0 means no limit", in.Rate.LinesPerSecond)
		}
		if in.Rate.LinesPerSecond == 0 && in.Rate.Burst != 0 {
			k.bad(p+".rate.burst", "needs rate.lines_per_second")
		} else if in.Rate.LinesPerSecond > 0 && in.Rate.Burst < 1 {
			k.bad(p+".rate.burst", "%d must be at least 1", in.Rate.Burst)
		}

		if in.Type == TLS {
			if in.TLS.CertFile == "" {
				k.bad(p+".tls.cert_file", "missing: the server certificate, PEM")
			}
			if in.TLS.KeyFile == "" {
				k.bad(p+".tls.key_file", "missing: the server certificate's key, PEM")
			}
		} else {
			k.only(p+".tls", "tls")
		}
		if in.Type.Stream() {
			between(k, p+".max_connections", in.MaxConnections, 1, 1<<20)
		} else {
			k.only(p+".max_connections", "tcp and tls")
		}
		if in.Type == File {
			if in.StartAt != "beginning" && in.StartAt != "end" {
				k.bad(p+".start_at", "%q: want beginning or end", in.StartAt)
			}
		} else {
			k.only(p+".start_at", "file")
		}
		if in.Type == UDP {
			between(k, p+".read_buffer", in.ReadBuffer, 64<<10, 1<<30)
		} else {
			k.only(p+".read_buffer", "udp")
		}
	}
	for j, b := range socks {
		for _, a := range socks[:j] {
			if a.proto == b.proto && a.port == b.port && a.port != 0 &&
				(a.host == b.host || wildcard(a.host) || wildcard(b.host)) {
				k.bad(b.path, "%s port %d is also taken by %s", b.proto, b.port, parent(a.path))
				break
			}
		}
	}
}

// wildcard reports whether a listening host means every address.
func wildcard(host string) bool {
	if host == "" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsUnspecified()
}

// splitListen checks a host:port to listen on. Port 0 takes any free port.
func splitListen(s string) (host string, port int, err error) {
	host, ps, err := net.SplitHostPort(s)
	if err != nil {
		if !strings.Contains(s, ":") || strings.Count(s, ":") > 1 && !strings.HasPrefix(s, "[") {
			return "", 0, fmt.Errorf("%q has no port; write host:port, like 0.0.0.0:514 or [::]:514", s)
		}
		return "", 0, fmt.Errorf("%q is not host:port, like 0.0.0.0:514 or [::]:514", s)
	}
	port, err = strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q in %q is not a number from 0 to 65535", ps, s)
	}
	if _, err := netip.ParseAddr(host); err != nil && host != "" && !validHost.MatchString(host) {
		return "", 0, fmt.Errorf("host %q in %q is not an IP address or host name", host, s)
	}
	return host, port, nil
}

func (k *checker) lists() {
	c := k.c
	for i, f := range c.Lists.TrustedFiles {
		if f == "" {
			k.bad(fmt.Sprintf("lists.trusted_files[%d]", i), "empty file name")
		}
	}
	// An indicator list is named by its file's base name (threat.feed.name),
	// so two lists may not share one.
	feeds := map[string]int{}
	for i, f := range c.Lists.IndicatorFiles {
		p := fmt.Sprintf("lists.indicator_files[%d]", i)
		name := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
		if f == "" {
			k.bad(p, "empty file name")
		} else if j, dup := feeds[name]; dup {
			k.bad(p, "list name %q (the file's base name) is also the name of lists.indicator_files[%d]", name, j)
		} else {
			feeds[name] = i
		}
	}
}

func (k *checker) rules() {
	r := &k.c.Rules
	if !r.Builtin && len(r.Dirs) == 0 {
		k.bad("rules.builtin", "false, and rules.dirs names no folder: no rule would run")
	}
	for i, d := range r.Dirs {
		if d == "" {
			k.bad(fmt.Sprintf("rules.dirs[%d]", i), "empty folder name")
		}
	}
	between(k, "rules.lateness", r.Lateness, 0, 24*time.Hour)
	between(k, "rules.max_groups", r.MaxGroups, 1, 100_000_000)
}

func (k *checker) plugins() {
	names := map[string]int{}
	for i := range k.c.Plugins {
		pl, p := &k.c.Plugins[i], fmt.Sprintf("plugins[%d]", i)
		switch {
		case pl.Name == "":
			k.bad(p+".name", "missing")
		case names[pl.Name] > 0:
			k.bad(p+".name", "%q is also the name of plugins[%d]", pl.Name, names[pl.Name]-1)
		default:
			k.id(p+".name", pl.Name)
			names[pl.Name] = i + 1
		}
		if pl.Path == "" {
			k.bad(p+".path", "missing: the plugin's executable")
		}
		if b, err := hex.DecodeString(pl.SHA256); err != nil || len(b) != 32 {
			k.bad(p+".sha256", "want the SHA-256 of the executable in 64 hex digits, as sha256sum prints it")
		} else {
			pl.SHA256 = strings.ToLower(pl.SHA256)
		}
		between(k, p+".batch_timeout", pl.BatchTimeout, time.Millisecond, 10*time.Minute)
	}
}

func (k *checker) buffer() {
	b := &k.c.Buffer
	between(k, "buffer.max_bytes", b.MaxBytes, 16<<20, 1<<50)
	between(k, "buffer.batch_max_records", b.BatchMaxRecords, 1, 1_000_000)
	between(k, "buffer.batch_max_bytes", b.BatchMaxBytes, 4<<10, 64<<20)
	if b.BatchMaxBytes > b.MaxBytes/4 && b.MaxBytes >= 16<<20 {
		k.bad("buffer.batch_max_bytes", "%v is more than a quarter of buffer.max_bytes (%v)", b.BatchMaxBytes, b.MaxBytes)
	}
	between(k, "buffer.batch_max_age", b.BatchMaxAge, 100*time.Millisecond, time.Hour)
}

func (k *checker) central() {
	c := &k.c.Central
	switch u, err := url.Parse(c.URL); {
	case c.URL == "":
	case err != nil:
		k.bad("central.url", "%q is not a URL", c.URL)
	case u.Scheme != "https":
		k.bad("central.url", "%q: central is reached over https only", c.URL)
	case u.Host == "" || u.Hostname() == "":
		k.bad("central.url", "%q has no host", c.URL)
	case u.User != nil:
		k.bad("central.url", "%q holds a user name; the collector authenticates with its certificate", c.URL)
	case u.RawQuery != "" || u.Fragment != "":
		k.bad("central.url", "%q: no query or fragment, please", c.URL)
	}
	between(k, "central.timeout", c.Timeout, time.Second, 10*time.Minute)
	between(k, "central.retry_min", c.RetryMin, 10*time.Millisecond, time.Hour)
	between(k, "central.retry_max", c.RetryMax, c.RetryMin, 24*time.Hour)
	if c.UpdatesInterval != 0 {
		between(k, "central.updates_interval", c.UpdatesInterval, time.Second, 7*24*time.Hour)
	}
	switch key, err := base64.StdEncoding.DecodeString(c.UpdatePublicKey); {
	case c.UpdatePublicKey == "":
	case err != nil || len(key) != ed25519.PublicKeySize:
		k.bad("central.update_public_key", "want an ed25519 public key: %d bytes in base64", ed25519.PublicKeySize)
	default:
		c.UpdateKey = ed25519.PublicKey(key)
	}
}

func (k *checker) metrics() {
	m := &k.c.Metrics
	if !m.Enabled {
		return
	}
	host, _, err := splitListen(m.Listen)
	if err != nil {
		k.bad("metrics.listen", "%v", err)
		return
	}
	a, aerr := netip.ParseAddr(host)
	if !m.AllowRemote && host != "localhost" && (aerr != nil || !a.IsLoopback()) {
		k.bad("metrics.listen", "%q is reachable from other hosts; use a loopback address, or set metrics.allow_remote", m.Listen)
	}
}

func (k *checker) log() {
	if _, err := k.c.Log.slogLevel(); err != nil {
		k.bad("log.level", "%q is not one of debug, info, warn or error", k.c.Log.Level)
	}
	if f := k.c.Log.Format; f != "text" && f != "json" {
		k.bad("log.format", "%q is not text or json", f)
	}
}

// SlogLevel is Level for log/slog.
func (l Log) SlogLevel() slog.Level {
	v, _ := l.slogLevel()
	return v
}

func (l Log) slogLevel() (slog.Level, error) {
	i := slices.Index([]string{"debug", "info", "warn", "error"}, l.Level)
	if i < 0 {
		return slog.LevelInfo, fmt.Errorf("unknown level %q", l.Level)
	}
	return slog.Level(4*i - 4), nil
}

func (c *Config) errorf(path, format string, args ...any) *Error {
	p := c.pos.at(path)
	return &Error{File: c.File, Line: p.line, Column: p.col, Path: path, Msg: fmt.Sprintf(format, args...)}
}

// formatErrors checks each input's format: auto, a name known says is a
// parser, or the name of a configured plugin, which is the parser name the
// plugin declares.
func (c *Config) formatErrors(known func(string) bool) Errors {
	var errs Errors
	for i, in := range c.Inputs {
		if in.Format == "auto" || known(in.Format) ||
			slices.ContainsFunc(c.Plugins, func(p Plugin) bool { return p.Name == in.Format }) {
			continue
		}
		errs = append(errs, c.errorf(fmt.Sprintf("inputs[%d].format", i),
			"unknown format %q: no built-in parser or configured plugin has it (cyberalarm-collector formats lists them), or use auto", in.Format))
	}
	return errs
}

// CheckFormats checks each input's format against known, for a caller that
// has its registry of parsers only after Load.
func (c *Config) CheckFormats(known func(string) bool) error {
	return c.formatErrors(known).err()
}

// CheckFiles checks that the files and folders the operator provides can be
// read: rule folders, lists, inputs' TLS files, plugin executables and,
// when pseudonymising, the HMAC key. Load does not, so that a config can be
// checked away from its host. Files the collector writes itself (the
// buffer, enrolment's credentials) and the log files that inputs follow,
// which may not exist yet, are not checked.
func (c *Config) CheckFiles() error {
	var errs Errors
	file := func(path, name string, exec bool) {
		f, err := os.Open(name)
		if err != nil {
			errs = append(errs, c.errorf(path, "%v", err))
			return
		}
		defer f.Close()
		switch st, err := f.Stat(); {
		case err != nil:
			errs = append(errs, c.errorf(path, "%v", err))
		case !st.Mode().IsRegular():
			errs = append(errs, c.errorf(path, "%s is not a regular file", name))
		case exec && st.Mode().Perm()&0o111 == 0:
			errs = append(errs, c.errorf(path, "%s is not executable", name))
		}
	}
	for i, d := range c.Rules.Dirs {
		if st, err := os.Stat(d); err != nil {
			errs = append(errs, c.errorf(fmt.Sprintf("rules.dirs[%d]", i), "%v", err))
		} else if !st.IsDir() {
			errs = append(errs, c.errorf(fmt.Sprintf("rules.dirs[%d]", i), "%s is not a folder", d))
		}
	}
	for i, f := range c.Lists.TrustedFiles {
		file(fmt.Sprintf("lists.trusted_files[%d]", i), f, false)
	}
	for i, f := range c.Lists.IndicatorFiles {
		file(fmt.Sprintf("lists.indicator_files[%d]", i), f, false)
	}
	for i, in := range c.Inputs {
		p := fmt.Sprintf("inputs[%d].tls.", i)
		for _, f := range []struct{ key, name string }{
			{"cert_file", in.TLS.CertFile}, {"key_file", in.TLS.KeyFile}, {"client_ca_file", in.TLS.ClientCAFile},
		} {
			if f.name != "" {
				file(p+f.key, f.name, false)
			}
		}
	}
	for i, pl := range c.Plugins {
		file(fmt.Sprintf("plugins[%d].path", i), pl.Path, true)
	}
	if c.Privacy.PseudonymiseInternal {
		file("privacy.hmac_key_file", c.Privacy.HMACKeyFile, false)
	}
	return errs.err()
}
