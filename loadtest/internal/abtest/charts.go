package abtest

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"

	"github.com/bodypool/bodypool/internal/demo"
	"github.com/bodypool/bodypool/loadtest/internal/svgchart"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// namedChart is a chart and the file name it is written to.
type namedChart struct {
	File  string // chart-WORKLOAD.svg
	Chart svgchart.Figure
}

// ratioBars is one bar of each plot of a chart: mode against a baseline.
type ratioBars struct{ mode, against string }

// Charts returns one chart per workload or scenario: a plot per figure of
// its table (each on its own scale) but p50, p99.9 and GC cycles, with the
// ratio of each mode to off and of sized to the best peer, median over
// rounds with whiskers min–max, and a dashed line at 1. A workload where no
// ratio could be taken has none.
func Charts(res *Results) []namedChart {
	rounds := fmt.Sprintf("median of %d rounds, whiskers min–max", res.Meta.Rounds)
	if res.Meta.Rounds == 1 {
		rounds = "one round"
	}
	var out []namedChart
	for _, w := range res.Meta.Workloads {
		var bars []ratioBars
		for _, mode := range res.Meta.Modes {
			if mode != Baseline && len(runsOf(res.Runs, w, mode)) > 0 && len(runsOf(res.Runs, w, Baseline)) > 0 {
				bars = append(bars, ratioBars{mode, Baseline})
			}
		}
		for _, mode := range res.Meta.Modes {
			if poolOf(mode) == demo.ModeSized && len(runsOf(res.Runs, w, mode)) > 0 && len(runsOf(res.Runs, w, peers...)) > 0 {
				bars = append(bars, ratioBars{mode, bestPeer})
			}
		}
		if len(bars) == 0 {
			continue
		}
		c := svgchart.Figure{
			PlotW: vg.Points(float64(45*len(bars) + 50)),
			Title: w + ": ratios to " + Baseline + " and to the best peer",
			Subtitle: fmt.Sprintf("%s\nratio in the same round; %s; throughput: higher is better, the rest lower",
				res.Meta.Described[w], rounds),
		}
		for _, m := range columns(res.Runs, w) {
			if !slices.Contains([]string{"p50", "p99_9", "gc"}, m.Key) { // the table has them; the chart keeps to the targets' figures
				c.Plots = append(c.Plots, ratioPlot(res, w, m, bars))
			}
		}
		if len(c.Plots) > 0 {
			c.Plots[0].Y.Label.Text = "ratio"
		}
		out = append(out, namedChart{"chart-" + w + ".svg", c})
	}
	return out
}

// ratioPlot draws the ratios of figure m of workload w as bars side by side
// from 0, each in the color of its mode (sized against the best peer in a
// color of its own), labelled with its median (or "n/a" when there is
// none), with whiskers from the smallest to the largest ratio, and a dashed
// line at 1.
func ratioPlot(res *Results, w string, m metric, bars []ratioBars) *plot.Plot {
	p := plot.New()
	p.Title.Text = m.Column
	var names []string
	var labels plotter.XYLabels
	whiskers := &plotter.YErrorBars{LineStyle: plotter.DefaultLineStyle, CapWidth: plotter.DefaultCapWidth}
	for i, b := range bars {
		x, sp := float64(i), spreadOf(ratios(res.Runs, w, b.mode, b.against, m, 0))
		names = append(names, b.mode+" ÷ "+b.against)
		label := plotter.XY{X: x}
		if math.IsNaN(sp.Median) || math.IsInf(sp.Median, 0) {
			labels.XYs, labels.Labels = append(labels.XYs, label), append(labels.Labels, "n/a")
			continue
		}
		color := modeColor(res.Meta.Modes, b)
		p.Add(&plotter.BarChart{Values: plotter.Values{sp.Median}, XMin: x, Width: vg.Points(28), Color: color})
		label.Y = sp.Median
		if sp.Min != sp.Max && !math.IsInf(sp.Max-sp.Min, 0) { // two finite figures that differ
			whiskers.XYs = append(whiskers.XYs, plotter.XY{X: x, Y: sp.Median})
			whiskers.YErrors = append(whiskers.YErrors, struct{ Low, High float64 }{sp.Median - sp.Min, sp.Max - sp.Median})
			label.Y = sp.Max
		}
		labels.XYs, labels.Labels = append(labels.XYs, label), append(labels.Labels, strconv.FormatFloat(sp.Median, 'g', 3, 64))
	}
	p.Add(whiskers)
	if l, err := plotter.NewLabels(labels); err == nil { // finite by construction
		for i := range l.TextStyle {
			l.TextStyle[i].XAlign, l.TextStyle[i].Font.Size = draw.XCenter, 8
		}
		l.Offset.Y = 2
		p.Add(l)
	}
	p.Add(&plotter.Line{
		XYs:       plotter.XYs{{X: -0.5, Y: 1}, {X: float64(len(bars)) - 0.5, Y: 1}},
		LineStyle: draw.LineStyle{Color: plotter.DefaultLineStyle.Color, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(2)}},
	})
	p.NominalX(names...)
	p.X.Tick.Label.Rotation, p.X.Tick.Label.XAlign = math.Pi/4, draw.XRight
	p.X.Tick.Width, p.X.Tick.Length = vg.Points(0.5), vg.Points(6) // ticks keep the rotated names off the bars
	return p
}

// modeColor returns the color of bar b: its pool mode's, a color of its
// own for sized against the best peer, and for a variant of a pool
// (sized/max-idle=32MiB), one for each of its two bars after those, by its
// place in modes. The palette wraps after seven.
func modeColor(modes []string, b ratioBars) color.Color {
	i := slices.Index(demo.Modes, b.mode)
	switch {
	case i >= 0 && b.against == bestPeer:
		i = len(demo.Modes)
	case i < 0:
		i = len(demo.Modes) + 1 + 2*slices.Index(modes, b.mode)
		if b.against == bestPeer {
			i++
		}
	}
	return plotutil.Color(i)
}
