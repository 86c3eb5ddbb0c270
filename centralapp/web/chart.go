package web

import "strconv"

// chart is a bar chart laid out for an inline SVG: the template draws
// rectangles and text where these say, so the page needs no script and
// reads the same in every browser. Units are the SVG's viewBox.
type chart struct {
	Title         string
	Width, Height int
	Baseline      int // y of the axis
	LabelY        int // y of the bars' labels
	Bars          []bar
	Empty         bool // every value is zero
}

type bar struct {
	Label       string
	Value       int64
	X, Y, W, H  int
	LabelX      int // centre of the bar, for its labels
	ValueY      int // where the value is written, above the bar
	ValueString string
}

const (
	chartWidth  = 640
	chartHeight = 220
	chartTop    = 24 // room for the tallest bar's value
	chartBottom = 28 // room for the labels
	chartGap    = 16
)

// barChart lays out one bar per value, scaled to the largest.
func barChart(title string, labels []string, values []int64) chart {
	c := chart{Title: title, Width: chartWidth, Height: chartHeight, Baseline: chartHeight - chartBottom, LabelY: chartHeight - 8, Empty: true}
	var top int64
	for _, v := range values {
		top = max(top, v)
	}
	if top > 0 {
		c.Empty = false
	}
	n := len(values)
	if n == 0 {
		return c
	}
	slot := chartWidth / n
	usable := c.Baseline - chartTop
	for i, v := range values {
		h := 0
		if top > 0 {
			h = int(int64(usable) * v / top)
		}
		if v > 0 && h < 2 {
			h = 2 // a small count stays visible
		}
		x := i*slot + chartGap/2
		c.Bars = append(c.Bars, bar{
			Label: labels[i], Value: v,
			X: x, Y: c.Baseline - h, W: slot - chartGap, H: h,
			LabelX: x + (slot-chartGap)/2, ValueY: c.Baseline - h - 6,
			ValueString: strconv.FormatInt(v, 10),
		})
	}
	return c
}
