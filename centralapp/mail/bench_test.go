package mail_test

import (
	"bytes"
	"testing"

	"github.com/cyberalarm/cyberalarm/centralapp/mail"
	"github.com/cyberalarm/cyberalarm/centralapp/mail/mailtest"
)

// BenchmarkSend mails a report of a usual size (10 KB of HTML, a 60 KB
// PDF) over STARTTLS with a login, one connection per mail, as Deliver
// does.
func BenchmarkSend(b *testing.B) {
	srv := mailtest.Start(b, mailtest.Options{Username: "reports", Password: "pw"})
	c, err := mail.NewClient(mail.Config{Host: srv.Host, Port: srv.Port, Username: "reports", Password: "pw",
		From: "reports@cyberalarm.example", TLS: srv.ClientTLS})
	if err != nil {
		b.Fatal(err)
	}
	m := mail.Message{Subject: "Weekly report", HTML: bytes.Repeat([]byte("<p>row</p>"), 1000),
		PDF: bytes.Repeat([]byte{0x25, 0x50, 0x44, 0x46, 0x00, 0xff}, 10_000)}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Send(b.Context(), m, "it@acme.example"); err != nil {
			b.Fatal(err)
		}
	}
}
