package demo

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/cyberalarm/cyberalarm/centralapp/config"
	"github.com/cyberalarm/cyberalarm/centralapp/report"
	"github.com/cyberalarm/cyberalarm/centralapp/scan"
	"github.com/cyberalarm/cyberalarm/centralapp/service"
)

// fixtures are the demo's own services on 127.0.0.1, standing in for a
// member's internet-facing hosts: an old Apache with its .git folder
// exposed, an SSH server, a TLS 1.0 server with an expired self-signed
// certificate.
type fixtures struct {
	ports []uint16
	lns   []net.Listener
	srvs  []*http.Server
	wg    sync.WaitGroup
}

func (f *fixtures) close() {
	for _, s := range f.srvs {
		s.Close()
	}
	for _, ln := range f.lns {
		ln.Close()
	}
	f.wg.Wait()
}

func (f *fixtures) listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f.ports = append(f.ports, uint16(ln.Addr().(*net.TCPAddr).Port))
	return ln, nil
}

func (f *fixtures) http(h http.Handler, conf *tls.Config) error {
	ln, err := f.listen()
	if err != nil {
		return err
	}
	if conf != nil {
		ln = tls.NewListener(ln, conf)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
	f.srvs = append(f.srvs, srv)
	f.wg.Go(func() { srv.Serve(ln) })
	return nil
}

func (f *fixtures) banner(text string) error {
	ln, err := f.listen()
	if err != nil {
		return err
	}
	f.lns = append(f.lns, ln)
	f.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Write([]byte(text))
			c.Close()
		}
	})
	return nil
}

func startFixtures() (*fixtures, error) {
	f := &fixtures{}
	apache := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "Apache/2.4.49 (Unix)")
		switch r.URL.Path {
		case "/":
			fmt.Fprintln(w, "<!doctype html><title>Harbour Logistics</title><p>Welcome")
		case "/.git/HEAD":
			fmt.Fprint(w, "ref: refs/heads/main\n")
		default:
			http.NotFound(w, r)
		}
	})
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "intranet.example.test"},
		DNSNames: []string{"intranet.example.test"}, NotBefore: time.Now().AddDate(-2, 0, 0), NotAfter: time.Now().AddDate(0, -3, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	old := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}
	errs := []error{
		f.http(apache, nil),
		f.banner("SSH-2.0-OpenSSH_8.5p1 Debian-1\r\n"),
		f.http(http.NotFoundHandler(), old),
		f.banner("220 (vsFTPd 2.3.4)\r\n"),
	}
	if err := errors.Join(errs...); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

// scanDemo scans the demo's fixtures as the proven range of one member
// (the one the web exploit scenario went to, so the report's join with
// the threat data has something to show) and writes its Vulnerability
// Assessment Report into DIR/reports.
func scanDemo(ctx context.Context, svc *service.Service, cfg *config.Config, out, corpus string, feeds map[string][]string) ([]string, error) {
	ids := make([]string, 0, len(feeds))
	for id := range feeds {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if len(ids) == 0 {
		return nil, nil
	}
	memberID := ids[0]
	for _, id := range ids {
		if slices.ContainsFunc(feeds[id], func(f string) bool { return strings.Contains(f, "web_exploits") }) {
			memberID = id
		}
	}
	fx, err := startFixtures()
	if err != nil {
		return nil, err
	}
	defer fx.close()

	sc := cfg.Scan
	sc.AllowNonPublic = true // the fixtures are on 127.0.0.1
	for _, p := range fx.ports {
		sc.Ports = append(sc.Ports, int(p))
	}
	s, err := scan.Open(ctx, sc, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if corpus != "" {
		for _, name := range []string{"nvdcve-2.0-fixture.json", "kev-fixture.json"} {
			fh, err := os.Open(filepath.Join(corpus, "cve", name))
			if err != nil {
				return nil, err
			}
			_, err = s.CVE.DB.Import(ctx, name, fh)
			fh.Close()
			if err != nil {
				return nil, fmt.Errorf("cve import %s: %w", name, err)
			}
		}
	}
	t := scan.Target{ID: ulid.Make().String(), MemberID: memberID, Kind: scan.TargetRange, Value: "127.0.0.1/32", Token: scan.NewToken(), Created: time.Now().UTC()}
	if err := s.Store.AddTarget(ctx, t); err != nil {
		return nil, err
	}
	if err := s.Approve(ctx, t.ID, "demo-analyst", "the demo's own fixture services"); err != nil {
		return nil, err
	}
	res, err := s.Run(ctx, memberID, "demo")
	if err != nil {
		return nil, err
	}
	r, err := scan.BuildReport(ctx, s.Store, svc.Store, s.CVE, memberID, time.Now())
	if err != nil {
		return nil, err
	}
	printer, perr := report.NewPrinter(cfg.Reports.Chromium)
	if perr == nil {
		defer printer.Close()
	}
	o, err := r.Render(ctx, printer)
	if err != nil {
		return nil, err
	}
	if err := svc.Store.PutReport(ctx, o.Stored); err != nil {
		return nil, fmt.Errorf("storing the report: %w", err)
	}
	files, err := o.WriteFiles(filepath.Join(out, "reports"))
	if err != nil {
		return nil, err
	}
	lines := []string{fmt.Sprintf("vulnerability scan of %s (its fixture services on 127.0.0.1): %s, %d findings, %d probes",
		memberID, res.Run.Status, len(res.Findings), res.Run.Probes)}
	for _, f := range files {
		lines = append(lines, "vulnerability report: "+f)
	}
	if o.PDFErr != nil {
		lines = append(lines, "vulnerability report: no PDF: "+cmp.Or(perr, o.PDFErr).Error())
	}
	return lines, nil
}
