package mail

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"

	gomail "github.com/wneessen/go-mail"
)

// Message is one report as mail: the HTML inline, with Text as its
// plain-text alternative, and the PDF attached.
type Message struct {
	// ID is the Message-ID's left part; one report keeps one ID, so a
	// resent copy is recognisably the same mail. Empty: go-mail makes one.
	ID      string
	Subject string
	Text    string
	HTML    []byte
	PDF     []byte
	PDFName string // the attachment's file name; "report.pdf" when empty
}

// dataImage matches an <img> source that carries its picture in a data:
// URI. Most mail readers show no data: images, so compose moves each into
// a related part that the HTML names by Content-ID.
var dataImage = regexp.MustCompile(`src=(?:"data:image/(png|jpeg|gif);base64,([A-Za-z0-9+/=\s]+)"|'data:image/(png|jpeg|gif);base64,([A-Za-z0-9+/=\s]+)')`)

// inlineImage is a picture taken out of the HTML.
type inlineImage struct {
	name, kind string // kind: png, jpeg or gif
	data       []byte
}

// extractImages replaces the data: images of html by cid: references and
// returns them. An image whose base64 does not decode is left as it was.
func extractImages(html []byte) ([]byte, []inlineImage) {
	var imgs []inlineImage
	out := dataImage.ReplaceAllFunc(html, func(m []byte) []byte {
		sub := dataImage.FindSubmatch(m)
		kind, b64 := sub[1], sub[2]
		if len(kind) == 0 {
			kind, b64 = sub[3], sub[4]
		}
		data, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b64)), ""))
		if err != nil {
			return m
		}
		img := inlineImage{name: fmt.Sprintf("image-%d.%s", len(imgs)+1, kind), kind: string(kind), data: data}
		imgs = append(imgs, img)
		return []byte(`src="cid:` + img.name + `"`)
	})
	return out, imgs
}

// compose builds the mail of m from from to to.
func compose(m Message, from, to string) (*gomail.Msg, error) {
	if len(m.HTML) == 0 {
		return nil, errors.New("mail: message has no HTML body")
	}
	if m.Subject == "" {
		return nil, errors.New("mail: message has no subject")
	}
	msg := gomail.NewMsg()
	if err := msg.From(from); err != nil {
		return nil, fmt.Errorf("mail: from %q: %w", from, err)
	}
	if err := msg.To(to); err != nil {
		return nil, fmt.Errorf("mail: recipient %q: %w", to, err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	if m.ID != "" {
		msg.SetMessageIDWithValue(m.ID + "@" + domain(from))
	} else {
		msg.SetMessageID()
	}
	// Automated mail: no out-of-office replies to the sender.
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	text := m.Text
	if text == "" {
		text = m.Subject + "\n\nThis report is shown in mail readers that display HTML, and attached as a PDF.\n"
	}
	msg.SetBodyString(gomail.TypeTextPlain, text)
	html, imgs := extractImages(m.HTML)
	msg.AddAlternativeString(gomail.TypeTextHTML, string(html))
	for _, img := range imgs {
		if err := msg.EmbedReader(img.name, bytes.NewReader(img.data),
			gomail.WithFileContentType(gomail.ContentType("image/"+img.kind))); err != nil {
			return nil, fmt.Errorf("mail: inline image: %w", err)
		}
	}
	if len(m.PDF) > 0 {
		name := m.PDFName
		if name == "" {
			name = "report.pdf"
		}
		if err := msg.AttachReader(name, bytes.NewReader(m.PDF),
			gomail.WithFileContentType(gomail.ContentType("application/pdf"))); err != nil {
			return nil, fmt.Errorf("mail: attachment: %w", err)
		}
	}
	return msg, nil
}

// domain returns the domain of the address in from ("Name <a@b>"), or
// "localhost".
func domain(from string) string {
	from = strings.TrimSuffix(strings.TrimSpace(from), ">")
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i < len(from)-1 {
		return from[i+1:]
	}
	return "localhost"
}
