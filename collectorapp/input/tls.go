package input

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
)

// TLSConfig makes a TCP input speak syslog over TLS. TLS 1.2 is the lowest
// version accepted: many devices do not speak 1.3 yet.
type TLSConfig struct {
	// Cert and Key are PEM files: the server's certificate (with any
	// intermediates after it) and its private key.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// ClientCA, when set, is a PEM file of CA certificates; clients must
	// then present a certificate that one of them signed (mutual TLS).
	ClientCA string `yaml:"client_ca"`
}

// build loads the files and returns the server config; its errors are
// SettingErrors under "tls.".
func (c *TLSConfig) build() (*tls.Config, error) {
	var errs []error
	if c.Cert == "" {
		errs = append(errs, settingErr("tls.cert", "required"))
	}
	if c.Key == "" {
		errs = append(errs, settingErr("tls.key", "required"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	cert, err := tls.LoadX509KeyPair(c.Cert, c.Key)
	if err != nil {
		return nil, settingErr("tls.cert", "%v", err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.ClientCA != "" {
		pem, err := os.ReadFile(c.ClientCA)
		if err != nil {
			return nil, settingErr("tls.client_ca", "%v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, settingErr("tls.client_ca", "%s holds no PEM certificate", c.ClientCA)
		}
		conf.ClientCAs = pool
		conf.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return conf, nil
}
