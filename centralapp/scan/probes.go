package scan

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// userAgent says who is asking, so a member's web logs explain the scan.
const userAgent = "CyberAlarm-Scanner/1 (authorised scan for a CyberAlarm member; connect-only)"

// maxBody bounds what is read of an HTTP response.
const maxBody = 64 << 10

// connectPort is a TCP connect probe: open, closed or filtered.
func (g *guard) connectPort(ctx context.Context, h host, port uint16) (bool, error) {
	p, err := g.dial(ctx, "tcp-connect", "", h.Addr, port)
	if err != nil {
		if errors.Is(err, ErrOutOfScope) || context.Cause(ctx) != nil {
			return false, err
		}
		return false, nil
	}
	p.finish(ctx, "open")
	return true, nil
}

// greeting reads what a server says first, waiting at most wait for it:
// a line, or an SMTP/FTP multi-line reply, or a binary hello (MySQL). The
// connection is closed politely where the protocol has a word for it.
func (g *guard) greeting(ctx context.Context, h host, port uint16, wait time.Duration) (string, error) {
	p, err := g.dial(ctx, "greeting", "read the server's greeting", h.Addr, port)
	if err != nil {
		return "", err
	}
	p.SetReadDeadline(time.Now().Add(min(wait, g.s.o.Timeout)))
	br := bufio.NewReaderSize(io.LimitReader(p, 4096), 4096)
	var out []byte
	for range 10 {
		line, err := br.ReadSlice('\n')
		out = append(out, line...)
		if err != nil || !multiline(line) {
			break
		}
	}
	text := string(out)
	switch {
	case len(out) == 0:
		p.finish(ctx, "silent")
		return "", nil
	case strings.HasPrefix(text, "220"), strings.HasPrefix(text, "+OK"):
		p.Write([]byte("QUIT\r\n"))
	case strings.HasPrefix(text, "* OK"):
		p.Write([]byte("a LOGOUT\r\n"))
	}
	p.finish(ctx, "greeting: "+clip(firstLine(text), 200))
	return text, nil
}

// multiline reports whether an SMTP/FTP reply line says more lines follow
// ("220-...").
func multiline(line []byte) bool {
	return len(line) > 3 && line[3] == '-' && line[0] >= '1' && line[0] <= '5'
}

// tlsHello completes one TLS handshake with conf and returns the
// connection's state.
func (g *guard) tlsHello(ctx context.Context, h host, port uint16, conf *tls.Config, detail string) (tls.ConnectionState, error) {
	p, err := g.dial(ctx, "tls", detail, h.Addr, port)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	c := tls.Client(p, conf)
	err = c.HandshakeContext(ctx)
	if err != nil {
		p.finish(ctx, "handshake failed: "+clip(err.Error(), 200))
		return tls.ConnectionState{}, err
	}
	st := c.ConnectionState()
	p.finish(ctx, fmt.Sprintf("handshake: %s %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite)))
	return st, nil
}

// clientTLS is the base config of every probe: certificates are examined
// by the checks, not verified by the handshake.
func clientTLS(name string, minV, maxV uint16) *tls.Config {
	conf := &tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // the scan inspects the certificate itself
		MinVersion:         minV,
		MaxVersion:         maxV,
	}
	if !isAddr(name) {
		conf.ServerName = name
	}
	return conf
}

// response is what an HTTP probe read.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// get sends one GET for path, over TLS when secure, and reads the
// response: no redirects followed, no body beyond maxBody, the connection
// closed after it.
func (g *guard) get(ctx context.Context, h host, port uint16, secure bool, path string) (*response, error) {
	p, err := g.dial(ctx, "http", "GET "+path, h.Addr, port)
	if err != nil {
		return nil, err
	}
	var rw io.ReadWriter = p
	if secure {
		c := tls.Client(p, clientTLS(h.Name, tls.VersionTLS10, tls.VersionTLS13))
		if err := c.HandshakeContext(ctx); err != nil {
			p.finish(ctx, "handshake failed: "+clip(err.Error(), 200))
			return nil, err
		}
		rw = c
	}
	hostHdr := h.Name
	if isAddr(hostHdr) && h.Addr.Is6() {
		hostHdr = "[" + hostHdr + "]"
	}
	if !(secure && port == 443 || !secure && port == 80) {
		hostHdr = fmt.Sprintf("%s:%d", hostHdr, port)
	}
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\nConnection: close\r\n\r\n", path, hostHdr, userAgent)
	if _, err := io.WriteString(rw, req); err != nil {
		p.finish(ctx, "error: "+err.Error())
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(rw), nil)
	if err != nil {
		p.finish(ctx, "not HTTP: "+clip(err.Error(), 200))
		return nil, fmt.Errorf("not HTTP: %w", err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	if err != nil && len(body) == 0 && !errors.Is(err, io.ErrUnexpectedEOF) {
		p.finish(ctx, fmt.Sprintf("%d, body unreadable: %v", resp.StatusCode, err))
		return nil, err
	}
	p.finish(ctx, fmt.Sprintf("%d, %d bytes", resp.StatusCode, len(body)))
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

func isAddr(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// clip cuts s to n bytes at most, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// printable makes wire bytes safe to show: control bytes become '.'.
func printable(b []byte) string {
	b = bytes.TrimRight(b, "\r\n\x00")
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' || r == 0x7f || r == '\uFFFD' {
			return '.'
		}
		return r
	}, string(b))
}
