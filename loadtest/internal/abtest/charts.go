package abtest

import (
	"fmt"
	"image/color"
	"slices"

	"github.com/bodypool/bodypool/internal/demo"
	"github.com/bodypool/bodypool/loadtest/internal/svgchart"
	"gonum.org/v1/plot/vg"
)

// modeColors gives every mode the same color in every chart, and sized
// against the best peer a darker blue than sized against off.
var modeColors = map[string]color.Color{
	"off":        color.RGBA{0x8c, 0x8c, 0x8c, 0xff},
	"none":       color.RGBA{0xc7, 0xb3, 0x8a, 0xff},
	"syncpool":   color.RGBA{0xe3, 0x82, 0x3b, 0xff},
	"calibrated": color.RGBA{0x8e, 0x6c, 0xc0, 0xff},
	"sized":      color.RGBA{0x2f, 0x78, 0xc4, 0xff},
	bestPeer:     color.RGBA{0x1b, 0x3f, 0x66, 0xff},
}

// namedChart is a chart and the file name it is written to.
type namedChart struct {
	File  string // chart-WORKLOAD.svg
	Chart svgchart.Figure
}

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
		type bars struct{ mode, against string }
		var series []bars
		for _, mode := range res.Meta.Modes {
			if mode != Baseline && len(runsOf(res.Runs, w, mode)) > 0 && len(runsOf(res.Runs, w, Baseline)) > 0 {
				series = append(series, bars{mode, Baseline})
			}
		}
		if len(runsOf(res.Runs, w, demo.ModeSized)) > 0 && len(runsOf(res.Runs, w, peers...)) > 0 {
			series = append(series, bars{demo.ModeSized, bestPeer})
		}
		if len(series) == 0 {
			continue
		}
		c := svgchart.Figure{
			PlotW:    vg.Points(float64(45*len(series) + 50)),
			Title:    w + ": ratios to " + Baseline + " and to the best peer",
			Subtitle: fmt.Sprintf("%s\nratio in the same round; %s; throughput: higher is better, the rest lower", res.Meta.Described[w], rounds),
		}
		for _, m := range columns(res.Runs, w) {
			if slices.Contains([]string{"p50", "p99_9", "gc"}, m.Key) {
				continue // the table has them; the chart keeps to the targets' figures
			}
			var bs []svgchart.Bar
			for _, s := range series {
				sp := spreadOf(ratios(res.Runs, w, s.mode, s.against, m, 0))
				fill := modeColors[s.mode]
				if s.against == bestPeer {
					fill = modeColors[bestPeer]
				}
				bs = append(bs, svgchart.Bar{Name: s.mode + " ÷ " + s.against, Color: fill, Value: sp.Median, Low: sp.Min, High: sp.Max})
			}
			p := svgchart.Bars(m.Column, 1, bs...)
			if len(c.Plots) == 0 {
				p.Y.Label.Text = "ratio"
			}
			c.Plots = append(c.Plots, p)
		}
		out = append(out, namedChart{"chart-" + w + ".svg", c})
	}
	return out
}
