package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cyberalarm/cyberalarm/collectorapp/config"
)

// runConfig runs "config ARGS..." in process and returns its stdout,
// stderr and error.
func runConfig(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := newConfigCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	err := cmd.Execute()
	return stdout.String(), stderr.String(), err
}

// writeFiles writes name → content under dir, making folders as needed.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const goodConfig = `collector:
  member: m1
  data_dir: state
inputs:
  - name: fw
    type: udp
    listen: 0.0.0.0:5514
  - name: ids
    type: tls
    listen: "[::]:6514"
    format: suricata
    rate: {lines_per_second: 1000}
    tls:
      cert_file: tls/cert.pem
      key_file: tls/key.pem
      client_ca_file: tls/ca.pem
  - name: mail
    type: file
    path: /var/log/mail.log
    format: postfix
    timezone: Europe/London
    max_message_bytes: 16KiB
lists:
  trusted_files: [trusted.txt]
rules:
  dirs: [rules]
central:
  url: https://central.test
  updates_interval: 0s
`

func TestConfigCheckOK(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"collector.yaml": goodConfig, "trusted.txt": "192.0.2.1\n", "rules/local.yaml": "",
		"tls/cert.pem": "cert", "tls/key.pem": "key", "tls/ca.pem": "ca",
	})
	stdout, stderr, err := runConfig(t, "check", "--config", filepath.Join(dir, "collector.yaml"))
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	want := `ok
input fw: udp on 0.0.0.0:5514, format auto, time zone UTC, max message 64KiB
input ids: tls on [::]:6514, format suricata, time zone UTC, max message 64KiB, 1000 lines/s per source (burst 1000), max 1024 connections, client certificates required
input mail: file /var/log/mail.log, format postfix, time zone Europe/London, max message 16KiB
`
	if stdout != want || stderr != "" {
		t.Errorf("stdout:\n%s\nwant:\n%s\nstderr:\n%s", stdout, want, stderr)
	}
}

func TestConfigCheckProblems(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "collector.yaml")
	bad := strings.NewReplacer(
		"0.0.0.0:5514", "0.0.0.0",
		"format: postfix", "format: nosuch",
		"https://central.test", "http://central.test",
	).Replace(goodConfig)
	writeFiles(t, dir, map[string]string{
		"collector.yaml": bad, "trusted.txt": "192.0.2.1\n", "rules/local.yaml": "",
		"tls/cert.pem": "cert", "tls/key.pem": "key", "tls/ca.pem": "ca",
	})
	stdout, stderr, err := runConfig(t, "check", "--config", path)
	if err == nil || err.Error() != path+": 3 problems" {
		t.Errorf("error %v, want %s: 3 problems", err, path)
	}
	want := path + `:7:13: inputs[0].listen: "0.0.0.0" has no port; write host:port, like 0.0.0.0:514 or [::]:514
` + path + `:20:13: inputs[2].format: unknown format "nosuch": no built-in parser or configured plugin has it (cyberalarm-collector formats lists them), or use auto
` + path + `:28:8: central.url: "http://central.test": central is reached over https only
`
	if stdout != "" || stderr != want {
		t.Errorf("stdout:\n%s\nstderr:\n%s\nwant:\n%s", stdout, stderr, want)
	}

	// The files it names are checked.
	for _, f := range []string{"trusted.txt", "rules", "tls"} {
		if err := os.RemoveAll(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	writeFiles(t, dir, map[string]string{"collector.yaml": goodConfig})
	_, stderr, err = runConfig(t, "check", "--config", path)
	if err == nil || err.Error() != path+": 5 problems" {
		t.Errorf("error %v, want %s: 5 problems", err, path)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	wantPrefixes := []string{
		path + ":14:18: inputs[1].tls.cert_file: open ",
		path + ":15:17: inputs[1].tls.key_file: open ",
		path + ":16:23: inputs[1].tls.client_ca_file: open ",
		path + ":24:19: lists.trusted_files[0]: open ",
		path + ":26:10: rules.dirs[0]: stat ",
	}
	if len(lines) != len(wantPrefixes) {
		t.Fatalf("stderr:\n%s", stderr)
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, wantPrefixes[i]) || !strings.HasSuffix(l, ": no such file or directory") {
			t.Errorf("line %d: %s\nwant %s...: no such file or directory", i+1, l, wantPrefixes[i])
		}
	}
}

// A plugin's name is a format.
func TestConfigCheckPluginFormat(t *testing.T) {
	dir := t.TempDir()
	cfg := strings.Replace(goodConfig, "format: postfix", "format: acme_waf", 1) + `plugins:
  - name: acme_waf
    path: bin/acme
    sha256: 50d858e0985ecc7f60418aaf0cc5ab587f42c2570a884095a9e8ccacd0f6545c
`
	writeFiles(t, dir, map[string]string{
		"collector.yaml": cfg, "trusted.txt": "", "rules/local.yaml": "",
		"tls/cert.pem": "cert", "tls/key.pem": "key", "tls/ca.pem": "ca", "bin/acme": "#!/bin/sh\n",
	})
	if err := os.Chmod(filepath.Join(dir, "bin/acme"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "collector.yaml")
	stdout, stderr, err := runConfig(t, "check", "--config", path)
	if err != nil || stderr != "" || !strings.HasSuffix(stdout, "input mail: file /var/log/mail.log, format acme_waf, time zone Europe/London, max message 16KiB\n") {
		t.Errorf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
}

func TestConfigCheckUsage(t *testing.T) {
	if _, _, err := runConfig(t, "check"); err == nil || !strings.Contains(err.Error(), `"config" not set`) {
		t.Errorf("without --config: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "none.yaml")
	if _, _, err := runConfig(t, "check", "--config", missing); err == nil || !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}

// The sample prints as embedded, and passes check once the files it names
// exist.
func TestConfigSample(t *testing.T) {
	stdout, _, err := runConfig(t, "sample")
	if err != nil || stdout != string(config.Sample()) {
		t.Fatalf("config sample: %v\n%s", err, stdout)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"collector.yaml": stdout})
	_, stderr, err := runConfig(t, "check", "--config", filepath.Join(dir, "collector.yaml"))
	// The sample names files under /etc that this machine does not have.
	if err == nil || !strings.Contains(stderr, "lists.trusted_files[0]: open /etc/cyberalarm-collector/trusted.txt") {
		t.Errorf("check of the sample: %v\n%s", err, stderr)
	}
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !strings.Contains(l, "no such file or directory") {
			t.Errorf("the sample has a problem beyond missing files: %s", l)
		}
	}
}
