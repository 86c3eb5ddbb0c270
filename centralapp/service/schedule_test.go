package service

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cyberalarm/cyberalarm/centralapp/config"
	"github.com/cyberalarm/cyberalarm/centralapp/mail/mailtest"
	"github.com/cyberalarm/cyberalarm/centralapp/schedule"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// TestScheduledReports: central configured with a schedule and a relay
// makes a member's report and the analyst report as soon as it serves,
// stores them, and mails each over STARTTLS with a login, the HTML inline
// and the PDF attached; every delivery is on record.
func TestScheduledReports(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) })
	srv := mailtest.Start(t, mailtest.Options{Username: "reports", Password: "relay pass"})
	dir := t.TempDir()
	for name, data := range map[string][]byte{"smtp.password": []byte("relay pass\n"), "relay-ca.pem": srv.CertPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	yaml := fmt.Sprintf(`data_dir: state
reports:
  schedule:
    at: monday 07:00
    recipients:
      m1: [it@m1.example]
    analyst:
      at: wednesday 09:30
      time_zone: Asia/Tokyo
      recipients: [soc@cyberalarm.example]
  smtp:
    host: %s
    port: %d
    username: reports
    password_file: smtp.password
    from: CyberAlarm <reports@cyberalarm.example>
    ca_file: relay-ca.pem
`, srv.Host, srv.Port)
	cfg, err := config.Parse(filepath.Join(dir, "central.yaml"), []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := Open(context.Background(), cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	ctx := context.Background()
	if err := svc.Store.AddMember(ctx, store.Member{ID: "m1", Name: "Member One", TimeZone: "Europe/London",
		Created: time.Now().AddDate(0, 0, -30)}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Serve(sctx, ln) }()
	deadline := time.Now().Add(90 * time.Second)
	for len(srv.Received()) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := srv.Received()
	if len(got) != 2 {
		t.Fatalf("%d mails, want 2", len(got))
	}

	london, _ := time.LoadLocation("Europe/London")
	want := map[string]string{
		"m1": schedule.Weekly{Weekday: time.Monday, Hour: 7}.Last(time.Now(), london).Start.UTC().Format(time.RFC3339),
	}
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	want[""] = schedule.Weekly{Weekday: time.Wednesday, Hour: 9, Minute: 30}.Last(time.Now(), tokyo).Start.UTC().Format(time.RFC3339)
	byMail := map[string]mailtest.Received{}
	for _, r := range got {
		if !r.TLS || r.User != "reports" || len(r.To) != 1 {
			t.Errorf("mail to %v: TLS %v, login %q", r.To, r.TLS, r.User)
		}
		byMail[r.To[0]] = r
	}
	for member, to := range map[string]string{"m1": "it@m1.example", "": "soc@cyberalarm.example"} {
		rs, err := svc.Store.Reports(ctx, member)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 1 || rs[0].PeriodStart.Format(time.RFC3339) != want[member] {
			t.Fatalf("reports of %q: %+v, want one starting %s", member, rs, want[member])
		}
		r, err := svc.Store.Report(ctx, rs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		_, parts, err := mailtest.Parse(byMail[to].Data)
		if err != nil {
			t.Fatal(err)
		}
		var html, pdf []byte
		for _, p := range parts {
			switch p.Type {
			case "text/html":
				html = p.Body
			case "application/pdf":
				pdf = p.Body
			}
		}
		if len(html) == 0 || len(r.HTML) == 0 {
			t.Errorf("report %s: no HTML mailed (%d bytes stored)", r.ID, len(r.HTML))
		}
		t.Logf("report %s: %d bytes of HTML, %d of PDF", r.ID, len(r.HTML), len(r.PDF))
		if string(pdf) != string(r.PDF) {
			t.Errorf("report %s: PDF mailed (%d bytes) is not the stored one (%d bytes)", r.ID, len(pdf), len(r.PDF))
		}
		ds, err := svc.Store.Deliveries(ctx, store.DeliveryFilter{ReportID: r.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 1 || ds[0].Outcome != store.DeliverySent || ds[0].Recipient != to {
			t.Errorf("deliveries of %s: %+v", r.ID, ds)
		}
	}
}
