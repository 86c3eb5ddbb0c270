package input

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Limits and defaults shared by every input.
const (
	// DefaultMaxMessage is the default longest message, in bytes.
	DefaultMaxMessage = 64 << 10
	// MaxMaxMessage bounds max_message: a stream input holds a buffer of
	// this size per connection.
	MaxMaxMessage = 1 << 20

	maxRate = 1e8
)

var errStarted = errors.New("input: Start called twice, or after Close")

// Common holds the settings every input has. It is inlined in each input's
// config.
type Common struct {
	// Name identifies the input in metrics, logs and batches.
	Name string `yaml:"name"`
	// Format is a parser name, or "auto" (the default) to detect each
	// line's format. Validate checks the spelling only; the daemon checks
	// that a parser of that name is registered.
	Format string `yaml:"format"`
	// TimeZone is the IANA zone of stamps that carry none, such as
	// "Europe/Amsterdam"; empty means UTC.
	TimeZone string `yaml:"time_zone"`
	// MaxMessage is the longest message kept, in bytes (default 64 KiB);
	// longer ones are dropped and counted.
	MaxMessage int `yaml:"max_message"`
	// Rate is the most lines per second taken from one source (an address,
	// or the file or stdin); 0 means no limit. Burst is how many lines a
	// source may send at once above the rate (default: one second's worth).
	Rate  float64 `yaml:"rate"`
	Burst int     `yaml:"burst"`

	loc *time.Location
}

// SettingError is a config error about one setting. Setting is the setting's
// YAML path within the input's config ("listen", "tls.cert"), so that the
// config loader can point at its line and column.
type SettingError struct {
	Setting string
	Err     error
}

func (e *SettingError) Error() string { return e.Setting + ": " + e.Err.Error() }
func (e *SettingError) Unwrap() error { return e.Err }

func settingErr(setting, format string, args ...any) error {
	return &SettingError{Setting: setting, Err: fmt.Errorf(format, args...)}
}

var formatName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// validate checks the common settings; it does not change c.
func (c *Common) validate() []error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, settingErr("name", "required"))
	}
	if c.Format != "" && c.Format != "auto" && !formatName.MatchString(c.Format) {
		errs = append(errs, settingErr("format", "%q is not a format name (see `cyberalarm-collector formats`) or auto", c.Format))
	}
	if _, err := loadZone(c.TimeZone); err != nil {
		errs = append(errs, settingErr("time_zone", "%v", err))
	}
	if c.MaxMessage < 0 || c.MaxMessage > MaxMaxMessage {
		errs = append(errs, settingErr("max_message", "%d is outside 1 to %d bytes (0 means %d)", c.MaxMessage, MaxMaxMessage, DefaultMaxMessage))
	}
	if !(c.Rate >= 0 && c.Rate <= maxRate) {
		errs = append(errs, settingErr("rate", "%v is not a rate: lines per second up to %g, or 0 for no limit", c.Rate, float64(maxRate)))
	}
	if c.Burst < 0 {
		errs = append(errs, settingErr("burst", "%d is negative", c.Burst))
	}
	if c.Burst > 0 && c.Rate == 0 {
		errs = append(errs, settingErr("burst", "set without rate"))
	}
	return errs
}

// resolve fills defaults and the zone; validate has passed.
func (c *Common) resolve() error {
	if c.Format == "" {
		c.Format = "auto"
	}
	if c.MaxMessage == 0 {
		c.MaxMessage = DefaultMaxMessage
	}
	if c.Rate > 0 && c.Burst == 0 {
		c.Burst = max(1, int(c.Rate))
	}
	loc, err := loadZone(c.TimeZone)
	c.loc = loc
	return err
}

func loadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q (want an IANA name such as Europe/Amsterdam)", name)
	}
	return loc, nil
}

// limiter returns the rate limiter for c, or nil for no limit.
func (c *Common) limiter() *limiter {
	if c.Rate == 0 {
		return nil
	}
	return newLimiter(c.Rate, c.Burst, defaultMaxSources)
}
