package abtest

import (
	"fmt"
	"math"
	"slices"

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
	File  string // e.g. ratio-alloc.svg
	Chart svgchart.Chart
}

// Charts returns two charts per metric: the median absolute figures of each
// mode per workload (each workload on its own scale), and the ratios to the
// baseline on one scale, with the target where there is one.
func Charts(res *Results, s *summary) []namedChart {
	var out []namedChart
	rounds := fmt.Sprintf("median of %s, whiskers min–max", plural(res.Meta.Rounds, "round"))
	if res.Meta.Rounds == 1 {
		rounds = "one round"
	}
	better := func(m metric) string {
		if m.Higher {
			return "higher is better"
		}
		return "lower is better"
	}
	for _, m := range metrics {
		abs := svgchart.Chart{
			Title:    m.Name,
			Subtitle: fmt.Sprintf("%s; %s; each workload on its own scale", m.Unit, rounds) + "; " + better(m),
			Unit:     m.Unit,
			Format:   svgchart.Compact,
		}
		ratio := svgchart.Chart{
			Title:    m.Name + " relative to " + Baseline,
			Subtitle: fmt.Sprintf("ratio to mode %s in the same round; %s; %s", Baseline, rounds, better(m)),
			Unit:     "ratio to " + Baseline,
			Shared:   true,
			Lines:    []svgchart.Line{{Value: 1, Label: Baseline + " = 1"}},
			Format:   svgchart.Compact,
		}
		for _, t := range targets {
			if t.Metric == m.Key && t.Against == Baseline {
				ratio.Lines = append(ratio.Lines, svgchart.Line{
					Value: t.Limit,
					Label: fmt.Sprintf("target %s", map[string]string{"<=": "≤", ">=": "≥"}[t.Op]) + " " + formatRatio(t.Limit),
					Color: "#c44e52",
				})
				break
			}
		}
		for _, mode := range res.Meta.Modes {
			abs.Series = append(abs.Series, mode)
			abs.Colors = append(abs.Colors, modeColors[mode])
			if mode != Baseline {
				ratio.Series = append(ratio.Series, mode)
				ratio.Colors = append(ratio.Colors, modeColors[mode])
			}
		}
		for _, ws := range s.Workloads {
			if isSpikeMetric(m.Key) && !hasFigure(ws, m.Key) {
				continue
			}
			ap := svgchart.Panel{Title: ws.Workload}
			rp := svgchart.Panel{Title: ws.Workload}
			for _, mode := range res.Meta.Modes {
				ms, ok := findModeSummary(ws, mode)
				ap.Bars = append(ap.Bars, barOf(ms.Figures[m.Key], ok))
				if mode != Baseline {
					sp, has := ms.Ratios[m.Key]
					rp.Bars = append(rp.Bars, barOf(sp, ok && has))
				}
			}
			abs.Panels = append(abs.Panels, ap)
			ratio.Panels = append(ratio.Panels, rp)
		}
		if len(abs.Panels) == 0 {
			continue
		}
		out = append(out, namedChart{"abs-" + m.Key + ".svg", abs})
		if len(ratio.Series) > 0 {
			out = append(out, namedChart{"ratio-" + m.Key + ".svg", ratio})
		}
	}
	for _, ws := range s.Workloads {
		if c, ok := scenarioChart(res, ws, rounds); ok {
			out = append(out, namedChart{"scenario-" + ws.Workload + ".svg", c})
		}
	}
	return out
}

// hasFigure reports whether any mode of ws has figures of metric key.
func hasFigure(ws workloadSummary, key string) bool {
	for _, ms := range ws.Modes {
		if ms.Figures[key].N > 0 {
			return true
		}
	}
	return false
}

// scenarioChart returns the chart of one scenario: a panel per metric of
// its table (each on its own scale), with the ratio of each mode to off
// and of sized to the best peer, median over rounds with whiskers min–max.
// Workloads that are not scenarios have none.
func scenarioChart(res *Results, ws workloadSummary, rounds string) (svgchart.Chart, bool) {
	if !slices.ContainsFunc(scenarios, func(sc scenario) bool { return sc.Name == ws.Workload }) {
		return svgchart.Chart{}, false
	}
	c := svgchart.Chart{
		Title:    ws.Workload + ": ratios to " + Baseline + " and to the best peer",
		Subtitle: fmt.Sprintf("%s; ratio in the same round; %s; throughput: higher is better, the rest lower", ws.Description, rounds),
		Unit:     "ratio",
		Lines:    []svgchart.Line{{Value: 1, Label: "= 1"}},
		Format:   svgchart.Compact,
	}
	var modes []string
	for _, mode := range res.Meta.Modes {
		if mode != Baseline {
			modes = append(modes, mode)
			c.Series = append(c.Series, mode+" ÷ "+Baseline)
			c.Colors = append(c.Colors, modeColors[mode])
		}
	}
	sized, hasSized := findModeSummary(ws, "sized")
	if hasSized {
		c.Series = append(c.Series, "sized ÷ "+bestPeer)
		c.Colors = append(c.Colors, "#1b3f66")
	}
	for _, k := range columnsOf(ws) {
		if k == "p50" || k == "p99_9" || k == "gc" {
			continue // the table has them; the chart keeps to the targets' figures
		}
		p := svgchart.Panel{Title: columnTitles[k]}
		for _, mode := range modes {
			ms, ok := findModeSummary(ws, mode)
			sp, has := ms.Ratios[k]
			p.Bars = append(p.Bars, barOf(sp, ok && has))
		}
		if hasSized {
			sp, has := sized.PeerRatios[k]
			p.Bars = append(p.Bars, barOf(sp, has))
		}
		c.Panels = append(c.Panels, p)
	}
	return c, len(c.Series) > 0
}

func findModeSummary(ws workloadSummary, mode string) (modeSummary, bool) {
	for _, ms := range ws.Modes {
		if ms.Mode == mode {
			return ms, true
		}
	}
	return modeSummary{}, false
}

func barOf(s spread, ok bool) svgchart.Bar {
	if !ok || s.N == 0 {
		return svgchart.Bar{Value: math.NaN(), Low: math.NaN(), High: math.NaN()}
	}
	return svgchart.Bar{Value: float64(s.Median), Low: float64(s.Min), High: float64(s.Max)}
}
