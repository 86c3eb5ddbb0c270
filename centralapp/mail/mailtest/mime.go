package mailtest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
)

// Part is one leaf of a message's MIME tree, its body decoded.
type Part struct {
	Type        string // media type, without parameters
	Disposition string
	Filename    string
	ContentID   string
	Body        []byte
}

// Parse reads a received message: its header, with the Subject decoded,
// and its leaf parts in order.
func Parse(data []byte) (netmail.Header, []Part, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return nil, nil, err
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return nil, nil, fmt.Errorf("subject: %w", err)
	}
	msg.Header["Subject"] = []string{subject}
	var parts []Part
	if err := walk(msg.Header, msg.Body, &parts); err != nil {
		return nil, nil, err
	}
	return msg.Header, parts, nil
}

func walk(h map[string][]string, body io.Reader, parts *[]Part) error {
	get := func(k string) string {
		if v := h[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	mt, params, err := mime.ParseMediaType(get("Content-Type"))
	if err != nil {
		return fmt.Errorf("content type %q: %w", get("Content-Type"), err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		r := multipart.NewReader(body, params["boundary"])
		for {
			p, err := r.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := walk(p.Header, p, parts); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(get("Content-Transfer-Encoding")) {
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	if strings.HasPrefix(mt, "text/") {
		b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	}
	p := Part{Type: mt, ContentID: get("Content-Id"), Body: b}
	if d := get("Content-Disposition"); d != "" {
		disp, dp, err := mime.ParseMediaType(d)
		if err != nil {
			return fmt.Errorf("content disposition %q: %w", d, err)
		}
		p.Disposition, p.Filename = disp, dp["filename"]
	}
	*parts = append(*parts, p)
	return nil
}
