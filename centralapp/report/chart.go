package report

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

// Charts are drawn here as inline SVG, so that a report reads the same in
// a mail client, a browser and on paper: no scripts, no fonts or images to
// fetch. Each chart is an img role with a title and a description that
// carries its numbers, for screen readers.

// Colours of the verdicts; they are also the legend's.
const (
	colBlocked = "#2f6690"
	colAllowed = "#c0392b"
	colOther   = "#9aa5b1"
	colBar     = "#3a7ca5"
	colGrid    = "#d9dee3"
	colText    = "#1f2933"
	colMuted   = "#52606d"
)

// Bar is one bar of a bar chart.
type Bar struct {
	Label string
	Value int64
}

// barChart draws labelled horizontal bars, largest first as given.
func barChart(id, title string, bars []Bar) template.HTML {
	const (
		width  = 680
		labelW = 260
		rowH   = 24
		barH   = 16
		top    = 4
	)
	if len(bars) == 0 {
		return ""
	}
	var maxV int64 = 1
	for _, b := range bars {
		maxV = max(maxV, b.Value)
	}
	h := top + rowH*len(bars) + 4
	plotW := float64(width - labelW - 70)
	var s strings.Builder
	desc := make([]string, len(bars))
	for i, b := range bars {
		desc[i] = fmt.Sprintf("%s: %s", b.Label, groupDigits(b.Value))
	}
	fmt.Fprintf(&s, `<svg class="chart" id="%s" role="img" aria-labelledby="%s-t %s-d" viewBox="0 0 %d %d" width="%d" height="%d" xmlns="http://www.w3.org/2000/svg">`,
		id, id, id, width, h, width, h)
	fmt.Fprintf(&s, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, id, esc(title), id, esc(strings.Join(desc, "; ")))
	for i, b := range bars {
		y := top + i*rowH
		w := plotW * float64(b.Value) / float64(maxV)
		if b.Value > 0 {
			w = math.Max(w, 1)
		}
		fmt.Fprintf(&s, `<text x="%d" y="%d" text-anchor="end" font-size="12" fill="%s">%s</text>`,
			labelW-8, y+barH-3, colText, esc(clip(b.Label, 40)))
		fmt.Fprintf(&s, `<rect x="%d" y="%d" width="%.1f" height="%d" rx="2" fill="%s"/>`, labelW, y, w, barH, colBar)
		fmt.Fprintf(&s, `<text x="%.1f" y="%d" font-size="12" fill="%s">%s</text>`,
			float64(labelW)+w+6, y+barH-3, colMuted, groupDigits(b.Value))
	}
	s.WriteString(`</svg>`)
	return template.HTML(s.String()) //nolint:gosec // every text in it is escaped above
}

// dailyChart draws a day's events as stacked columns: blocked, allowed and
// only seen.
func dailyChart(id, title string, days []Day) template.HTML {
	const (
		width  = 680
		height = 220
		left   = 56
		right  = 12
		top    = 28
		bottom = 40
	)
	if len(days) == 0 {
		return ""
	}
	var maxV int64
	for _, d := range days {
		maxV = max(maxV, d.Events())
	}
	step := niceStep(maxV)
	ceil := step * 4
	plotH := float64(height - top - bottom)
	plotW := float64(width - left - right)
	colW := plotW / float64(len(days))
	barW := math.Min(colW*0.7, 48)
	y := func(v int64) float64 { return float64(top) + plotH - plotH*float64(v)/float64(ceil) }

	var s strings.Builder
	desc := make([]string, len(days))
	for i, d := range days {
		desc[i] = fmt.Sprintf("%s: %s blocked, %s allowed, %s only seen", d.Day.Format("Mon 2 Jan"),
			groupDigits(d.Blocked), groupDigits(d.Allowed), groupDigits(d.Other))
	}
	fmt.Fprintf(&s, `<svg class="chart" id="%s" role="img" aria-labelledby="%s-t %s-d" viewBox="0 0 %d %d" width="%d" height="%d" xmlns="http://www.w3.org/2000/svg">`,
		id, id, id, width, height, width, height)
	fmt.Fprintf(&s, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, id, esc(title), id, esc(strings.Join(desc, "; ")))
	// Legend.
	lx := left
	for _, l := range []struct{ name, col string }{{"Blocked", colBlocked}, {"Allowed", colAllowed}, {"Only seen", colOther}} {
		fmt.Fprintf(&s, `<rect x="%d" y="6" width="12" height="12" fill="%s"/><text x="%d" y="16" font-size="12" fill="%s">%s</text>`,
			lx, l.col, lx+16, colText, l.name)
		lx += 24 + 8*len(l.name)
	}
	// Grid and axis labels.
	for v := int64(0); v <= ceil; v += step {
		fmt.Fprintf(&s, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s"/>`, left, width-right, y(v), y(v), colGrid)
		fmt.Fprintf(&s, `<text x="%d" y="%.1f" text-anchor="end" font-size="11" fill="%s">%s</text>`, left-6, y(v)+4, colMuted, groupDigits(v))
	}
	for i, d := range days {
		x := float64(left) + colW*float64(i) + (colW-barW)/2
		base := int64(0)
		for _, part := range []struct {
			v   int64
			col string
		}{{d.Blocked, colBlocked}, {d.Allowed, colAllowed}, {d.Other, colOther}} {
			if part.v == 0 {
				continue
			}
			y0, y1 := y(base), y(base+part.v)
			fmt.Fprintf(&s, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`, x, y1, barW, math.Max(y0-y1, 0.5), part.col)
			base += part.v
		}
		cx := float64(left) + colW*float64(i) + colW/2
		fmt.Fprintf(&s, `<text x="%.1f" y="%d" text-anchor="middle" font-size="11" fill="%s">%s</text>`, cx, height-bottom+16, colText, d.Day.Format("Mon"))
		fmt.Fprintf(&s, `<text x="%.1f" y="%d" text-anchor="middle" font-size="11" fill="%s">%s</text>`, cx, height-bottom+30, colMuted, d.Day.Format("2 Jan"))
	}
	s.WriteString(`</svg>`)
	return template.HTML(s.String()) //nolint:gosec // every text in it is escaped above
}

// niceStep is a round grid step that fits v in four steps.
func niceStep(v int64) int64 {
	if v <= 4 {
		return 1
	}
	raw := float64(v) / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if s := m * mag; s >= raw {
			return int64(math.Ceil(s))
		}
	}
	return int64(math.Ceil(10 * mag))
}

func esc(s string) string { return template.HTMLEscapeString(s) }

// clip shortens s to n runes with an ellipsis.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// groupDigits writes n with thousands separators: 12,345.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
