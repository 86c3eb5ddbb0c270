package report

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// PDFs are the HTML report printed by headless Chromium, over the DevTools
// protocol (chromedp) rather than `chromium --print-to-pdf`: one browser
// serves every report of a run instead of one process start per report,
// the HTML goes in through Page.setDocumentContent (no file, no server, no
// URL in the output), the page is printed only once it has loaded, and the
// print settings (A4, the footer with page numbers, a tagged PDF with an
// outline for screen readers) are set exactly, where the command line gives
// a header with the file's path and date and no control over the rest.

// DefaultChromium is where Debian's chromium package puts the browser.
const DefaultChromium = "/usr/bin/chromium"

// ErrNoChromium is returned when the browser cannot be found: the HTML of
// a report is still made, its PDF is not.
var ErrNoChromium = errors.New("chromium not found")

// Printer prints HTML documents to PDF with one headless Chromium, started
// on first use. It is safe for concurrent use; each print gets its own tab.
type Printer struct {
	path    string
	timeout time.Duration

	mu      sync.Mutex
	dir     string
	browser context.Context
	cancel  []context.CancelFunc
	err     error
}

// NewPrinter returns a Printer that runs the browser at path (DefaultChromium
// when ""). It fails with ErrNoChromium when there is none there.
func NewPrinter(path string) (*Printer, error) {
	if path == "" {
		path = DefaultChromium
	}
	p, err := exec.LookPath(path)
	if err != nil {
		return nil, fmt.Errorf("%w at %s (install Debian's chromium package, or set reports.chromium): %v", ErrNoChromium, path, err)
	}
	return &Printer{path: p, timeout: time.Minute}, nil
}

// start launches the browser with a fresh profile, without the background
// networking that would try to reach the internet.
func (p *Printer) start() (context.Context, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.browser != nil || p.err != nil {
		return p.browser, p.err
	}
	dir, err := os.MkdirTemp("", "cyberalarm-chromium-")
	if err != nil {
		p.err = err
		return nil, err
	}
	p.dir = dir
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(p.path),
		chromedp.UserDataDir(dir),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("font-render-hinting", "none"),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	// The first Run starts the browser; it lives as long as bctx.
	if err := chromedp.Do(bctx); err != nil {
		bcancel()
		acancel()
		os.RemoveAll(dir)
		p.err = fmt.Errorf("starting chromium (%s): %w", p.path, err)
		return nil, p.err
	}
	p.browser, p.cancel = bctx, []context.CancelFunc{bcancel, acancel}
	return bctx, nil
}

// Print prints html (a whole document) on A4 and returns the PDF. footer
// is the text beside the page numbers at the foot of every page.
func (p *Printer) Print(ctx context.Context, html []byte, footer string) ([]byte, error) {
	bctx, err := p.start()
	if err != nil {
		return nil, err
	}
	tab, closeTab := chromedp.NewContext(bctx)
	defer closeTab()
	// A print must not outlive its caller, nor hang on a stuck browser.
	stop := context.AfterFunc(ctx, closeTab)
	defer stop()
	tctx, cancel := context.WithTimeout(tab, p.timeout)
	defer cancel()
	if err := load(tctx, html); err != nil {
		return nil, p.wrap(ctx, err)
	}
	pdf, err := chromedp.Run(tctx, chromedp.PrintToPDF(
		chromedp.PDFPaper(chromedp.PaperA4),
		chromedp.PDFPrintBackground(),
		func(pp *page.PrintToPDFParams) {
			pp.PreferCSSPageSize = ptr(true)
			pp.DisplayHeaderFooter = ptr(true)
			pp.HeaderTemplate = `<span></span>`
			pp.FooterTemplate = `<div style="width:100%;font-size:8px;color:#52606d;padding:0 14mm;display:flex;justify-content:space-between;font-family:sans-serif">` +
				`<span>` + esc(footer) + `</span><span>page <span class="pageNumber"></span> of <span class="totalPages"></span></span></div>`
			pp.GenerateTaggedPDF = ptr(true)
			pp.GenerateDocumentOutline = ptr(true)
		},
	))
	if err != nil {
		return nil, p.wrap(ctx, fmt.Errorf("printing: %w", err))
	}
	return pdf, nil
}

func (p *Printer) wrap(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("pdf: %w", ctx.Err())
	}
	return fmt.Errorf("pdf: %w", err)
}

// load puts html into the tab's page and waits until it has loaded. The
// page stays on about:blank, so nothing is fetched from anywhere.
func load(ctx context.Context, html []byte) error {
	return chromedp.Do(ctx,
		chromedp.Navigate("about:blank"),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			tree, err := cdp.Call(ctx, t, page.GetFrameTree, cdp.Empty{})
			if err != nil {
				return err
			}
			_, err = cdp.Call(ctx, t, page.SetDocumentContent, page.SetDocumentContentParams{FrameID: tree.FrameTree.Frame.ID, HTML: string(html)})
			return err
		}),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Poll[bool](`document.readyState === "complete"`)(ctx, t)
			return err
		}),
	)
}

// emulatePrint makes the tab lay the page out as for print, at the width
// of an A4 page's printable area.
func emulatePrint(ctx context.Context) error {
	return chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"})
			return err
		}),
		chromedp.EmulateViewport(a4ContentWidth, 1123),
	)
}

// a4ContentWidth is the width in CSS pixels of an A4 page (210 mm) less
// the 14 mm side margins of the report's @page rule.
const a4ContentWidth = 687

// Close stops the browser and removes its profile.
func (p *Printer) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.cancel {
		c()
	}
	p.cancel, p.browser = nil, nil
	if p.err == nil {
		p.err = errors.New("pdf: printer closed")
	}
	if p.dir != "" {
		err := os.RemoveAll(p.dir)
		p.dir = ""
		return err
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
