// Package svgchart draws charts as standalone SVG documents with the
// standard library only, so a report needs no script and no network to show
// them. It is the one chart renderer of the load harnesses.
//
// A Chart compares a few series (bars) across panels side by side: in the
// load harness, pool modes within each workload. Panels share one y scale
// when their figures are comparable (ratios to a baseline) or have a scale
// each when they are not (absolute figures of workloads of different sizes).
//
// A TimeSeries draws lines over a time range; Grid lays several out in one
// document: in the dashboard check, every Grafana panel from real data.
package svgchart

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Chart is a bar chart. The zero value draws an empty frame; fill Series
// and Panels, with one Bar per series in each panel.
type Chart struct {
	Title    string
	Subtitle string // a second line under the title, e.g. what "better" means
	Unit     string // shown beside the y axis
	Series   []string
	// Colors are the fills of the series by index; a default palette
	// covers the missing ones.
	Colors []string
	Panels []Panel
	// Shared puts every panel on one y scale, so bars compare across panels.
	Shared bool
	// Lines are horizontal reference lines drawn in every panel, such as a
	// baseline at 1 or a target.
	Lines []Line
	// Format writes the value above each bar and the tick labels; Compact
	// when nil.
	Format func(float64) string
}

// Panel is one group of bars, one per series, in the order of Chart.Series.
type Panel struct {
	Title string
	Bars  []Bar
}

// Bar is one value. A NaN or infinite Value draws no bar but "n/a". When
// Low and High are finite and differ, a whisker shows that range (for
// example the minimum and maximum over rounds).
type Bar struct {
	Value     float64
	Low, High float64
}

// Line is a horizontal reference line.
type Line struct {
	Value float64
	Label string
	Color string // default a dark grey
}

// Layout in pixels.
const (
	barWidth    = 34
	barGap      = 6
	panelPad    = 18 // inside a panel, left and right of its bars
	panelGap    = 24
	axisWidth   = 54 // room for tick labels left of a panel
	plotHeight  = 220
	titleHeight = 58
	legendRow   = 20
	footHeight  = 44 // panel titles under the bars
	rightMargin = 96 // room for reference-line labels
	tickCount   = 4
)

// DefaultColors is the palette for series without a color of their own.
var DefaultColors = []string{"#8c8c8c", "#c7b38a", "#e3823b", "#8e6cc0", "#2f78c4", "#3aa372", "#c44e52"}

// SVG renders the chart as a standalone SVG document.
func (c *Chart) SVG() []byte {
	format := c.Format
	if format == nil {
		format = Compact
	}
	nbars := len(c.Series)
	panelW := max(2*panelPad+nbars*barWidth+max(nbars-1, 0)*barGap, 120)
	width := len(c.Panels)*(axisWidth+panelW) + max(len(c.Panels)-1, 0)*panelGap + rightMargin + 10
	width = max(width, 420)
	legendRows := (len(c.Series) + 4) / 5
	top := titleHeight + legendRows*legendRow
	height := top + plotHeight + footHeight

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11" role="img">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, "<title>%s</title>\n", esc(c.Title))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="15" font-weight="bold">%s</text>`+"\n", esc(c.Title))
	if c.Subtitle != "" {
		fmt.Fprintf(&b, `<text x="10" y="38" fill="#555555">%s</text>`+"\n", esc(c.Subtitle))
	}
	for i, name := range c.Series {
		x := 10 + (i%5)*130
		y := titleHeight - 8 + (i/5)*legendRow
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			x, y-10, c.color(i), x+16, y, esc(name))
	}

	sharedTop := 0.0
	if c.Shared {
		for _, p := range c.Panels {
			sharedTop = max(sharedTop, c.extent(p))
		}
	}
	for pi, p := range c.Panels {
		x0 := 10 + pi*(axisWidth+panelW+panelGap) + axisWidth
		scaleMax := sharedTop
		if !c.Shared {
			scaleMax = c.extent(p)
		}
		ticks := Ticks(scaleMax, tickCount)
		yMax := ticks[len(ticks)-1]
		y := func(v float64) float64 { return float64(top+plotHeight) - v/yMax*plotHeight }

		for _, t := range ticks {
			fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e5e5e5"/>`, x0, x0+panelW, y(t), y(t))
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#555555">%s</text>`+"\n", x0-4, y(t)+4, esc(format(t)))
		}
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#333333"/>`+"\n", x0, x0+panelW, top+plotHeight, top+plotHeight)
		for i, bar := range p.Bars {
			if i >= nbars {
				break
			}
			bx := x0 + panelPad + i*(barWidth+barGap)
			cx := bx + barWidth/2
			if !finite(bar.Value) {
				fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="#999999">n/a</text>`+"\n", cx, top+plotHeight-4)
				continue
			}
			v := max(bar.Value, 0)
			fmt.Fprintf(&b, `<rect class="bar" x="%d" y="%.1f" width="%d" height="%.1f" fill="%s"><title>%s, %s: %s</title></rect>`+"\n",
				bx, y(v), barWidth, y(0)-y(v), c.color(i), esc(p.Title), esc(c.Series[i]), esc(format(bar.Value)))
			labelY := y(v) - 4
			if finite(bar.Low) && finite(bar.High) && bar.Low != bar.High {
				lo, hi := y(max(bar.Low, 0)), y(max(bar.High, 0))
				fmt.Fprintf(&b, `<path class="whisker" d="M%d %.1fV%.1fM%d %.1fH%dM%d %.1fH%d" stroke="#222222" fill="none"/>`+"\n",
					cx, lo, hi, cx-5, lo, cx+5, cx-5, hi, cx+5)
				labelY = min(labelY, hi-4)
			}
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="middle" font-size="10">%s</text>`+"\n", cx, labelY, esc(format(bar.Value)))
		}
		var labels []refLabel
		for _, l := range c.Lines {
			if !finite(l.Value) || l.Value < 0 || l.Value > yMax {
				continue
			}
			col := l.Color
			if col == "" {
				col = "#444444"
			}
			fmt.Fprintf(&b, `<line class="ref" x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="5 3"/>`+"\n",
				x0, x0+panelW, y(l.Value), y(l.Value), esc(col))
			if pi == len(c.Panels)-1 && l.Label != "" {
				labels = append(labels, refLabel{y(l.Value) + 4, col, l.Label})
			}
		}
		for _, l := range spreadLabels(labels) {
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="%s">%s</text>`+"\n", x0+panelW+4, l.y, esc(l.color), esc(l.text))
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" font-weight="bold">%s</text>`+"\n",
			x0+panelW/2, top+plotHeight+18, esc(p.Title))
	}
	if c.Unit != "" {
		fmt.Fprintf(&b, `<text x="12" y="%d" transform="rotate(-90 12 %d)" text-anchor="middle" fill="#555555">%s</text>`+"\n",
			top+plotHeight/2, top+plotHeight/2, esc(c.Unit))
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// refLabel is the label of a reference line, at the right of the chart.
type refLabel struct {
	y           float64
	color, text string
}

// labelGap is the least vertical distance between two line labels.
const labelGap = 12

// spreadLabels moves labels down, top to bottom, until no two are closer
// than labelGap, so that lines of near values keep readable labels.
func spreadLabels(ls []refLabel) []refLabel {
	slices.SortStableFunc(ls, func(a, b refLabel) int { return cmp.Compare(a.y, b.y) })
	for i := 1; i < len(ls); i++ {
		ls[i].y = max(ls[i].y, ls[i-1].y+labelGap)
	}
	return ls
}

// extent is the largest figure a panel must show: bars, whiskers and
// reference lines.
func (c *Chart) extent(p Panel) float64 {
	m := 0.0
	for _, bar := range p.Bars {
		for _, v := range []float64{bar.Value, bar.High} {
			if finite(v) {
				m = max(m, v)
			}
		}
	}
	for _, l := range c.Lines {
		if finite(l.Value) {
			m = max(m, l.Value)
		}
	}
	return m
}

func (c *Chart) color(i int) string {
	if i < len(c.Colors) && c.Colors[i] != "" {
		return esc(c.Colors[i])
	}
	return DefaultColors[i%len(DefaultColors)]
}

// Ticks returns about n+1 evenly spaced round tick values from 0 to at
// least max: steps of 1, 2, 2.5 or 5 times a power of ten. A max that is
// not positive and finite gives the ticks of 1.
func Ticks(maxValue float64, n int) []float64 {
	if !finite(maxValue) || maxValue <= 0 {
		maxValue = 1
	}
	n = max(n, 1)
	raw := maxValue / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag * 10
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw*(1-1e-9) {
			step = m * mag
			break
		}
	}
	var ticks []float64
	for i := 0; ; i++ {
		t := float64(i) * step
		ticks = append(ticks, t)
		if t >= maxValue*(1-1e-9) {
			return ticks
		}
	}
}

// Compact writes a figure in at most about six characters: three
// significant digits (two below 0.01) and an SI suffix (k, M, G) for large
// ones.
func Compact(v float64) string {
	if !finite(v) {
		return "n/a"
	}
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return trim(v/1e9) + "G"
	case a >= 1e6:
		return trim(v/1e6) + "M"
	case a >= 1e4:
		return trim(v/1e3) + "k"
	case a == 0:
		return "0"
	case a < 0.001:
		// 1.5e-4 rather than Go's 1.5e-04: labels sit over narrow bars.
		m, e, _ := strings.Cut(strconv.FormatFloat(v, 'e', 1, 64), "e")
		exp, _ := strconv.Atoi(e)
		return m + "e" + strconv.Itoa(exp)
	case a < 0.01:
		return strconv.FormatFloat(v, 'f', 1-int(math.Floor(math.Log10(a))), 64)
	}
	return trim(v)
}

// trim writes v with three significant digits and no exponent.
func trim(v float64) string {
	return strconv.FormatFloat(v, 'f', max(2-int(math.Floor(math.Log10(math.Abs(v)))), 0), 64)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s)) // writes to memory: cannot fail
	return b.String()
}
