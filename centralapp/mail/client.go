// Package mail sends reports by SMTP: the HTML inline with a plain-text
// alternative, the PDF attached, over a connection that STARTTLS must
// encrypt. A [Deliverer] retries failed sends with backoff and records
// every attempt in central's store.
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	netmail "net/mail"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Defaults for zero Config fields.
const (
	DefaultPort    = 587 // submission, STARTTLS
	DefaultTimeout = 30 * time.Second
)

// Config is how to reach the mail relay.
type Config struct {
	Host string
	Port int
	// Username and Password log in after STARTTLS; no login when
	// Username is empty.
	Username, Password string
	// From is the sender, an address with an optional name:
	// "CyberAlarm <reports@example.org>".
	From string
	// TLS verifies the relay; nil verifies Host against the system's
	// roots. TLS 1.2 is the least accepted either way.
	TLS *tls.Config
	// Timeout bounds one connection, from dial to QUIT.
	Timeout time.Duration
}

// Client sends mail through one relay. It is safe for concurrent use:
// each send has its own connection.
type Client struct {
	cfg Config
}

// NewClient checks cfg and returns a client for it.
func NewClient(cfg Config) (*Client, error) {
	if cfg.Host == "" {
		return nil, errors.New("mail: no relay host")
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("mail: port %d out of range", cfg.Port)
	}
	if _, err := netmail.ParseAddress(cfg.From); err != nil {
		return nil, fmt.Errorf("mail: from %q: %w", cfg.From, err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.TLS == nil {
		cfg.TLS = &tls.Config{}
	} else {
		cfg.TLS = cfg.TLS.Clone()
	}
	if cfg.TLS.ServerName == "" {
		cfg.TLS.ServerName = cfg.Host
	}
	cfg.TLS.MinVersion = max(cfg.TLS.MinVersion, tls.VersionTLS12)
	return &Client{cfg: cfg}, nil
}

// Send mails m to one recipient: one connection, one attempt. A relay
// that offers no STARTTLS, or whose certificate does not verify, gets
// nothing: not the login, not the mail.
func (c *Client) Send(ctx context.Context, m Message, to string) error {
	msg, err := compose(m, c.cfg.From, to)
	if err != nil {
		return err
	}
	opts := []gomail.Option{
		gomail.WithPort(c.cfg.Port),
		gomail.WithTLSPolicy(gomail.TLSMandatory),
		gomail.WithTLSConfig(c.cfg.TLS),
		gomail.WithTimeout(c.cfg.Timeout),
	}
	if c.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(c.cfg.Username), gomail.WithPassword(c.cfg.Password))
	}
	cl, err := gomail.NewClient(c.cfg.Host, opts...)
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	if err := cl.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail to %s via %s:%d: %w", to, c.cfg.Host, c.cfg.Port, err)
	}
	return nil
}
