package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestSampleSchedule parses the sample's commented schedule and smtp
// sections, uncommented, so the documentation stays a working config.
func TestSampleSchedule(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "smtp.password"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var lines []string
	in := false
	for _, l := range strings.Split(string(Sample()), "\n") {
		switch {
		case l == "  # schedule:" || l == "  # smtp:":
			in = true
		case in && !strings.HasPrefix(l, "  #   ") && !strings.HasPrefix(l, "  # schedule") && !strings.HasPrefix(l, "  # smtp"):
			in = false
		}
		if in && !strings.HasPrefix(l, "  #   #") {
			l = "  " + strings.TrimPrefix(l, "  # ")
			l = strings.Replace(l, "/etc/cyberalarm/smtp.password", "smtp.password", 1)
		}
		lines = append(lines, l)
	}
	c, err := Parse(filepath.Join(dir, "central.yaml"), []byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	s, m := c.Reports.Schedule, c.Reports.SMTP
	if s == nil || m == nil {
		t.Fatalf("sample sections not read: schedule %v, smtp %v", s, m)
	}
	if s.When != (Weekly{time.Monday, 7, 0}) || s.Analyst.When != (Weekly{time.Monday, 8, 0}) || s.Analyst.Loc.String() != "Europe/London" {
		t.Errorf("schedule: %+v", s)
	}
	if diff := cmp.Diff(map[string][]string{"riverside-surgery": {"it@riverside.example", "Practice Manager <pm@riverside.example>"}},
		s.Recipients); diff != "" {
		t.Errorf("recipients (-want +got):\n%s", diff)
	}
	if m.Host != "smtp.example.org" || m.Port != 587 || m.Password != "s3cret" || m.Attempts != 8 || m.Backoff != 5*time.Minute ||
		m.MaxBackoff != 2*time.Hour || m.Timeout != 30*time.Second || m.RootCAs != nil {
		t.Errorf("smtp: %+v", m)
	}
}

func TestScheduleDefaults(t *testing.T) {
	c, err := Parse("c.yaml", []byte("reports:\n  schedule: {}\n  smtp:\n    host: 127.0.0.1\n    from: reports@example.org\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Reports.Schedule
	if s.When != (Weekly{time.Monday, 7, 0}) || s.Analyst.When != (Weekly{time.Monday, 8, 0}) || s.Analyst.Loc != time.UTC || s.Analyst.Off {
		t.Errorf("schedule defaults: %+v", s)
	}
	if m := c.Reports.SMTP; m.Port != 587 || m.Username != "" || m.Password != "" {
		t.Errorf("smtp defaults: %+v", m)
	}
	c, err = Parse("c.yaml", []byte("data_dir: x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Reports.Schedule != nil || c.Reports.SMTP != nil {
		t.Errorf("a config without the sections has them: %+v", c.Reports)
	}
	c, err = Parse("c.yaml", []byte("reports:\n  schedule:\n    at: Friday 17:30\n    analyst:\n      at: off\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Reports.Schedule; s.When != (Weekly{time.Friday, 17, 30}) || !s.Analyst.Off {
		t.Errorf("friday, analyst off: %+v", s)
	}
}

func TestScheduleErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ in, want string }{
		{"reports:\n  schedule:\n    at: mondays 7am\n",
			`c.yaml:3:9: reports.schedule.at: "mondays 7am": want a weekday and a 24-hour time, like "monday 07:00"`},
		{"reports:\n  schedule:\n    at: monday 24:00\n", `c.yaml:3:9: reports.schedule.at: "monday 24:00"`},
		{"reports:\n  schedule:\n    analyst:\n      time_zone: Mars/Olympus\n",
			`c.yaml:4:18: reports.schedule.analyst.time_zone: "Mars/Olympus" is not an IANA time zone (like Europe/London)`},
		{"reports:\n  schedule:\n    recipients:\n      acme: [it@acme.example, not-an-address]\n",
			"c.yaml:2:3: reports.schedule: has recipients but reports.smtp is not set\n" +
				"c.yaml:4:13: reports.schedule.recipients.acme: item 2, \"not-an-address\", is not a mail address"},
		{"reports:\n  schedule:\n    recipients:\n      Acme Ltd: [it@acme.example]\n" +
			"  smtp:\n    host: smtp.example.org\n    from: r@example.org\n",
			`c.yaml:4:17: reports.schedule.recipients.Acme Ltd: "Acme Ltd" is not a member id`},
		{"reports:\n  smtp:\n    port: 99999\n",
			"c.yaml:2:3: reports.smtp: host: missing: the relay's name or address\n" +
				"c.yaml:2:3: reports.smtp: from: missing: the sender's address\nc.yaml:3:11: reports.smtp.port: 99999: want 1 to 65535"},
		{"reports:\n  smtp:\n    host: smtp.example.org\n    from: Reports at example\n",
			`c.yaml:4:11: reports.smtp.from: "Reports at example" is not an address like "CyberAlarm <reports@example.org>"`},
		{"reports:\n  smtp:\n    host: smtp.example.org\n    from: r@example.org\n    username: reports\n",
			"c.yaml:5:15: reports.smtp.username: needs password_file"},
		{"reports:\n  smtp:\n    host: smtp.example.org\n    from: r@example.org\n    username: reports\n    password_file: nowhere\n",
			"c.yaml:6:20: reports.smtp.password_file: open " + filepath.Join(dir, "nowhere") + ": no such file or directory"},
		{"reports:\n  smtp:\n    host: smtp.example.org\n    from: r@example.org\n    ca_file: empty\n",
			"c.yaml:5:14: reports.smtp.ca_file: " + empty + " holds no PEM certificate"},
		{"reports:\n  smtp:\n    host: smtp.example.org\n    from: r@example.org\n    backoff: 10m\n    max_backoff: 1m\n",
			"c.yaml:6:18: reports.smtp.max_backoff: 1m0s is shorter than backoff 10m0s"},
		{"reports:\n  smtp:\n    timeout: soon\n", `c.yaml:3:14: reports.smtp.timeout: "soon" is not a duration`},
	} {
		_, err := Parse(filepath.Join(dir, "c.yaml"), []byte(c.in))
		got := ""
		if err != nil {
			got = strings.ReplaceAll(err.Error(), filepath.Join(dir, "c.yaml"), "c.yaml")
		}
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("%q:\ngot  %s\nwant %s", c.in, got, c.want)
		}
	}
}
