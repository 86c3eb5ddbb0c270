package web

import (
	"errors"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

type reportRow struct {
	store.Report
	MemberName string // "" for cross-member reports
}

func (w *Web) reports(rw http.ResponseWriter, r *http.Request, req *request) error {
	member, err := scope(req, "")
	if err != nil {
		return err
	}
	ctx := r.Context()
	var rows []reportRow
	if member != "" {
		rs, err := w.store.Reports(ctx, member)
		if err != nil {
			return err
		}
		m, err := w.store.Member(ctx, member)
		if err != nil {
			return err
		}
		for _, rp := range rs {
			rows = append(rows, reportRow{rp, m.Name})
		}
	} else {
		ms, err := w.store.Members(ctx)
		if err != nil {
			return err
		}
		// Cross-member reports first ("" is no member), then each
		// member's.
		for _, m := range append([]store.Member{{}}, ms...) {
			rs, err := w.store.Reports(ctx, m.ID)
			if err != nil {
				return err
			}
			for _, rp := range rs {
				rows = append(rows, reportRow{rp, m.Name})
			}
		}
		slices.SortStableFunc(rows, func(a, b reportRow) int { return b.Created.Compare(a.Created) })
	}
	w.render(rw, r, http.StatusOK, "reports", newView(req, "Reports", "reports", rows))
	return nil
}

// reportPolicy is the policy of a report viewed in the browser: the report
// is made elsewhere and may carry inline styles, but never script, and it
// runs sandboxed, in an origin of its own.
const reportPolicy = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:"

// reportFile serves a report's HTML (view: inline; html: as a download) or
// its PDF. A member's report is its member's and the analysts'; a
// cross-member report is the analysts' alone.
func (w *Web) reportFile(rw http.ResponseWriter, r *http.Request, req *request) error {
	format := r.PathValue("format")
	if format != "view" && format != "html" && format != "pdf" {
		return errNotFound
	}
	rp, err := w.store.Report(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	// CanSee("") holds for analysts alone.
	if !req.who.CanSee(rp.MemberID) {
		return errNotFound
	}
	body, ctype := rp.HTML, "text/html; charset=utf-8"
	if format == "pdf" {
		body, ctype = rp.PDF, "application/pdf"
	}
	if len(body) == 0 {
		return errNotFound
	}
	h := rw.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "private, no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if format == "view" {
		h.Set("Content-Security-Policy", reportPolicy)
	} else {
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": reportFilename(rp, format)}))
	}
	rw.Write(body)
	return nil
}

// reportFilename names a download: cyberalarm-MEMBER-KIND-END.EXT.
func reportFilename(rp store.Report, ext string) string {
	who := rp.MemberID
	if who == "" {
		who = "all-members"
	}
	name := "cyberalarm-" + who + "-" + rp.Kind + "-" + rp.PeriodEnd.UTC().Format("2006-01-02")
	// Member ids are slugs already; kinds are the report package's words.
	name = strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			return c
		}
		return '-'
	}, name)
	return name + "." + ext
}
