// Package svgchart draws charts as standalone SVG documents with the
// standard library only, so a report needs no script and no network to show
// them. It is the one chart renderer of the load harnesses.
//
// A Chart compares a few series (bars) across panels side by side, each
// panel on its own y scale: in the load harness, the ratios of pool modes
// for each figure of a workload.
//
// A TimeSeries draws lines over a time range; Grid lays several out in one
// document: in the dashboard check, every Grafana panel from real data.
package svgchart

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Chart is a bar chart whose panels each have a y scale of their own. The
// zero value draws an empty frame; fill Series and Panels, with one Bar per
// series in each panel.
type Chart struct {
	Title    string
	Subtitle string // a second line under the title, e.g. what "better" means
	Unit     string // shown beside the y axis
	Series   []string
	// Colors are the fills of the series by index; DefaultColors covers
	// the missing ones.
	Colors []string
	Panels []Panel
	// Lines are horizontal reference lines drawn in every panel, such as a
	// baseline at 1.
	Lines []Line
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

// Line is a horizontal reference line, labelled at the right of the chart.
type Line struct {
	Value float64
	Label string
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
	nbars := len(c.Series)
	panelW := max(2*panelPad+nbars*barWidth+max(nbars-1, 0)*barGap, 120)
	width := max(len(c.Panels)*(axisWidth+panelW)+max(len(c.Panels)-1, 0)*panelGap+rightMargin+10, 420)
	top := titleHeight + (nbars+4)/5*legendRow
	height := top + plotHeight + footHeight

	var b bytes.Buffer
	open(&b, width, height, "sans-serif", "#ffffff", c.Title)
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="15" font-weight="bold">%s</text>`+"\n", esc(c.Title))
	fmt.Fprintf(&b, `<text x="10" y="38" fill="#555555">%s</text>`+"\n", esc(c.Subtitle))
	for i, name := range c.Series {
		x, y := 10+(i%5)*130, titleHeight-8+(i/5)*legendRow
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			x, y-10, c.color(i), x+16, y, esc(name))
	}
	for pi, p := range c.Panels {
		x0 := 10 + pi*(axisWidth+panelW+panelGap) + axisWidth
		ticks := Ticks(c.extent(p), tickCount)
		yMax := ticks[len(ticks)-1]
		y := func(v float64) float64 { return float64(top+plotHeight) - max(v, 0)/yMax*plotHeight }
		for _, t := range ticks {
			yTick(&b, float64(x0), float64(x0+panelW), y(t), Compact(t), "#e5e5e5", "#555555")
		}
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#333333"/>`+"\n", x0, x0+panelW, top+plotHeight, top+plotHeight)
		for i, bar := range p.Bars[:min(len(p.Bars), nbars)] {
			bx := x0 + panelPad + i*(barWidth+barGap)
			cx := bx + barWidth/2
			if !finite(bar.Value) {
				fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="#999999">n/a</text>`+"\n", cx, top+plotHeight-4)
				continue
			}
			label := esc(Compact(bar.Value))
			fmt.Fprintf(&b, `<rect class="bar" x="%d" y="%.1f" width="%d" height="%.1f" fill="%s"><title>%s, %s: %s</title></rect>`+"\n",
				bx, y(bar.Value), barWidth, y(0)-y(bar.Value), c.color(i), esc(p.Title), esc(c.Series[i]), label)
			labelY := y(bar.Value) - 4
			if finite(bar.Low) && finite(bar.High) && bar.Low != bar.High {
				lo, hi := y(bar.Low), y(bar.High)
				fmt.Fprintf(&b, `<path class="whisker" d="M%d %.1fV%.1fM%d %.1fH%dM%d %.1fH%d" stroke="#222222" fill="none"/>`+"\n",
					cx, lo, hi, cx-5, lo, cx+5, cx-5, hi, cx+5)
				labelY = min(labelY, hi-4)
			}
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="middle" font-size="10">%s</text>`+"\n", cx, labelY, label)
		}
		for _, l := range c.Lines {
			if !finite(l.Value) || l.Value < 0 || l.Value > yMax {
				continue
			}
			fmt.Fprintf(&b, `<line class="ref" x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#444444" stroke-dasharray="5 3"/>`+"\n",
				x0, x0+panelW, y(l.Value), y(l.Value))
			if pi == len(c.Panels)-1 {
				fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="#444444">%s</text>`+"\n", x0+panelW+4, y(l.Value)+4, esc(l.Label))
			}
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" font-weight="bold">%s</text>`+"\n",
			x0+panelW/2, top+plotHeight+18, esc(p.Title))
	}
	fmt.Fprintf(&b, `<text x="12" y="%d" transform="rotate(-90 12 %d)" text-anchor="middle" fill="#555555">%s</text>`+"\n",
		top+plotHeight/2, top+plotHeight/2, esc(c.Unit))
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// open starts an SVG document of width by height pixels in font, with its
// title for tools and a background of color bg.
func open(b *bytes.Buffer, width, height int, font, bg, title string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="%s" font-size="11" role="img">`+"\n",
		width, height, width, height, font)
	fmt.Fprintf(b, "<title>%s</title>\n<rect width=\"%d\" height=\"%d\" fill=\"%s\"/>\n", esc(title), width, height, bg)
}

// yTick draws a grid line from x0 to x1 at y, labelled left of x0.
func yTick(b *bytes.Buffer, x0, x1, y float64, label, line, text string) {
	fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s"/>`, x0, x1, y, y, line)
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end" fill="%s">%s</text>`+"\n", x0-4, y+4, text, esc(label))
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
