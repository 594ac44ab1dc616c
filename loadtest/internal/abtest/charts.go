package abtest

import (
	"fmt"
	"slices"

	"github.com/bodypool/bodypool/internal/demo"
	"github.com/bodypool/bodypool/loadtest/internal/svgchart"
)

// modeColors gives every mode the same color in every chart.
var modeColors = map[string]string{
	"off":        "#8c8c8c",
	"none":       "#c7b38a",
	"syncpool":   "#e3823b",
	"calibrated": "#8e6cc0",
	"sized":      "#2f78c4",
}

// namedChart is a chart and the file name it is written to.
type namedChart struct {
	File  string // chart-WORKLOAD.svg
	Chart svgchart.Chart
}

// Charts returns one chart per workload or scenario: a panel per figure
// of its table (each on its own scale) but p50, p99.9 and GC cycles, with
// the ratio of each mode to off and of sized to the best peer, median over
// rounds with whiskers min–max. A workload where no ratio could be taken
// has none.
func Charts(res *Results) []namedChart {
	rounds := fmt.Sprintf("median of %d rounds, whiskers min–max", res.Meta.Rounds)
	if res.Meta.Rounds == 1 {
		rounds = "one round"
	}
	var out []namedChart
	for _, w := range res.Meta.Workloads {
		c := svgchart.Chart{
			Title:    w + ": ratios to " + Baseline + " and to the best peer",
			Subtitle: fmt.Sprintf("%s; ratio in the same round; %s; throughput: higher is better, the rest lower", res.Meta.Described[w], rounds),
			Unit:     "ratio",
			Lines:    []svgchart.Line{{Value: 1, Label: "= 1"}},
		}
		type bars struct{ mode, against string }
		var series []bars
		for _, mode := range res.Meta.Modes {
			if mode != Baseline && len(runsOf(res.Runs, w, mode)) > 0 && len(runsOf(res.Runs, w, Baseline)) > 0 {
				series = append(series, bars{mode, Baseline})
				c.Colors = append(c.Colors, modeColors[mode])
			}
		}
		if len(runsOf(res.Runs, w, demo.ModeSized)) > 0 && len(runsOf(res.Runs, w, peers...)) > 0 {
			series = append(series, bars{demo.ModeSized, bestPeer})
			c.Colors = append(c.Colors, "#1b3f66")
		}
		if len(series) == 0 {
			continue
		}
		for _, s := range series {
			c.Series = append(c.Series, s.mode+" ÷ "+s.against)
		}
		for _, m := range columns(res.Runs, w) {
			if slices.Contains([]string{"p50", "p99_9", "gc"}, m.Key) {
				continue // the table has them; the chart keeps to the targets' figures
			}
			p := svgchart.Panel{Title: m.Column}
			for _, s := range series {
				sp := spreadOf(ratios(res.Runs, w, s.mode, s.against, m, 0))
				p.Bars = append(p.Bars, svgchart.Bar{Value: sp.Median, Low: sp.Min, High: sp.Max})
			}
			c.Panels = append(c.Panels, p)
		}
		out = append(out, namedChart{"chart-" + w + ".svg", c})
	}
	return out
}
