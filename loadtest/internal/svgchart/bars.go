package svgchart

import (
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Bar is one bar of a Bars plot: Value, named Name under the axis. When Low
// and High are finite and differ, a whisker shows that range (for example
// the minimum and maximum over rounds). A Value that is not finite draws no
// bar but "n/a".
type Bar struct {
	Name      string
	Color     color.Color
	Value     float64
	Low, High float64
}

// Bars returns a plot titled title of bars side by side from 0, each
// labelled with its value to three significant digits, and a dashed
// reference line across them at ref when ref is positive (1 for ratios).
func Bars(title string, ref float64, bars ...Bar) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	var names []string
	var labels plotter.XYLabels
	whiskers := &plotter.YErrorBars{LineStyle: plotter.DefaultLineStyle, CapWidth: plotter.DefaultCapWidth}
	for i, b := range bars {
		x := float64(i)
		names = append(names, b.Name)
		if !finite(b.Value) {
			labels.XYs = append(labels.XYs, plotter.XY{X: x})
			labels.Labels = append(labels.Labels, "n/a")
			continue
		}
		p.Add(&plotter.BarChart{Values: plotter.Values{b.Value}, XMin: x, Width: vg.Points(28), Color: b.Color})
		top := b.Value
		if finite(b.Low) && finite(b.High) && b.Low != b.High {
			whiskers.XYs = append(whiskers.XYs, plotter.XY{X: x, Y: b.Value})
			whiskers.YErrors = append(whiskers.YErrors, struct{ Low, High float64 }{b.Value - b.Low, b.High - b.Value})
			top = math.Max(top, b.High)
		}
		labels.XYs = append(labels.XYs, plotter.XY{X: x, Y: top})
		labels.Labels = append(labels.Labels, strconv.FormatFloat(b.Value, 'g', 3, 64))
	}
	p.Add(whiskers)
	if l, err := plotter.NewLabels(labels); err == nil { // finite by construction
		for i := range l.TextStyle {
			l.TextStyle[i].XAlign, l.TextStyle[i].Font.Size = draw.XCenter, 8
		}
		l.Offset.Y = 2
		p.Add(l)
	}
	if ref > 0 {
		p.Add(&plotter.Line{
			XYs:       plotter.XYs{{X: -0.5, Y: ref}, {X: float64(len(bars)) - 0.5, Y: ref}},
			LineStyle: draw.LineStyle{Color: color.Gray{Y: 0x44}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(2)}},
		})
	}
	if len(names) > 0 {
		p.NominalX(names...)
		p.X.Tick.Width, p.X.Tick.Length = vg.Points(0.5), vg.Points(6) // ticks keep the rotated names off the bars
	}
	p.X.Tick.Label.Rotation, p.X.Tick.Label.XAlign = math.Pi/4, draw.XRight
	return p
}
