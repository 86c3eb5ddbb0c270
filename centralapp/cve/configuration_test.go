package cve

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestConfigurations evaluates NVD configurations for banners: each case
// is a configurations array, and the banners it must and must not match.
func TestConfigurations(t *testing.T) {
	for _, tc := range []struct {
		name    string
		configs string
		match   []string // "Software version"
		miss    []string
	}{
		{
			name:    "exact version",
			configs: `[{"nodes":[{"operator":"OR","cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*"}]}]}]`,
			match:   []string{"Apache 2.4.49", "Apache 2.4.049", "apache-httpd 2.4.49"},
			miss:    []string{"Apache 2.4.5", "Apache 2.4.50", "Apache 2.4.4", "nginx 2.4.49"},
		},
		{
			name: "start including, end excluding",
			configs: `[{"nodes":[{"operator":"OR","cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:f5:nginx:*:*:*:*:*:*:*:*",
				"versionStartIncluding":"0.6.18","versionEndExcluding":"1.20.1"}]}]}]`,
			match: []string{"nginx 0.6.18", "nginx 1.9.15", "nginx 1.20.0"},
			miss:  []string{"nginx 0.6.17", "nginx 1.20.1", "nginx 1.21.0"},
		},
		{
			name: "start excluding, end including",
			configs: `[{"nodes":[{"operator":"OR","cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:exim:exim:*:*:*:*:*:*:*:*",
				"versionStartExcluding":"4.86","versionEndIncluding":"4.91"}]}]}]`,
			match: []string{"Exim 4.87", "Exim 4.89", "Exim 4.91"},
			miss:  []string{"Exim 4.86", "Exim 4.92", "Exim 4.9"},
		},
		{
			name: "letter releases",
			configs: `[{"nodes":[{"operator":"OR","cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*",
				"versionStartIncluding":"1.0.1","versionEndExcluding":"1.0.1g"}]}]}]`,
			match: []string{"OpenSSL 1.0.1", "OpenSSL 1.0.1a", "OpenSSL 1.0.1f"},
			miss:  []string{"OpenSSL 1.0.1g", "OpenSSL 1.0.2k", "OpenSSL 1.0.0t", "OpenSSL 0.9.8za"},
		},
		{
			name: "OpenSSH: version ranges and the update attribute",
			configs: `[{"nodes":[{"operator":"OR","cpeMatch":[
				{"vulnerable":true,"criteria":"cpe:2.3:a:openbsd:openssh:*:*:*:*:*:*:*:*","versionEndExcluding":"4.4"},
				{"vulnerable":true,"criteria":"cpe:2.3:a:openbsd:openssh:8.5:p1:*:*:*:*:*:*"},
				{"vulnerable":true,"criteria":"cpe:2.3:a:openbsd:openssh:*:*:*:*:*:*:*:*","versionStartIncluding":"8.6","versionEndExcluding":"9.8"}]}]}]`,
			match: []string{"OpenSSH 4.3p2", "OpenSSH 4.3", "OpenSSH 8.5p1", "OpenSSH 8.6p1", "OpenSSH 9.6p1", "OpenSSH 9.7p1", "OpenSSH 9.7"},
			miss:  []string{"OpenSSH 4.4p1", "OpenSSH 4.4", "OpenSSH 8.4p1", "OpenSSH 8.5", "OpenSSH 8.5p2", "OpenSSH 9.8p1", "OpenSSH 9.8", "OpenSSH 9.9p1"},
		},
		{
			name: "OpenSSH: a bound with the patch level",
			configs: `[{"nodes":[{"operator":"OR","cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:openbsd:openssh:*:*:*:*:*:*:*:*",
				"versionStartIncluding":"8.0p1","versionEndExcluding":"8.6p1"}]}]}]`,
			match: []string{"OpenSSH 8.0p1", "OpenSSH 8.5p1", "OpenSSH 8.5"},
			miss:  []string{"OpenSSH 7.9p1", "OpenSSH 8.6p1", "OpenSSH 9.0p1"},
		},
		{
			name: "a platform in an AND configuration",
			configs: `[{"operator":"AND","nodes":[
				{"operator":"OR","cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:apache:http_server:*:*:*:*:*:*:*:*","versionEndExcluding":"2.4.50"}]},
				{"operator":"OR","cpeMatch":[{"vulnerable":false,"criteria":"cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*"}]}]}]`,
			match: []string{"Apache 2.4.49"}, // the platform is not known: potential
			miss:  []string{"Apache 2.4.50"},
		},
		{
			name: "the banner's software is only the platform",
			configs: `[{"operator":"AND","nodes":[
				{"operator":"OR","cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:example:webmail:*:*:*:*:*:*:*:*","versionEndExcluding":"3.2"}]},
				{"operator":"OR","cpeMatch":[{"vulnerable":false,"criteria":"cpe:2.3:a:openssl:openssl:1.0.1f:*:*:*:*:*:*:*"}]}]}]`,
			miss: []string{"OpenSSL 1.0.1f", "OpenSSL 1.0.2"},
		},
		{
			name: "AND of two vulnerable nodes needs both",
			configs: `[{"operator":"AND","nodes":[
				{"operator":"OR","cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:*:*"}]},
				{"operator":"OR","cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:openssl:openssl:1.0.1f:*:*:*:*:*:*:*"}]}]}]`,
			miss: []string{"Apache 2.4.49", "OpenSSL 1.0.1f"},
		},
		{
			name: "AND inside a node",
			configs: `[{"nodes":[{"operator":"AND","cpeMatch":[
				{"vulnerable":true,"criteria":"cpe:2.3:a:exim:exim:*:*:*:*:*:*:*:*","versionEndIncluding":"4.91"},
				{"vulnerable":false,"criteria":"cpe:2.3:o:debian:debian_linux:9.0:*:*:*:*:*:*:*"}]}]}]`,
			match: []string{"Exim 4.89"},
			miss:  []string{"Exim 4.92"},
		},
		{
			name: "a negated platform node",
			configs: `[{"operator":"AND","nodes":[
				{"operator":"OR","cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:exim:exim:*:*:*:*:*:*:*:*","versionEndIncluding":"4.91"}]},
				{"operator":"OR","negate":true,"cpeMatch":[{"vulnerable":false,"criteria":"cpe:2.3:o:example:hardened_os:*:*:*:*:*:*:*:*"}]}]}]`,
			match: []string{"Exim 4.89"},
		},
		{
			name: "a negated vulnerable node never makes a match",
			configs: `[{"nodes":[{"operator":"OR","negate":true,"cpeMatch":[
				{"vulnerable":true,"criteria":"cpe:2.3:a:exim:exim:*:*:*:*:*:*:*:*","versionEndIncluding":"4.91"}]}]}]`,
			miss: []string{"Exim 4.89", "Exim 4.92"},
		},
		{
			name: "a negated configuration",
			configs: `[{"negate":true,"nodes":[{"operator":"OR","cpeMatch":[
				{"vulnerable":true,"criteria":"cpe:2.3:a:exim:exim:*:*:*:*:*:*:*:*","versionEndIncluding":"4.91"}]}]}]`,
			miss: []string{"Exim 4.89"},
		},
		{
			name: "any configuration may hold",
			configs: `[{"nodes":[{"operator":"OR","cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:o:fedoraproject:fedora:34:*:*:*:*:*:*:*"}]}]},
				{"nodes":[{"operator":"OR","cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:apache:http_server:2.4.50:*:*:*:*:*:*:*"}]}]}]`,
			match: []string{"Apache 2.4.50"},
			miss:  []string{"Apache 2.4.51"},
		},
		{
			name:    "NGINX Plus criteria do not cover open-source nginx",
			configs: `[{"nodes":[{"operator":"OR","cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:f5:nginx:*:*:*:*:plus:*:*:*","versionEndExcluding":"r30"}]}]}]`,
			miss:    []string{"nginx 1.20.0"},
		},
		{
			name: "old vendor names",
			configs: `[{"nodes":[{"operator":"OR","cpeMatch":[
				{"vulnerable":true,"criteria":"cpe:2.3:a:igor_sysoev:nginx:*:*:*:*:*:*:*:*","versionEndIncluding":"1.20.0"},
				{"vulnerable":true,"criteria":"cpe:2.3:a:beasts:vsftpd:2.3.4:*:*:*:*:*:*:*"}]}]}]`,
			match: []string{"nginx 1.20.0", "vsftpd 2.3.4"},
			miss:  []string{"nginx 1.20.1", "vsftpd 2.3.5"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cs []configuration
			if err := json.Unmarshal([]byte(tc.configs), &cs); err != nil {
				t.Fatal(err)
			}
			if err := prepare(cs); err != nil {
				t.Fatal(err)
			}
			check := func(banner string, want bool) {
				sw, ver, _ := strings.Cut(banner, " ")
				names, _, ok := identify(sw, ver)
				if !ok {
					t.Fatalf("Identify(%q, %q) failed", sw, ver)
				}
				hit := applies(cs, names)
				if (hit != nil) != want {
					t.Errorf("%s: applies = %v, want %v", banner, hit != nil, want)
				}
				if hit != nil && !hit.Vulnerable {
					t.Errorf("%s: the hit is a platform entry", banner)
				}
			}
			for _, b := range tc.match {
				check(b, true)
			}
			for _, b := range tc.miss {
				check(b, false)
			}
		})
	}
}

func TestPrepareErrors(t *testing.T) {
	for configs, want := range map[string]string{
		`[{"operator":"XOR","nodes":[]}]`:                                          `configuration 1: operator "XOR" is neither AND nor OR`,
		`[{"nodes":[]}]`:                                                           "configuration 1: no nodes",
		`[{"nodes":[{"operator":"NAND","cpeMatch":[]}]}]`:                          `configuration 1 node 1: operator "NAND"`,
		`[{"nodes":[{"cpeMatch":[]}]}]`:                                            "configuration 1 node 1: no cpeMatch",
		`[{"nodes":[{"cpeMatch":[{"vulnerable":true,"criteria":"cpe:/a:x:y"}]}]}]`: `configuration 1 node 1: cpe "cpe:/a:x:y"`,
	} {
		var cs []configuration
		if err := json.Unmarshal([]byte(configs), &cs); err != nil {
			t.Fatal(err)
		}
		if err := prepare(cs); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("prepare(%s) = %v, want an error with %q", configs, err, want)
		}
	}
}
