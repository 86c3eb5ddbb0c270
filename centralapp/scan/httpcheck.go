package scan

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// securityHeaders are the response headers every site should send, with
// what their absence risks.
var securityHeaders = []struct {
	Name, Check string
	TLSOnly     bool
	Advice      string
}{
	{"Strict-Transport-Security", "header.hsts", true,
		"Send Strict-Transport-Security (for example max-age=31536000; includeSubDomains) so browsers never fall back to plain HTTP."},
	{"Content-Security-Policy", "header.csp", false,
		"Send a Content-Security-Policy that allows scripts only from your own origins: it blunts cross-site scripting."},
	{"X-Frame-Options", "header.x-frame-options", false,
		"Send X-Frame-Options: DENY (or CSP frame-ancestors) so other sites cannot frame yours for clickjacking."},
	{"X-Content-Type-Options", "header.x-content-type-options", false,
		"Send X-Content-Type-Options: nosniff so browsers do not guess content types."},
	{"Referrer-Policy", "header.referrer-policy", false,
		"Send Referrer-Policy: strict-origin-when-cross-origin (or stricter) so URLs do not leak to other sites."},
}

// sensitivePath is a file or page that should never be public, with a
// check of its content: a site that answers 200 to every path (a custom
// "not found" page) is no finding.
type sensitivePath struct {
	Path     string
	Title    string
	Severity Severity
	Match    func(body []byte) bool
	Advice   string
	// Quote shows the start of the body as evidence; paths whose content
	// may hold secrets are described, not quoted.
	Quote bool
}

var (
	gitHeadRE  = regexp.MustCompile(`\A(ref: refs/[^\s]+|[0-9a-f]{40}|[0-9a-f]{64})\s*\z`)
	envLineRE  = regexp.MustCompile(`(?m)^[A-Z][A-Z0-9_]*=\S*`)
	htpasswdRE = regexp.MustCompile(`(?m)\A[^:\s<>]+:(\$apr1\$|\$2[aby]\$|\{SHA\}|\$[156]\$|[./0-9A-Za-z]{13}\s*$)`)
	sqlDumpRE  = regexp.MustCompile(`(?m)^(-- MySQL dump|-- PostgreSQL database dump|CREATE TABLE|INSERT INTO)`)
)

func notHTML(b []byte) bool {
	t := bytes.ToLower(bytes.TrimSpace(b[:min(len(b), 512)]))
	return !bytes.HasPrefix(t, []byte("<!doctype")) && !bytes.HasPrefix(t, []byte("<html")) && !bytes.Contains(t, []byte("<body"))
}

var sensitivePaths = []sensitivePath{
	{"/.git/HEAD", "Git repository exposed", High,
		func(b []byte) bool { return gitHeadRE.Match(b) },
		"Block /.git/ on the web server and remove the repository from the web root: it gives away the site's source code and often its secrets.", true},
	{"/.git/config", "Git repository configuration exposed", High,
		func(b []byte) bool { return notHTML(b) && bytes.Contains(b, []byte("[core]")) },
		"Block /.git/ on the web server and remove the repository from the web root.", false},
	{"/.env", "Environment file with secrets exposed", Critical,
		func(b []byte) bool { return notHTML(b) && len(envLineRE.FindAll(b, 2)) >= 2 },
		"Remove .env from the web root and rotate every password and key in it: assume they are known.", false},
	{"/.htpasswd", "Password file exposed", High,
		func(b []byte) bool { return notHTML(b) && htpasswdRE.Match(b) },
		"Move .htpasswd out of the web root and change the passwords in it.", false},
	{"/server-status", "Apache server status page exposed", Medium,
		func(b []byte) bool { return bytes.Contains(b, []byte("Apache Server Status for")) },
		"Restrict mod_status to local addresses (Require local): it shows who visits which URL.", true},
	{"/server-info", "Apache server information page exposed", Medium,
		func(b []byte) bool { return bytes.Contains(b, []byte("Apache Server Information")) },
		"Disable mod_info or restrict it to local addresses: it shows the server's whole configuration.", false},
	{"/phpinfo.php", "phpinfo() page exposed", Medium,
		func(b []byte) bool {
			return bytes.Contains(b, []byte("<title>PHP ")) && bytes.Contains(b, []byte("phpinfo()")) || bytes.Contains(b, []byte(">PHP Version <"))
		},
		"Delete phpinfo pages from production servers: they list versions, paths and settings.", false},
	{"/.svn/wc.db", "Subversion working copy exposed", High,
		func(b []byte) bool { return bytes.HasPrefix(b, []byte("SQLite format 3\x00")) },
		"Block /.svn/ on the web server and remove the working copy from the web root.", false},
	{"/.DS_Store", "macOS folder index exposed", Low,
		func(b []byte) bool { return bytes.HasPrefix(b, []byte("\x00\x00\x00\x01Bud1")) },
		"Delete .DS_Store files from the web root: they list the folder's files.", false},
	{"/backup.sql", "Database dump exposed", Critical,
		func(b []byte) bool { return notHTML(b) && sqlDumpRE.Match(b) },
		"Remove database dumps from the web root and treat the data in them as leaked.", false},
	{"/wp-config.php.bak", "WordPress configuration backup exposed", Critical,
		func(b []byte) bool {
			return bytes.Contains(b, []byte("DB_PASSWORD")) && bytes.Contains(b, []byte("define("))
		},
		"Delete backup copies of wp-config.php and change the database password.", false},
	{"/.aws/credentials", "Cloud credentials exposed", Critical,
		func(b []byte) bool { return notHTML(b) && bytes.Contains(b, []byte("aws_access_key_id")) },
		"Remove the file and revoke the keys in it at once.", false},
	{"/actuator/env", "Spring Boot actuator exposed", High,
		func(b []byte) bool { return bytes.Contains(b, []byte(`"propertySources"`)) },
		"Expose Spring Boot actuator endpoints only on a management port that the internet cannot reach.", false},
}

// httpChecks checks a web service's headers and sensitive paths, and
// returns its findings and the software banners it sent.
func (s *Scanner) httpChecks(ctx context.Context, g *guard, h host, port uint16, secure bool, root *response, base Finding) ([]Finding, []string) {
	var out []Finding
	var banners []string
	for _, hdr := range []string{"Server", "X-Powered-By"} {
		v := root.Header.Get(hdr)
		if v == "" {
			continue
		}
		line := hdr + ": " + printable([]byte(v))
		banners = append(banners, line)
		f := base
		f.Check, f.Kind, f.Severity = "service."+strings.ToLower(hdr), KindService, Info
		f.Title = "Web server announces " + hdr
		f.Evidence = clip(line, 300)
		f.Advice = "Banners that name software and version tell attackers which exploits to try (Apache: ServerTokens Prod; nginx: server_tokens off; PHP: expose_php = Off)."
		if len(ParseSoftware(v)) > 0 {
			f.Severity = Low
			f.Title = "Web server discloses software versions in " + hdr
		}
		out = append(out, f)
	}
	for _, sh := range securityHeaders {
		if sh.TLSOnly && !secure || root.Header.Get(sh.Name) != "" {
			continue
		}
		if sh.Name == "X-Frame-Options" && strings.Contains(root.Header.Get("Content-Security-Policy"), "frame-ancestors") {
			continue
		}
		f := base
		f.Check, f.Kind, f.Severity = sh.Check, KindHeader, Low
		f.Title = "Missing " + sh.Name + " header"
		f.Evidence = fmt.Sprintf("GET / answered %d without %s", root.Status, sh.Name)
		f.Advice = sh.Advice
		out = append(out, f)
	}

	// A random path first: what the server answers for a page that cannot
	// exist. A sensitive path whose answer is the same page is no finding.
	b := make([]byte, 12)
	rand.Read(b)
	baseline, _ := g.get(ctx, h, port, secure, "/cyberalarm-"+hex.EncodeToString(b))
	for _, sp := range sensitivePaths {
		if ctx.Err() != nil {
			break
		}
		resp, err := g.get(ctx, h, port, secure, sp.Path)
		if err != nil || resp.Status != http.StatusOK || !sp.Match(resp.Body) {
			continue
		}
		if baseline != nil && baseline.Status == http.StatusOK && bytes.Equal(baseline.Body, resp.Body) {
			continue
		}
		f := base
		f.Check, f.Kind, f.Severity, f.Title, f.Advice = "path."+sp.Path, KindPath, sp.Severity, sp.Title, sp.Advice
		if sp.Quote {
			f.Evidence = fmt.Sprintf("GET %s answered 200 with: %s", sp.Path, clip(printable(bytes.TrimSpace(resp.Body[:min(len(resp.Body), 80)])), 80))
		} else {
			f.Evidence = fmt.Sprintf("GET %s answered 200 with %d bytes that match its format (not shown: they may hold secrets)", sp.Path, len(resp.Body))
		}
		out = append(out, f)
	}
	return out, banners
}
