package cve

import (
	"strings"
)

// A product is one row of the alias table: the names a banner gives the
// software, and the CPE vendor:product pairs under which NVD files it.
type product struct {
	name    string   // as the report names it
	banners []string // lower case, as banners and headers spell it
	cpes    []string // vendor:product, as NVD's criteria write them
	// patchLevel: the banner's trailing pN is NVD's update attribute
	// (OpenSSH_8.5p1 is openssh:8.5:p1), and without one the update is
	// NA (OpenBSD's own releases).
	patchLevel bool
}

// products is the alias table. NVD's vendor names come from the product's
// history: nginx is f5:nginx in records since F5 bought it (and
// f5:nginx_open_source in the newest), nginx:nginx and igor_sysoev:nginx in
// older ones; vsftpd is beasts:vsftpd in old records and
// vsftpd_project:vsftpd in newer ones. Names that do not say which
// product's version follows are left out: "httpd" is also many embedded
// servers, and Apache-Coyote/1.1 is the version of Tomcat's connector, not
// of Tomcat.
var products = []product{
	{name: "Apache HTTP Server", banners: []string{"apache", "apache httpd", "apache-httpd"},
		cpes: []string{"apache:http_server"}},
	{name: "nginx", banners: []string{"nginx"},
		cpes: []string{"f5:nginx", "f5:nginx_open_source", "nginx:nginx", "igor_sysoev:nginx"}},
	{name: "OpenSSH", banners: []string{"openssh"}, cpes: []string{"openbsd:openssh"}, patchLevel: true},
	{name: "OpenSSL", banners: []string{"openssl"}, cpes: []string{"openssl:openssl"}},
	{name: "Exim", banners: []string{"exim"}, cpes: []string{"exim:exim"}},
	{name: "vsftpd", banners: []string{"vsftpd"}, cpes: []string{"vsftpd_project:vsftpd", "beasts:vsftpd"}},
	{name: "Microsoft IIS", banners: []string{"microsoft-iis", "iis"},
		cpes: []string{"microsoft:internet_information_services"}},
	{name: "PHP", banners: []string{"php"}, cpes: []string{"php:php"}},
	{name: "Apache Tomcat", banners: []string{"apache tomcat", "tomcat"}, cpes: []string{"apache:tomcat"}},
	{name: "lighttpd", banners: []string{"lighttpd"}, cpes: []string{"lighttpd:lighttpd"}},
	{name: "OpenResty", banners: []string{"openresty"}, cpes: []string{"openresty:openresty"}},
	{name: "Postfix", banners: []string{"postfix"}, cpes: []string{"postfix:postfix"}},
	{name: "Sendmail", banners: []string{"sendmail"}, cpes: []string{"sendmail:sendmail"}},
	{name: "Dovecot", banners: []string{"dovecot"}, cpes: []string{"dovecot:dovecot"}},
	{name: "ProFTPD", banners: []string{"proftpd"}, cpes: []string{"proftpd:proftpd"}},
	{name: "Pure-FTPd", banners: []string{"pure-ftpd", "pureftpd"}, cpes: []string{"pureftpd:pure-ftpd"}},
	{name: "Dropbear SSH", banners: []string{"dropbear"}, cpes: []string{"dropbear_ssh_project:dropbear_ssh"}},
	{name: "Squid", banners: []string{"squid"}, cpes: []string{"squid-cache:squid"}},
	{name: "Eclipse Jetty", banners: []string{"jetty"}, cpes: []string{"eclipse:jetty"}},
	{name: "Caddy", banners: []string{"caddy"}, cpes: []string{"caddyserver:caddy"}},
	{name: "Gunicorn", banners: []string{"gunicorn"}, cpes: []string{"gunicorn:gunicorn"}},
	{name: "Werkzeug", banners: []string{"werkzeug"}, cpes: []string{"palletsprojects:werkzeug"}},
	{name: "OpenSMTPD", banners: []string{"opensmtpd"}, cpes: []string{"openbsd:opensmtpd"}},
	{name: "FileZilla Server", banners: []string{"filezilla server"}, cpes: []string{"filezilla-project:filezilla_server"}},
	{name: "MySQL", banners: []string{"mysql"}, cpes: []string{"oracle:mysql"}},
	{name: "MariaDB", banners: []string{"mariadb"}, cpes: []string{"mariadb:mariadb"}},
}

// lookup finds the alias table's row for a banner's software name.
func lookup(software string) *product {
	s := strings.ToLower(strings.TrimSpace(software))
	s = strings.ReplaceAll(s, "_", "-")
	for i := range products {
		for _, b := range products[i].banners {
			if s == b {
				return &products[i]
			}
		}
	}
	return nil
}

// maxVersion bounds what Identify takes for a version: banners are short,
// and a longer one is not a version.
const maxVersion = 64

// Identify maps a banner's software and version to the CPE 2.3 names NVD
// may file it under, one per vendor:product of the alias table. ok is
// false for software the table does not know and for a version that is
// none (empty, too long, without a digit, or with bytes no version has).
func Identify(software, version string) (cpes []string, ok bool) {
	names, _, ok := identify(software, version)
	if !ok {
		return nil, false
	}
	cpes = make([]string, len(names))
	for i, n := range names {
		cpes[i] = n.String()
	}
	return cpes, true
}

func identify(software, ver string) ([]CPE, *product, bool) {
	p := lookup(software)
	if p == nil || !validVersion(ver) {
		return nil, nil, false
	}
	upd := value{kind: '*'}
	if p.patchLevel {
		upd = value{kind: '-'}
		if v, lvl, ok := cutPatchLevel(ver); ok {
			ver, upd = v, value{s: lvl}
		}
	}
	names := make([]CPE, len(p.cpes))
	for i, vp := range p.cpes {
		ven, prod, _ := strings.Cut(vp, ":")
		n := &names[i]
		for j := range n.attr {
			n.attr[j].kind = '*'
		}
		n.attr[attrPart] = value{s: "a"}
		n.attr[attrVendor] = value{s: ven}
		n.attr[attrProduct] = value{s: prod}
		n.attr[attrVersion] = value{s: strings.ToLower(ver)}
		n.attr[attrUpdate] = upd
	}
	return names, p, true
}

func validVersion(v string) bool {
	if v == "" || len(v) > maxVersion || !isDigit(v[0]) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !isAlnum(c) && !strings.ContainsRune(".-_+~", rune(c)) {
			return false
		}
	}
	return true
}

// cutPatchLevel splits 8.5p1 into 8.5 and p1.
func cutPatchLevel(v string) (ver, lvl string, ok bool) {
	i := strings.LastIndexByte(v, 'p')
	if i <= 0 || i == len(v)-1 || !isDigit(v[i-1]) {
		return v, "", false
	}
	for j := i + 1; j < len(v); j++ {
		if !isDigit(v[j]) {
			return v, "", false
		}
	}
	return v[:i], v[i:], true
}

// adviceFor is the remedy for a record whose configurations cs match
// names of p: the fixed version where the record's criteria for the
// software give one, and the caution that distributions backport fixes
// without changing the version a banner shows.
func adviceFor(p *product, cs []configuration, names []CPE, kev bool) string {
	var b strings.Builder
	switch fix, after := fixedVersion(cs, names); {
	case fix != "":
		if p.patchLevel && !strings.Contains(fix, "p") {
			fix += "p1" // the first portable release of that version
		}
		b.WriteString("Upgrade " + p.name + " to " + fix + " or later.")
	case after != "":
		b.WriteString("Upgrade " + p.name + " to a release later than " + after + ".")
	default:
		b.WriteString("Upgrade " + p.name + " to a current release of a supported series.")
	}
	b.WriteString(" Distributions backport fixes without changing the version: if the package's security updates are installed, check its changelog for this CVE before upgrading.")
	if kev {
		b.WriteString(" CISA lists this CVE as exploited in the wild: treat it as urgent.")
	}
	return b.String()
}

// fixedVersion finds where the record's vulnerable criteria for the named
// software end: fix is the first version past every one of them (a range
// up to but not including fix), after the last version they include (a
// range up to and including it, or an exact version). Both are empty if
// a criterion has no upper end.
func fixedVersion(cs []configuration, names []CPE) (fix, after string) {
	for _, c := range cs {
		for _, n := range c.Nodes {
			for i := range n.CPEMatch {
				m := &n.CPEMatch[i]
				if !m.Vulnerable || !m.coversIgnoringVersion(names) {
					continue
				}
				var end string
				incl := true
				switch v := m.cpe.attr[attrVersion]; {
				case m.VersionEndExcluding != "":
					end, incl = m.VersionEndExcluding, false
				case m.VersionEndIncluding != "":
					end = m.VersionEndIncluding
				case !m.ranged() && v.kind == 0 && v.wild == nil:
					end = v.s
				default:
					return "", ""
				}
				top := fix
				if after != "" && (top == "" || CompareVersions(after, top) >= 0) {
					top = after
				}
				if top == "" || CompareVersions(end, top) > 0 || CompareVersions(end, top) == 0 && incl {
					fix, after = "", ""
					if incl {
						after = end
					} else {
						fix = end
					}
				}
			}
		}
	}
	return fix, after
}
