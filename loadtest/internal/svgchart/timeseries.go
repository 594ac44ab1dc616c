package svgchart

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// TimeSeries is a line chart of series over a time range: in the
// dashboard check, one Grafana panel drawn from real Prometheus data. Grid
// lays several out in one SVG document.
type TimeSeries struct {
	Title    string
	From, To time.Time
	Series   []Series
	// Percent puts the y scale from 0 to at least 1 (a ratio).
	Percent bool
	// Format writes tick and legend values; Compact when nil.
	Format func(float64) string
}

// Series is one line: values V at times T (Unix seconds). A NaN or
// infinite value breaks the line.
type Series struct {
	Name string
	T, V []float64
}

// DarkColors is the palette of the lines, on the dark background Grafana
// users know.
var DarkColors = []string{"#73bf69", "#f2cc0c", "#5794f2", "#ff780a", "#f2495c", "#b877d9", "#8ab8ff", "#fade2a", "#37872d", "#c4162a"}

// Grid renders charts as one standalone SVG document with title on top,
// cols charts a row, each cellW by cellH pixels.
func Grid(title string, charts []TimeSeries, cols, cellW, cellH int) []byte {
	const margin = 10
	rows := (len(charts) + cols - 1) / cols
	var b bytes.Buffer
	open(&b, cols*cellW+margin, rows*cellH+margin+40, "DejaVu Sans, sans-serif", "#111217", title)
	fmt.Fprintf(&b, `<text x="%d" y="26" fill="#ccccdc" font-size="16">%s</text>`+"\n", margin, esc(title))
	for i := range charts {
		charts[i].draw(&b, i, margin+(i%cols)*cellW, 40+margin+(i/cols)*cellH, cellW-margin, cellH-margin)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// draw draws the chart as the id-th panel of a document, in the box at
// x0, y0 of w by h pixels.
func (c *TimeSeries) draw(b *bytes.Buffer, id, x0, y0, w, h int) {
	const padL, padR, padT, padB = 62, 28, 24, 70
	format := c.Format
	if format == nil {
		format = Compact
	}
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#181b1f" stroke="#2c3235"/>`+"\n", x0, y0, w, h)
	fmt.Fprintf(b, `<text x="%d" y="%d" fill="#ccccdc" font-size="13" font-weight="bold">%s</text>`+"\n", x0+8, y0+17, esc(c.Title))
	pw, ph := float64(w-padL-padR), float64(h-padT-padB)
	px, py := float64(x0+padL), float64(y0+padT)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		for _, v := range s.V {
			if finite(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		fmt.Fprintf(b, `<text x="%.0f" y="%.0f" fill="#f2495c">no data</text>`+"\n", px+pw/2-20, py+ph/2)
		return
	}
	lo = min(lo, 0)
	if c.Percent {
		lo, hi = 0, math.Max(hi, 1)
	}
	if hi <= lo {
		hi = lo + 1
	}
	t0, t1 := float64(c.From.UnixMilli())/1000, float64(c.To.UnixMilli())/1000
	sx := func(t float64) float64 { return px + (t-t0)/(t1-t0)*pw }
	sy := func(v float64) float64 { return py + ph - (v-lo)/(hi-lo)*ph }
	for i := 0; i <= 4; i++ {
		v := lo + (hi-lo)*float64(i)/4
		yTick(b, px, px+pw, sy(v), format(v), "#2c3235", "#8e8e8e")
	}
	for i := 0; i <= 4; i++ {
		t := t0 + (t1-t0)*float64(i)/4
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" fill="#8e8e8e" text-anchor="middle">%s</text>`+"\n", sx(t), py+ph+14,
			time.Unix(int64(t), 0).UTC().Format("15:04:05"))
	}
	// Series with no number at all are not drawn; the others are listed
	// busiest first so that the legend shows what the chart shows.
	var all []Series
	for _, s := range c.Series {
		if finite(lastValue(s.V)) {
			all = append(all, s)
		}
	}
	slices.SortStableFunc(all, func(a, b Series) int {
		if c := cmp.Compare(meanValue(b.V), meanValue(a.V)); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	clip := fmt.Sprintf("clip%d", id)
	fmt.Fprintf(b, `<clipPath id="%s"><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f"/></clipPath>`+"\n", clip, px, py-2, pw, ph+4)
	const maxLegend = 8
	for i, s := range all {
		color := DarkColors[i%len(DarkColors)]
		var path strings.Builder
		pen := false
		for k, v := range s.V {
			if !finite(v) {
				pen = false
				continue
			}
			cmd := "L"
			if !pen {
				cmd = "M"
			}
			fmt.Fprintf(&path, "%s%.1f,%.1f ", cmd, sx(s.T[k]), sy(v))
			pen = true
		}
		if path.Len() > 0 {
			fmt.Fprintf(b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.5" clip-path="url(#%s)"/>`+"\n", strings.TrimSpace(path.String()), color, clip)
		}
		if i < maxLegend {
			lx := float64(x0+8) + float64(i%2)*float64(w/2)
			ly := py + ph + 30 + float64(i/2)*12
			fmt.Fprintf(b, `<rect x="%.0f" y="%.0f" width="10" height="3" fill="%s"/>`, lx, ly-4, color)
			fmt.Fprintf(b, `<text x="%.0f" y="%.0f" fill="#ccccdc">%s  (last %s)</text>`+"\n", lx+14, ly, esc(shorten(s.Name, 40)), esc(format(lastValue(s.V))))
		}
	}
	if len(all) > maxLegend {
		fmt.Fprintf(b, `<text x="%d" y="%d" fill="#8e8e8e">+%d more series</text>`+"\n", x0+w-110, y0+17, len(all)-maxLegend)
	}
}

// lastValue returns the last value of vs that is a number, or NaN.
func lastValue(vs []float64) float64 {
	for k := len(vs) - 1; k >= 0; k-- {
		if !math.IsNaN(vs[k]) {
			return vs[k]
		}
	}
	return math.NaN()
}

// meanValue is the mean of the finite values of vs, or -Inf.
func meanValue(vs []float64) float64 {
	sum, n := 0.0, 0
	for _, v := range vs {
		if finite(v) {
			sum += v
			n++
		}
	}
	if n == 0 {
		return math.Inf(-1)
	}
	return sum / float64(n)
}

// shorten cuts s to n bytes, ending in an ellipsis when it was longer.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
