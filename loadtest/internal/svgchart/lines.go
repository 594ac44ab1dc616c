package svgchart

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Series is one line of a Lines plot: values V at times T (Unix seconds).
// A value that is not finite breaks the line.
type Series struct {
	Name string
	T, V []float64
}

// maxLegend is the number of series a Lines plot names in its legend.
const maxLegend = 8

// Lines returns a plot titled title of series over the time range [from,
// to], its y axis from 0 or below, its tick and legend values written by
// format. Series without a finite value are left out. The legend names the
// busiest series (by mean) first, each with its last value, up to
// maxLegend of them, and says how many more there are.
func Lines(title string, from, to time.Time, format func(float64) string, series ...Series) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Tick.Marker = plot.TimeTicks{Format: "15:04:05"}
	p.Y.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		ticks := plot.DefaultTicks{}.Ticks(lo, hi)
		for i := range ticks {
			if ticks[i].Label != "" {
				ticks[i].Label = format(ticks[i].Value)
			}
		}
		return ticks
	})
	p.Legend.Top, p.Legend.Left, p.Legend.TextStyle.Font.Size = true, true, 7
	type line struct {
		Series
		mean, last float64
	}
	var lines []line
	for _, s := range series {
		l, sum, n := line{Series: s}, 0.0, 0
		for _, v := range s.V {
			if finite(v) {
				sum, n, l.last = sum+v, n+1, v
			}
		}
		if n > 0 {
			l.mean = sum / float64(n)
			lines = append(lines, l)
		}
	}
	slices.SortStableFunc(lines, func(a, b line) int {
		return cmp.Or(cmp.Compare(b.mean, a.mean), strings.Compare(a.Name, b.Name))
	})
	for i, l := range lines {
		style := plotter.DefaultLineStyle
		style.Color, style.Width = plotutil.Color(i), vg.Points(1.2)
		for k := 0; k < len(l.V); k++ {
			if !finite(l.V[k]) {
				continue
			}
			run := &plotter.Line{LineStyle: style} // up to the next break
			for ; k < len(l.V) && finite(l.V[k]); k++ {
				run.XYs = append(run.XYs, plotter.XY{X: l.T[k], Y: l.V[k]})
			}
			p.Add(run)
		}
		if i < maxLegend {
			p.Legend.Add(fmt.Sprintf("%s (last %s)", shorten(l.Name, 40), format(l.last)), &plotter.Line{LineStyle: style})
		}
	}
	if len(lines) > maxLegend {
		p.Legend.Add(fmt.Sprintf("+%d more series", len(lines)-maxLegend))
	}
	if len(lines) == 0 {
		p.X.Label.Text = "no data"
	}
	p.X.Min, p.X.Max = float64(from.UnixMilli())/1000, float64(to.UnixMilli())/1000
	p.Y.Min = min(p.Y.Min, 0)
	return p
}

// shorten cuts s to n bytes, ending in an ellipsis when it was longer.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
