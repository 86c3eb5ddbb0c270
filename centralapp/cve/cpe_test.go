package cve

import (
	"strings"
	"testing"
)

func TestParseCPE(t *testing.T) {
	for _, tc := range []struct {
		in, out                          string
		vendor, product, version, update string
	}{
		{in: "cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*", out: "cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*",
			vendor: "apache", product: "http_server", version: "2.4.49", update: "*"},
		{in: "cpe:2.3:a:openbsd:openssh:9.6:p1:*:*:*:*:*:*", out: "cpe:2.3:a:openbsd:openssh:9.6:p1:*:*:*:*:*:*",
			vendor: "openbsd", product: "openssh", version: "9.6", update: "p1"},
		{in: "cpe:2.3:a:openbsd:openssh:4.4:-:*:*:*:*:*:*", out: "cpe:2.3:a:openbsd:openssh:4.4:-:*:*:*:*:*:*",
			vendor: "openbsd", product: "openssh", version: "4.4", update: "-"},
		// Trailing attributes left out are ANY; case folds.
		{in: "cpe:2.3:a:F5:NGINX:1.20.0", out: "cpe:2.3:a:f5:nginx:1.20.0:*:*:*:*:*:*:*",
			vendor: "f5", product: "nginx", version: "1.20.0", update: "*"},
		// Escapes: the colon in the version is data.
		{in: `cpe:2.3:a:hp:system_management_homepage:2.1\:1:*:*:*:*:*:*:*`, out: `cpe:2.3:a:hp:system_management_homepage:2.1\:1:*:*:*:*:*:*:*`,
			vendor: "hp", product: "system_management_homepage", version: "2.1:1", update: "*"},
		{in: `cpe:2.3:a:microsoft:.net_framework:4.8:*:*:*:*:*:*:*`, out: `cpe:2.3:a:microsoft:.net_framework:4.8:*:*:*:*:*:*:*`,
			vendor: "microsoft", product: ".net_framework", version: "4.8", update: "*"},
		{in: `cpe:2.3:a:vendor:c\+\+_lib:1.0\*:*:*:*:*:*:*:*`, out: `cpe:2.3:a:vendor:c\+\+_lib:1.0\*:*:*:*:*:*:*:*`,
			vendor: "vendor", product: "c++_lib", version: "1.0*", update: "*"},
	} {
		c, err := ParseCPE(tc.in)
		if err != nil {
			t.Errorf("ParseCPE(%q): %v", tc.in, err)
			continue
		}
		if got := c.String(); got != tc.out {
			t.Errorf("ParseCPE(%q).String() = %q, want %q", tc.in, got, tc.out)
		}
		if c.Vendor() != tc.vendor || c.Product() != tc.product || c.Version() != tc.version || c.Update() != tc.update {
			t.Errorf("ParseCPE(%q) = %s %s %s %s", tc.in, c.Vendor(), c.Product(), c.Version(), c.Update())
		}
	}
}

func TestParseCPEErrors(t *testing.T) {
	for in, want := range map[string]string{
		"":                                    "not a CPE 2.3 formatted string",
		"cpe:/a:apache:http_server":           "not a CPE 2.3 formatted string",
		"cpe:2.3:":                            "no vendor and product",
		"cpe:2.3:a:apache":                    "no vendor and product",
		"cpe:2.3:a:*:http_server:1":           "no vendor and product",
		"cpe:2.3:x:apache:httpd:1":            "part must be a, o or h",
		"cpe:2.3:a:a:b:1:*:*:*:*:*:*:*:extra": "more than 11 attributes",
		`cpe:2.3:a:apache:httpd:1\`:           "ends in a backslash",
		"cpe:2.3:a:apache:httpd:1 0":          "byte CPE does not allow",
		"cpe:2.3:a:apache:httpd:\xff":         "byte CPE does not allow",
	} {
		_, err := ParseCPE(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseCPE(%q) = %v, want an error with %q", in, err, want)
		}
	}
}

func TestCPEMatches(t *testing.T) {
	for _, tc := range []struct {
		criterion, name string
		want            bool
	}{
		{"cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*", "cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*", true},
		{"cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*", "cpe:2.3:a:apache:http_server:2.4.049:*:*:*:*:*:*:*", true},
		{"cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*", "cpe:2.3:a:apache:http_server:2.4.5:*:*:*:*:*:*:*", false},
		{"cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*", "cpe:2.3:a:apache:tomcat:2.4.49:*:*:*:*:*:*:*", false},
		// The update attribute: p1 covers only p1, NA only NA, ANY all.
		{"cpe:2.3:a:openbsd:openssh:8.5:p1:*:*:*:*:*:*", "cpe:2.3:a:openbsd:openssh:8.5:p1:*:*:*:*:*:*", true},
		{"cpe:2.3:a:openbsd:openssh:8.5:p1:*:*:*:*:*:*", "cpe:2.3:a:openbsd:openssh:8.5:p2:*:*:*:*:*:*", false},
		{"cpe:2.3:a:openbsd:openssh:8.5:p1:*:*:*:*:*:*", "cpe:2.3:a:openbsd:openssh:8.5:-:*:*:*:*:*:*", false},
		{"cpe:2.3:a:openbsd:openssh:8.5:-:*:*:*:*:*:*", "cpe:2.3:a:openbsd:openssh:8.5:-:*:*:*:*:*:*", true},
		{"cpe:2.3:a:openbsd:openssh:8.5:-:*:*:*:*:*:*", "cpe:2.3:a:openbsd:openssh:8.5:p1:*:*:*:*:*:*", false},
		{"cpe:2.3:a:openbsd:openssh:8.5:*:*:*:*:*:*:*", "cpe:2.3:a:openbsd:openssh:8.5:p1:*:*:*:*:*:*", true},
		// A banner that does not say NGINX Plus is not NGINX Plus.
		{"cpe:2.3:a:f5:nginx:1.20.0:*:*:*:plus:*:*:*", "cpe:2.3:a:f5:nginx:1.20.0:*:*:*:*:*:*:*", false},
		// Wildcards inside a criterion's value.
		{"cpe:2.3:a:apache:http_server:2.4.*:*:*:*:*:*:*:*", "cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*", true},
		{"cpe:2.3:a:apache:http_server:2.4.?:*:*:*:*:*:*:*", "cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*", false},
		{"cpe:2.3:a:apache:http_server:2.4.?9:*:*:*:*:*:*:*", "cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*", true},
		{`cpe:2.3:a:apache:http_server:2.4.\*:*:*:*:*:*:*:*`, "cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*", false},
	} {
		c, err := ParseCPE(tc.criterion)
		if err != nil {
			t.Fatal(err)
		}
		n, err := ParseCPE(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.matches(n, true); got != tc.want {
			t.Errorf("%s covers %s = %v, want %v", tc.criterion, tc.name, got, tc.want)
		}
	}
}

func TestIdentify(t *testing.T) {
	for _, tc := range []struct {
		software, version string
		want              []string
	}{
		{"Apache", "2.4.49", []string{"cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*"}},
		{"nginx", "1.20.0", []string{
			"cpe:2.3:a:f5:nginx:1.20.0:*:*:*:*:*:*:*",
			"cpe:2.3:a:f5:nginx_open_source:1.20.0:*:*:*:*:*:*:*",
			"cpe:2.3:a:nginx:nginx:1.20.0:*:*:*:*:*:*:*",
			"cpe:2.3:a:igor_sysoev:nginx:1.20.0:*:*:*:*:*:*:*",
		}},
		{"OpenSSH", "8.5p1", []string{"cpe:2.3:a:openbsd:openssh:8.5:p1:*:*:*:*:*:*"}},
		{"OpenSSH", "9.6", []string{"cpe:2.3:a:openbsd:openssh:9.6:-:*:*:*:*:*:*"}},
		{"OpenSSL", "1.0.1f", []string{"cpe:2.3:a:openssl:openssl:1.0.1f:*:*:*:*:*:*:*"}},
		{"Exim", "4.89", []string{"cpe:2.3:a:exim:exim:4.89:*:*:*:*:*:*:*"}},
		{"vsftpd", "2.3.4", []string{"cpe:2.3:a:vsftpd_project:vsftpd:2.3.4:*:*:*:*:*:*:*", "cpe:2.3:a:beasts:vsftpd:2.3.4:*:*:*:*:*:*:*"}},
		{"Microsoft-IIS", "10.0", []string{"cpe:2.3:a:microsoft:internet_information_services:10.0:*:*:*:*:*:*:*"}},
		{"Pure-FTPd", "1.0.49", []string{"cpe:2.3:a:pureftpd:pure-ftpd:1.0.49:*:*:*:*:*:*:*"}},
		{"PHP", "7.4.3+deb11u1", []string{`cpe:2.3:a:php:php:7.4.3\+deb11u1:*:*:*:*:*:*:*`}},
		{"unknown-server", "1.0", nil},
		{"httpd", "2.4.49", nil},
		{"Apache-Coyote", "1.1", nil},
		{"Apache", "", nil},
		{"Apache", "latest", nil},
		{"Apache", "2.4.49 (Unix)", nil},
		{"Apache", "2.4.49:*", nil},
		{"Apache", strings.Repeat("1", 65), nil},
	} {
		got, ok := Identify(tc.software, tc.version)
		if ok != (tc.want != nil) || strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("Identify(%q, %q) = %q, %v; want %q", tc.software, tc.version, got, ok, tc.want)
		}
		for _, s := range got {
			if _, err := ParseCPE(s); err != nil {
				t.Errorf("Identify(%q, %q): %v", tc.software, tc.version, err)
			}
		}
	}
}
