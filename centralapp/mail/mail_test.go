package mail_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"image"
	"image/color"
	"image/png"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/cyberalarm/cyberalarm/centralapp/mail"
	"github.com/cyberalarm/cyberalarm/centralapp/mail/mailtest"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/sqlite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func pngBytes(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 4, 2))
	img.Set(1, 1, color.RGBA{200, 30, 30, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func client(t *testing.T, srv *mailtest.Server, user, pass string) *mail.Client {
	t.Helper()
	c, err := mail.NewClient(mail.Config{Host: srv.Host, Port: srv.Port, Username: user, Password: pass,
		From: "CyberAlarm <reports@cyberalarm.example>", TLS: srv.ClientTLS, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSendMIME(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{Username: "reports", Password: "s3cret pass"})
	chart := pngBytes(t)
	pdf := []byte("%PDF-1.7\n\x00\x01\x02\xff binary bytes\n%%EOF\n")
	html := `<html><body><h1>Weekly threat report</h1><p>Acme Ltd — 9 to 15 November</p>` +
		`<img alt="Detections by day" src="data:image/png;base64,` + base64.StdEncoding.EncodeToString(chart) + `"></body></html>`
	m := mail.Message{
		ID:      "weekly-acme-2026-11-09.it",
		Subject: "CyberAlarm weekly report: Acme Ltd, 9–15 November 2026",
		Text:    "Weekly threat report for Acme Ltd.\n",
		HTML:    []byte(html),
		PDF:     pdf,
		PDFName: "cyberalarm-acme-2026-11-09.pdf",
	}
	if err := client(t, srv, "reports", "s3cret pass").Send(t.Context(), m, "IT Desk <it@acme.example>"); err != nil {
		t.Fatal(err)
	}
	got := srv.Received()
	if len(got) != 1 {
		t.Fatalf("received %d messages, want 1", len(got))
	}
	r := got[0]
	if diff := cmp.Diff(mailtest.Received{From: "reports@cyberalarm.example", To: []string{"it@acme.example"}, TLS: true, User: "reports"},
		r, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Data" }, cmp.Ignore())); diff != "" {
		t.Errorf("envelope (-want +got):\n%s", diff)
	}
	h, parts, err := mailtest.Parse(r.Data)
	if err != nil {
		t.Fatal(err)
	}
	headers := map[string]string{"Subject": h.Get("Subject"), "From": h.Get("From"), "To": h.Get("To"),
		"Message-Id": h.Get("Message-Id"), "Auto-Submitted": h.Get("Auto-Submitted")}
	if diff := cmp.Diff(map[string]string{
		"Subject":        m.Subject,
		"From":           `"CyberAlarm" <reports@cyberalarm.example>`,
		"To":             `"IT Desk" <it@acme.example>`,
		"Message-Id":     "<weekly-acme-2026-11-09.it@cyberalarm.example>",
		"Auto-Submitted": "auto-generated",
	}, headers); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	wantHTML := strings.Replace(html, `data:image/png;base64,`+base64.StdEncoding.EncodeToString(chart), "cid:image-1.png", 1)
	want := []mailtest.Part{
		{Type: "text/plain", Body: []byte(m.Text)},
		{Type: "text/html", Body: []byte(wantHTML)},
		{Type: "image/png", Disposition: "inline", Filename: "image-1.png", ContentID: "<image-1.png>", Body: chart},
		{Type: "application/pdf", Disposition: "attachment", Filename: m.PDFName, Body: pdf},
	}
	if diff := cmp.Diff(want, parts); diff != "" {
		t.Errorf("MIME parts (-want +got):\n%s", diff)
	}
}

func TestRefusesPlainText(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{NoTLS: true, Username: "reports", Password: "pw"})
	err := client(t, srv, "reports", "pw").Send(t.Context(), mail.Message{Subject: "s", HTML: []byte("<p>x</p>")}, "it@acme.example")
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("send without STARTTLS: %v, want a refusal naming STARTTLS", err)
	}
	// Connected and greeted, and then nothing: no login, no MAIL.
	if sessions, mails := srv.Sessions(); sessions != 1 || mails != 0 || len(srv.Received()) != 0 {
		t.Errorf("server saw %d sessions, %d MAIL commands, %d messages; want 1, 0, 0", sessions, mails, len(srv.Received()))
	}
}

func TestRefusesUnverifiedCertificate(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	c, err := mail.NewClient(mail.Config{Host: srv.Host, Port: srv.Port, From: "reports@cyberalarm.example"})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Send(t.Context(), mail.Message{Subject: "s", HTML: []byte("<p>x</p>")}, "it@acme.example")
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("send to an unknown certificate: %v, want a certificate error", err)
	}
	if _, mails := srv.Sessions(); mails != 0 {
		t.Errorf("%d MAIL commands reached the server", mails)
	}
}

func TestNewClientErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  mail.Config
		want string
	}{
		{mail.Config{From: "a@b"}, "no relay host"},
		{mail.Config{Host: "h", Port: 70000, From: "a@b"}, "port 70000"},
		{mail.Config{Host: "h", From: "not an address"}, `from "not an address"`},
	} {
		if _, err := mail.NewClient(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
}

func TestPolicyDelay(t *testing.T) {
	p := mail.Policy{Attempts: 9, Backoff: time.Minute, MaxBackoff: 10 * time.Minute}
	var got []time.Duration
	for n := 1; n <= 6; n++ {
		got = append(got, p.Delay(n))
	}
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delays (-want +got):\n%s", diff)
	}
	if d := (mail.Policy{}).Delay(1); d != mail.DefaultBackoff {
		t.Errorf("default first delay %v", d)
	}
}

// clock is a hand-moved clock.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestDeliverRetries: a relay that answers 4xx and then 5xx gets the
// report again after each backoff, across a restart of central, until it
// takes it; every attempt is on record.
func TestDeliverRetries(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	path := filepath.Join(t.TempDir(), "central.db")
	st := openStore(t, path)
	ctx := t.Context()
	t0 := time.Date(2026, 11, 16, 7, 0, 0, 0, time.UTC)
	if err := st.AddMember(ctx, store.Member{ID: "acme", Name: "Acme", TimeZone: "UTC", Created: t0}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutReport(ctx, store.Report{ID: "r1", MemberID: "acme", Kind: "weekly", PeriodStart: t0.AddDate(0, 0, -7),
		PeriodEnd: t0, Created: t0, HTML: []byte("<p>report</p>"), PDF: []byte("%PDF")}); err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: t0}
	d := &mail.Deliverer{Sender: client(t, srv, "", ""), Store: st, Now: clk.Now,
		Policy: mail.Policy{Attempts: 5, Backoff: time.Minute, MaxBackoff: time.Hour}}
	// The mail is made from the report as stored.
	message := func(r store.Report) mail.Message {
		return mail.Message{Subject: "Weekly report " + r.ID, HTML: r.HTML, PDF: r.PDF}
	}
	to := []string{"it@acme.example", "office@acme.example"}
	deliver := func(wantNext time.Time) {
		t.Helper()
		next, err := d.Deliver(ctx, "r1", to, message)
		if err != nil {
			t.Fatal(err)
		}
		if !next.Equal(wantNext) {
			t.Fatalf("at %v: next retry %v, want %v", clk.now.Sub(t0), next, wantNext)
		}
	}
	// The office mailbox is fine; the IT one is refused for a while.
	srv.Refuse(func(rcpt string) error {
		if rcpt == "it@acme.example" {
			return mailtest.Temporary
		}
		return nil
	})
	deliver(t0.Add(time.Minute))
	clk.now = t0.Add(30 * time.Second) // not yet due: no attempt
	deliver(t0.Add(time.Minute))
	clk.now = t0.Add(time.Minute)
	deliver(t0.Add(3 * time.Minute))

	// Central restarts: the store remembers the attempts and the backoff.
	st.Close()
	st = openStore(t, path)
	d.Store = st
	srv.Refuse(func(string) error { return mailtest.Permanent })
	clk.now = t0.Add(2 * time.Minute)
	deliver(t0.Add(3 * time.Minute))
	clk.now = t0.Add(3 * time.Minute)
	deliver(t0.Add(7 * time.Minute))
	srv.Refuse(nil)
	clk.now = t0.Add(8 * time.Minute)
	deliver(time.Time{})
	deliver(time.Time{}) // all sent: nothing more goes out

	var rcpts []string
	for _, r := range srv.Received() {
		rcpts = append(rcpts, r.To...)
		h, parts, err := mailtest.Parse(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		if h.Get("Subject") != "Weekly report r1" || len(parts) != 3 || string(parts[2].Body) != "%PDF" {
			t.Errorf("mail to %v: %q, %d parts", r.To, h.Get("Subject"), len(parts))
		}
	}
	if diff := cmp.Diff([]string{"office@acme.example", "it@acme.example"}, rcpts); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
	got, err := st.Deliveries(ctx, store.DeliveryFilter{ReportID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	type attempt struct {
		To      string
		N       int
		At      time.Duration
		Outcome string
		Code    string
	}
	var attempts []attempt
	for _, x := range got {
		code := ""
		for _, c := range []string{"451", "554"} {
			if strings.Contains(x.Error, c) {
				code = c
			}
		}
		attempts = append(attempts, attempt{x.Recipient, x.Attempt, x.Time.Sub(t0), x.Outcome, code})
	}
	want := []attempt{
		{"it@acme.example", 1, 0, store.DeliveryFailed, "451"},
		{"office@acme.example", 1, 0, store.DeliverySent, ""},
		{"it@acme.example", 2, time.Minute, store.DeliveryFailed, "451"},
		{"it@acme.example", 3, 3 * time.Minute, store.DeliveryFailed, "554"},
		{"it@acme.example", 4, 8 * time.Minute, store.DeliverySent, ""},
	}
	if diff := cmp.Diff(want, attempts); diff != "" {
		t.Errorf("recorded attempts (-want +got):\n%s", diff)
	}
}

func TestDeliverGivesUp(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	srv.Refuse(func(string) error { return mailtest.Temporary })
	st := openStore(t, filepath.Join(t.TempDir(), "central.db"))
	ctx := t.Context()
	t0 := time.Date(2026, 11, 16, 7, 0, 0, 0, time.UTC)
	if err := st.PutReport(ctx, store.Report{ID: "x1", Kind: "weekly", Created: t0, HTML: []byte("<p>all</p>")}); err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: t0}
	d := &mail.Deliverer{Sender: client(t, srv, "", ""), Store: st, Now: clk.Now, Policy: mail.Policy{Attempts: 2, Backoff: time.Minute}}
	m := mail.Message{Subject: "Analyst report", HTML: []byte("<p>all</p>")}
	for i, wantNext := range []time.Time{t0.Add(time.Minute), {}, {}} {
		next, err := d.Deliver(ctx, "x1", []string{"analysts@example.org"}, func(store.Report) mail.Message { return m })
		if err != nil {
			t.Fatal(err)
		}
		if !next.Equal(wantNext) {
			t.Fatalf("round %d: next %v, want %v", i, next, wantNext)
		}
		clk.now = clk.now.Add(time.Hour)
	}
	got, err := st.Deliveries(ctx, store.DeliveryFilter{ReportID: "x1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Outcome != store.DeliveryFailed || got[1].Outcome != store.DeliveryFailed || got[1].Attempt != 2 {
		t.Fatalf("attempts after giving up: %+v", got)
	}
	if _, mails := srv.Sessions(); mails != 2 {
		t.Errorf("%d MAIL commands, want 2", mails)
	}
}

// TestDeliverCancelled: an attempt cut short by shutdown is neither sent
// nor counted.
func TestDeliverCancelled(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "central.db"))
	if err := st.PutReport(t.Context(), store.Report{ID: "x1", Kind: "weekly", Created: time.Now(), HTML: []byte("<p/>")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	d := &mail.Deliverer{Sender: senderFunc(func() error { cancel(); return errors.New("connection reset") }), Store: st}
	if _, err := d.Deliver(ctx, "x1", []string{"a@example.org"},
		func(r store.Report) mail.Message { return mail.Message{Subject: "s", HTML: r.HTML} }); err == nil {
		t.Fatal("cancelled delivery returned no error")
	}
	got, err := st.Deliveries(t.Context(), store.DeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("a cancelled attempt was recorded: %+v", got)
	}
}

type senderFunc func() error

func (f senderFunc) Send(context.Context, mail.Message, string) error { return f() }
