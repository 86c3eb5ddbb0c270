package config

import (
	"crypto/x509"
	"fmt"
	"net"
	netmail "net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Schedule makes the reports weekly and mails them (reports.schedule). The
// reports are made only when the config has this section.
type Schedule struct {
	// At is when each member's report is made, in the member's time zone:
	// "monday 07:00" (the default). It covers the seven days before.
	At string `yaml:"at"`
	// Recipients are the addresses of each member's report, by member id.
	Recipients map[string][]string `yaml:"recipients"`
	Analyst    AnalystSchedule     `yaml:"analyst"`

	// When is At, read.
	When Weekly `yaml:"-"`
}

// AnalystSchedule is when the analyst report is made and who receives it.
type AnalystSchedule struct {
	// At is "monday 08:00" by default; "off" makes no analyst report.
	At         string   `yaml:"at"`
	TimeZone   string   `yaml:"time_zone"` // IANA; default UTC
	Recipients []string `yaml:"recipients"`

	When Weekly         `yaml:"-"`
	Off  bool           `yaml:"-"`
	Loc  *time.Location `yaml:"-"`
}

// Weekly is a time of the week.
type Weekly struct {
	Weekday      time.Weekday
	Hour, Minute int
}

// SMTP is the relay that mails reports (reports.smtp). STARTTLS is
// required: a relay that does not offer it gets nothing.
type SMTP struct {
	Host string `yaml:"host"`
	Port int    `yaml:"port"` // default 587
	// Username logs in, with the password in PasswordFile; no login
	// without it.
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	// From is the sender: an address, with a name if wanted.
	From string `yaml:"from"`
	// CAFile (PEM) is the CA that signed the relay's certificate, for a
	// relay the system's roots do not know.
	CAFile  string        `yaml:"ca_file"`
	Timeout time.Duration `yaml:"timeout"`
	// A failed send is tried Attempts times in all, Backoff after the
	// first failure, doubling up to MaxBackoff.
	Attempts   int           `yaml:"attempts"`
	Backoff    time.Duration `yaml:"backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`

	Password string         `yaml:"-"` // read from PasswordFile
	RootCAs  *x509.CertPool `yaml:"-"` // read from CAFile; nil for the system's
}

func (c *Config) scheduleDefaults(dir string) {
	if s := c.Reports.Schedule; s != nil {
		if s.At == "" {
			s.At = "monday 07:00"
		}
		if s.Analyst.At == "" {
			s.Analyst.At = "monday 08:00"
		}
	}
	if m := c.Reports.SMTP; m != nil {
		if m.Port == 0 {
			m.Port = 587
		}
		if m.Timeout == 0 {
			m.Timeout = 30 * time.Second
		}
		if m.Attempts == 0 {
			m.Attempts = 8
		}
		if m.Backoff == 0 {
			m.Backoff = 5 * time.Minute
		}
		if m.MaxBackoff == 0 {
			m.MaxBackoff = 2 * time.Hour
		}
		for _, p := range []*string{&m.PasswordFile, &m.CAFile} {
			if *p != "" && !filepath.IsAbs(*p) {
				*p = filepath.Join(dir, *p)
			}
		}
	}
}

// validateSchedule checks reports.schedule and reports.smtp, and reads the
// files they name.
func (c *Config) validateSchedule(bad func(path, format string, args ...any)) {
	const sp, mp = "reports.schedule", "reports.smtp"
	if s := c.Reports.Schedule; s != nil {
		var err error
		if s.When, err = parseWeekly(s.At); err != nil {
			bad(sp+".at", "%v", err)
		}
		if s.Analyst.At == "off" {
			s.Analyst.Off = true
		} else if s.Analyst.When, err = parseWeekly(s.Analyst.At); err != nil {
			bad(sp+".analyst.at", "%v", err)
		}
		s.Analyst.Loc = time.UTC
		if s.Analyst.TimeZone != "" {
			if s.Analyst.Loc, err = time.LoadLocation(s.Analyst.TimeZone); err != nil {
				bad(sp+".analyst.time_zone", "%q is not an IANA time zone (like Europe/London)", s.Analyst.TimeZone)
			}
		}
		for member, to := range s.Recipients {
			path := sp + ".recipients." + member
			if !memberID.MatchString(member) {
				bad(path, "%q is not a member id", member)
			}
			checkAddresses(bad, path, to)
		}
		checkAddresses(bad, sp+".analyst.recipients", s.Analyst.Recipients)
		if c.Reports.SMTP == nil && (len(s.Recipients) > 0 || len(s.Analyst.Recipients) > 0) {
			bad(sp, "has recipients but reports.smtp is not set")
		}
	}
	m := c.Reports.SMTP
	if m == nil {
		return
	}
	if m.Host == "" {
		bad(mp, "host: missing: the relay's name or address")
	} else if strings.ContainsAny(m.Host, " /:") && net.ParseIP(m.Host) == nil {
		bad(mp+".host", "%q is not a host name or address", m.Host)
	}
	if m.Port < 1 || m.Port > 65535 {
		bad(mp+".port", "%d: want 1 to 65535 (587 for submission with STARTTLS)", m.Port)
	}
	if m.From == "" {
		bad(mp, "from: missing: the sender's address")
	} else if _, err := netmail.ParseAddress(m.From); err != nil {
		bad(mp+".from", "%q is not an address like \"CyberAlarm <reports@example.org>\"", m.From)
	}
	switch {
	case m.Username != "" && m.PasswordFile == "":
		bad(mp+".username", "needs password_file")
	case m.Username == "" && m.PasswordFile != "":
		bad(mp+".password_file", "needs username")
	case m.PasswordFile != "":
		b, err := os.ReadFile(m.PasswordFile)
		if err != nil {
			bad(mp+".password_file", "%v", err)
		} else if m.Password = strings.TrimRight(string(b), "\r\n"); m.Password == "" {
			bad(mp+".password_file", "%s is empty", m.PasswordFile)
		}
	}
	if m.CAFile != "" {
		pem, err := os.ReadFile(m.CAFile)
		m.RootCAs = x509.NewCertPool()
		if err != nil {
			bad(mp+".ca_file", "%v", err)
		} else if !m.RootCAs.AppendCertsFromPEM(pem) {
			bad(mp+".ca_file", "%s holds no PEM certificate", m.CAFile)
		}
	}
	if m.Timeout < time.Second {
		bad(mp+".timeout", "%s: at least 1s", m.Timeout)
	}
	if m.Attempts < 1 || m.Attempts > 100 {
		bad(mp+".attempts", "%d: want 1 to 100", m.Attempts)
	}
	if m.Backoff < time.Second {
		bad(mp+".backoff", "%s: at least 1s", m.Backoff)
	}
	if m.MaxBackoff < m.Backoff {
		bad(mp+".max_backoff", "%s is shorter than backoff %s", m.MaxBackoff, m.Backoff)
	}
}

var memberID = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

func checkAddresses(bad func(path, format string, args ...any), path string, to []string) {
	for i, a := range to {
		if _, err := netmail.ParseAddress(a); err != nil {
			bad(path, "item %d, %q, is not a mail address", i+1, a)
		}
	}
}

var weekdays = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

// parseWeekly reads "monday 07:00".
func parseWeekly(s string) (Weekly, error) {
	day, hm, ok := strings.Cut(strings.TrimSpace(s), " ")
	wd, known := weekdays[strings.ToLower(day)]
	h, m, colon := strings.Cut(strings.TrimSpace(hm), ":")
	hour, herr := strconv.Atoi(h)
	minute, merr := strconv.Atoi(m)
	if !ok || !known || !colon || len(h) != 2 || len(m) != 2 || herr != nil || merr != nil ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 {
		return Weekly{}, fmt.Errorf("%q: want a weekday and a 24-hour time, like \"monday 07:00\"", s)
	}
	return Weekly{Weekday: wd, Hour: hour, Minute: minute}, nil
}
