package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The layout tests print the golden reports in the real browser and hold
// the result against a snapshot: the number of PDF pages, and where each
// section and chart sits on the printed page. A change to the templates or
// the CSS that moves things fails here; look at the pages (set
// REPORT_SCREENSHOTS=DIR to get PNGs) and run go test -update if the new
// layout is right.

// layout is a snapshot of a printed report.
type layout struct {
	Pages int   `json:"pages"`
	Boxes []box `json:"boxes"`
}

// box is an element's place in CSS pixels, in the print layout (one long
// page, as wide as an A4 page's printable area).
type box struct {
	ID string  `json:"id"`
	X  float64 `json:"x"`
	Y  float64 `json:"y"`
	W  float64 `json:"w"`
	H  float64 `json:"h"`
}

// boxesJS measures the sections and the charts.
const boxesJS = `Array.from(document.querySelectorAll("section[id], svg.chart, h1")).map(e => {
	const r = e.getBoundingClientRect();
	return {id: e.tagName.toLowerCase() + "#" + (e.id || ""), x: Math.round(r.x), y: Math.round(r.y + window.scrollY),
		w: Math.round(r.width), h: Math.round(r.height)};
})`

// pageRE counts page objects in a PDF (not the /Pages tree nodes).
var pageRE = regexp.MustCompile(`/Type\s*/Page[^s\w]`)

func TestLayout(t *testing.T) {
	pr, err := NewPrinter("")
	if errors.Is(err, ErrNoChromium) {
		t.Skipf("no browser: %v (.ci/run installs Debian's chromium)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	bctx, err := pr.start()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"member", "analyst"} {
		t.Run(name, func(t *testing.T) {
			html, err := os.ReadFile(filepath.Join("testdata", name+".html"))
			if err != nil {
				t.Fatal(err)
			}
			pdf, err := pr.Print(t.Context(), html, "CyberAlarm test")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
				t.Fatalf("not a PDF: %q", pdf[:min(len(pdf), 16)])
			}
			tab, cancel := chromedp.NewContext(bctx)
			defer cancel()
			must(t, emulatePrint(tab))
			must(t, load(tab, html))
			boxes, err := chromedp.Run(tab, chromedp.Evaluate[[]box](boxesJS))
			if err != nil {
				t.Fatal(err)
			}
			got := layout{Pages: len(pageRE.FindAll(pdf, -1)), Boxes: boxes}
			if dir := os.Getenv("REPORT_SCREENSHOTS"); dir != "" {
				png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
				must(t, err)
				must(t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
				must(t, os.WriteFile(filepath.Join(dir, name+".pdf"), pdf, 0o644))
			}
			path := filepath.Join("testdata", "layout-"+name+".json")
			if *update {
				b, err := json.MarshalIndent(got, "", "  ")
				must(t, err)
				must(t, os.WriteFile(path, append(b, '\n'), 0o644))
				return
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to make it)", err)
			}
			var want layout
			must(t, json.Unmarshal(b, &want))
			// A few pixels of slack for font hinting; a moved section or
			// a resized chart is well beyond it.
			if d := cmp.Diff(want, got, cmpopts.EquateApprox(0, 4)); d != "" {
				t.Errorf("%s: layout changed (-want +got; go test -update rewrites it):\n%s", path, d)
			}
		})
	}
}
