package scan

import (
	"regexp"
	"strings"
)

// Software is a product and version a banner names.
type Software struct {
	Name    string // as the CVE database's alias table knows it: Apache, nginx, OpenSSH, ...
	Version string
}

// products are the names banners use, in the form the CVE database takes
// (its alias table maps them to NVD's CPE names). Keys are lower case.
var products = map[string]string{
	"apache": "Apache", "apache-coyote": "Apache-Coyote", "nginx": "nginx", "openresty": "OpenResty",
	"microsoft-iis": "Microsoft-IIS", "lighttpd": "lighttpd", "litespeed": "LiteSpeed", "caddy": "Caddy",
	"jetty": "Jetty", "tomcat": "Tomcat", "apache tomcat": "Tomcat", "gunicorn": "gunicorn", "werkzeug": "Werkzeug",
	"openssh": "OpenSSH", "dropbear": "dropbear", "openssl": "OpenSSL", "php": "PHP", "asp.net": "ASP.NET",
	"exim": "Exim", "sendmail": "Sendmail", "postfix": "Postfix", "opensmtpd": "OpenSMTPD",
	"vsftpd": "vsftpd", "proftpd": "ProFTPD", "pure-ftpd": "Pure-FTPd", "filezilla server": "FileZilla Server",
	"dovecot": "Dovecot", "cyrus": "Cyrus", "courier": "Courier", "mysql": "MySQL", "mariadb": "MariaDB",
}

// productRE finds "Name/1.2.3", "Name_1.2p1", "Name 4.89" and "Name v2.4" in
// free text; versions start with a digit.
var productRE = regexp.MustCompile(`(?i)\b(apache-coyote|apache tomcat|apache|nginx|openresty|microsoft-iis|lighttpd|litespeed|caddy|jetty|tomcat|gunicorn|werkzeug|openssh|dropbear|openssl|php|asp\.net|exim|sendmail|postfix|opensmtpd|vsftpd|proftpd|pure-ftpd|filezilla server|dovecot|cyrus|courier|mysql|mariadb)(?:[/_ ]|[ /]v)(\d[0-9A-Za-z.+~-]*)`)

// ParseSoftware returns the products and versions named in a banner: an
// HTTP Server or X-Powered-By value, an SSH ident line, or a greeting.
func ParseSoftware(banner string) []Software {
	var out []Software
	for _, m := range productRE.FindAllStringSubmatch(banner, -1) {
		v := strings.TrimRight(m[2], ".-+~")
		name := products[strings.ToLower(m[1])]
		if name == "MySQL" || name == "MariaDB" {
			// "5.5.5-10.6.12-MariaDB": the part before the first '-' is
			// the protocol's compatibility version.
			v, _, _ = strings.Cut(v, "-")
		}
		dup := false
		for _, s := range out {
			dup = dup || s.Name == name && s.Version == v
		}
		if !dup {
			out = append(out, Software{Name: name, Version: v})
		}
	}
	return out
}

// mysqlVersion reads the server version from a MySQL protocol 10
// handshake: a 4-byte packet header, the protocol byte 10, then the
// version up to a zero byte.
func mysqlVersion(b []byte) (string, bool) {
	if len(b) < 6 || b[4] != 10 {
		return "", false
	}
	end := strings.IndexByte(string(b[5:]), 0)
	if end <= 0 || end > 64 {
		return "", false
	}
	return string(b[5 : 5+end]), true
}

// classify names the service behind a greeting; hint is the port's usual
// service.
func classify(greeting, hint string) string {
	g := strings.ToUpper(greeting)
	switch {
	case strings.HasPrefix(g, "SSH-"):
		return "ssh"
	case strings.HasPrefix(g, "* OK"), strings.HasPrefix(g, "* PREAUTH"):
		return "imap"
	case strings.HasPrefix(g, "+OK"):
		return "pop3"
	case strings.HasPrefix(g, "RFB "):
		return "vnc"
	case strings.HasPrefix(g, "@RSYNCD:"):
		return "rsync"
	case strings.HasPrefix(g, "220"):
		if strings.Contains(g, "SMTP") || strings.Contains(g, "MAIL") || hint == "smtp" || hint == "submission" {
			return "smtp"
		}
		return "ftp"
	}
	if _, ok := mysqlVersion([]byte(greeting)); ok {
		return "mysql"
	}
	if hint != "" {
		return hint
	}
	return "unknown"
}
