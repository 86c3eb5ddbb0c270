package scan

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// fixture is a service the tests start on 127.0.0.1.
type fixture struct {
	Name string
	Port uint16
}

// startHTTP serves h on a loopback port until the test ends; with conf
// it serves HTTPS.
func startHTTP(t *testing.T, h http.Handler, conf *tls.Config) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: discardLog()}
	if conf != nil {
		ln = tls.NewListener(ln, conf)
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// startBanner accepts connections and writes banner to each, then waits
// for the client to hang up.
func startBanner(t *testing.T, banner string) uint16 {
	t.Helper()
	return startBannerFunc(t, func() string { return banner })
}

// startBannerFunc is startBanner with the banner of the moment: a service
// upgraded between scans.
func startBannerFunc(t *testing.T, banner func() string) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				c.Write([]byte(banner()))
				buf := make([]byte, 512)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// Fixed dates keep the certificate findings' evidence stable.
var (
	certBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	certAfter  = time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
)

// expiredSelfSigned makes a self-signed certificate for old.example.test
// that expired on 2021-01-01.
func expiredSelfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "old.example.test", Organization: []string{"Fixture"}},
		NotBefore: certBefore, NotAfter: certAfter, DNSNames: []string{"old.example.test"},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// validCert makes a certificate for name, signed by a throwaway CA, valid
// around now.
func validCert(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: certBefore, NotAfter: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// startFixtures starts the fixture services and returns them.
func startFixtures(t *testing.T) []fixture {
	t.Helper()
	notFound := func(server string, extra http.Header) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Server", server)
			for k, v := range extra {
				w.Header()[k] = v
			}
			if r.URL.Path == "/" {
				fmt.Fprintln(w, "<!doctype html><title>Welcome</title><p>It works!")
				return
			}
			http.NotFound(w, r)
		})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'self'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		switch r.URL.Path {
		case "/":
			fmt.Fprintln(w, "<!doctype html><title>Shop</title>")
		case "/.git/HEAD":
			fmt.Fprint(w, "ref: refs/heads/main\n")
		case "/.git/config":
			// A site generator's page that mentions [core]: HTML, so no
			// finding.
			fmt.Fprint(w, "<!doctype html><p>Set [core] options in your config.</p>")
		default:
			http.NotFound(w, r)
		}
	})
	// The catch-all answers 200 to every path, with a page that even
	// echoes the path and looks like the files' formats.
	catchAll := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, "<!doctype html><html><body><h1>Sorry</h1><p>%s was not found. ref: refs/heads/main [core] DB_PASSWORD aws_access_key_id</p></body></html>", r.URL.Path)
	})
	tls10 := &tls.Config{
		Certificates: []tls.Certificate{expiredSelfSigned(t)},
		MinVersion:   tls.VersionTLS10, MaxVersion: tls.VersionTLS10,
		CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA},
	}
	modern := &tls.Config{Certificates: []tls.Certificate{validCert(t, "www.member.test")}, MinVersion: tls.VersionTLS12}
	hsts := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range map[string]string{"Strict-Transport-Security": "max-age=31536000", "X-Frame-Options": "DENY",
			"Content-Security-Policy": "default-src 'self'", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
			w.Header().Set(k, v)
		}
		if r.URL.Path != "/" {
			http.NotFound(w, r)
		}
	})
	return []fixture{
		{"apache", startHTTP(t, notFound("Apache/2.4.49 (Unix)", http.Header{"X-Powered-By": {"PHP/7.4.3"}}), nil)},
		{"nginx", startHTTP(t, notFound("nginx/1.20.0", nil), nil)},
		{"openssh", startBanner(t, "SSH-2.0-OpenSSH_8.5p1 Debian-1\r\n")},
		{"tls10", startHTTP(t, notFound("", nil), tls10)},
		{"gitleak", startHTTP(t, mux, nil)},
		{"catchall", startHTTP(t, catchAll, nil)},
		{"vsftpd", startBanner(t, "220 (vsFTPd 2.3.4)\r\n")},
		{"exim", startBanner(t, "220-mail.member.test ESMTP Exim 4.89 Mon, 02 Nov 2026 10:00:00 +0000\r\n220 Spam is not welcome\r\n")},
		{"modern", startHTTP(t, hsts, modern)},
	}
}

// fakeResolver answers for the test's domains: every name resolves to
// 127.0.0.1, and TXT records come from a map.
type fakeResolver struct {
	mu      sync.Mutex
	txt     map[string][]string
	addrs   map[string][]netip.Addr
	lookups int
}

func (r *fakeResolver) LookupTXT(_ context.Context, name string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lookups++
	if v, ok := r.txt[name]; ok {
		return v, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lookups++
	if v, ok := r.addrs[host]; ok {
		return v, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func (r *fakeResolver) setTXT(name string, v ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.txt[name] = v
}

// fakeCVE is a stand-in for the CVE database with the fixture feed's
// answers for the fixtures' banners.
type fakeCVE map[string][]Vuln

func (f fakeCVE) Match(_ context.Context, software, version string) ([]Vuln, error) {
	return f[software+" "+version], nil
}

func (f fakeCVE) Imported(context.Context) (time.Time, error) {
	return time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), nil
}

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
