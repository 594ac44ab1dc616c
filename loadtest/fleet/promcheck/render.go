package main

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bodypool/bodypool/loadtest/internal/svgchart"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

var legendRe = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)

// legend expands a Grafana legendFormat such as "{{pool}} {{class}}".
func legend(format string, m model.Metric) string {
	if format == "" || format == "__auto" {
		return m.String()
	}
	return legendRe.ReplaceAllStringFunc(format, func(s string) string {
		return string(m[model.LabelName(legendRe.FindStringSubmatch(s)[1])])
	})
}

// maxLegend is the number of series a panel names in its legend.
const maxLegend = 8

// renderSVG draws every panel of the dashboard, as Prometheus answers its
// queries over [from, to], into one SVG file: a plain picture of real data,
// not a Grafana screenshot.
func renderSVG(ctx context.Context, c *client, d *dashboard, vars map[string]string, from, to time.Time, path string) error {
	step := max(to.Sub(from)/200, time.Second).Truncate(time.Second)
	fig := svgchart.Figure{Cols: 3, PlotW: 390, PlotH: 225,
		Title: fmt.Sprintf("%s - real Prometheus data, %s to %s UTC (vars: pool=%s job=%s $__rate_interval=%s)",
			d.Title, from.UTC().Format("2006-01-02 15:04:05"), to.UTC().Format("15:04:05"), vars["pool"], vars["job"], vars["__rate_interval"])}
	for _, p := range d.panels {
		if len(p.Targets) == 0 {
			continue // a row
		}
		var lines []line
		for _, t := range p.Targets {
			q, err := substitute(t.Expr, vars)
			if err != nil {
				return err
			}
			v, _, _, err := c.api.QueryRange(ctx, q, v1.Range{Start: from, End: to, Step: step})
			m, ok := v.(model.Matrix)
			if err != nil || !ok {
				return fmt.Errorf("range query %s: %v, %v", q, err, v)
			}
			for _, s := range m {
				if l := newLine(legend(t.LegendFormat, s.Metric), s.Values); !math.IsNaN(l.last) {
					lines = append(lines, l)
				}
			}
		}
		fig.Plots = append(fig.Plots, panelPlot(p, from, to, lines))
	}
	return os.WriteFile(path, fig.SVG(), 0o644)
}

// line is one series of a panel: its legend, its samples and the last of
// its finite values (NaN when it has none).
type line struct {
	name    string
	samples []model.SamplePair
	last    float64
}

func newLine(name string, samples []model.SamplePair) line {
	l := line{name: name, samples: samples, last: math.NaN()}
	for _, s := range samples {
		if v := float64(s.Value); finite(v) {
			l.last = v
		}
	}
	return l
}

// panelPlot draws lines over [from, to] as Grafana panel p does, its y axis
// from 0 (to at least 1 for a ratio), broken where a value is not finite,
// its ticks and legend in the panel's unit. The legend names the lines by
// their last value, highest first (Grafana's "sort by Last"), up to
// maxLegend of them.
func panelPlot(p panel, from, to time.Time, lines []line) *plot.Plot {
	unit := p.FieldConfig.Defaults.Unit
	pl := plot.New()
	pl.Title.Text = p.Title
	pl.X.Tick.Marker = plot.TimeTicks{Format: "15:04:05"}
	pl.Y.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		ticks := plot.DefaultTicks{}.Ticks(lo, hi)
		for i := range ticks {
			if ticks[i].Label != "" {
				ticks[i].Label = formatUnit(ticks[i].Value, unit)
			}
		}
		return ticks
	})
	pl.Legend.Top, pl.Legend.Left, pl.Legend.TextStyle.Font.Size = true, true, 7
	slices.SortStableFunc(lines, func(a, b line) int {
		return cmp.Or(cmp.Compare(b.last, a.last), strings.Compare(a.name, b.name))
	})
	for i, l := range lines {
		style := plotter.DefaultLineStyle
		style.Color, style.Width = plotutil.Color(i), vg.Points(1.2)
		for k := 0; k < len(l.samples); k++ {
			run := &plotter.Line{LineStyle: style} // up to the next value that is not finite
			for ; k < len(l.samples) && finite(float64(l.samples[k].Value)); k++ {
				run.XYs = append(run.XYs, plotter.XY{X: float64(l.samples[k].Timestamp) / 1000, Y: float64(l.samples[k].Value)})
			}
			if len(run.XYs) > 0 {
				pl.Add(run)
			}
		}
		if i < maxLegend {
			pl.Legend.Add(fmt.Sprintf("%.40s (last %s)", l.name, formatUnit(l.last, unit)), &plotter.Line{LineStyle: style})
		}
	}
	if len(lines) > maxLegend {
		pl.Legend.Add(fmt.Sprintf("+%d more series", len(lines)-maxLegend))
	}
	if len(lines) == 0 {
		pl.X.Label.Text = "no data"
	}
	pl.X.Min, pl.X.Max = float64(from.UnixMilli())/1000, float64(to.UnixMilli())/1000
	pl.Y.Min = min(pl.Y.Min, 0)
	if unit == "percentunit" {
		pl.Y.Max = max(pl.Y.Max, 1)
	}
	return pl
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// formatUnit writes v in the Grafana unit of a panel, as a number of
// three significant digits: seconds as a duration, percentunit as a
// percentage, bytes in binary multiples (KiB, MiB, GiB), other figures in
// decimal ones (k, M, G), and the rate units (those ending in "ps", such as
// Bps, reqps or ops) with "/s".
func formatUnit(v float64, unit string) string {
	switch {
	case !finite(v):
		return strconv.FormatFloat(v, 'f', -1, 64)
	case unit == "percentunit":
		return fmt.Sprintf("%.1f%%", v*100)
	case unit == "s":
		return time.Duration(v * float64(time.Second)).Round(time.Microsecond).String()
	}
	base, multiples := 1000.0, []string{"", "k", "M", "G"}
	switch unit {
	case "bytes", "Bps", "binBps":
		base, multiples = 1024, []string{"B", "KiB", "MiB", "GiB"}
	}
	i := 0
	for ; i < len(multiples)-1 && math.Abs(v) >= base; i++ {
		v /= base
	}
	digits := 0
	if v != 0 {
		digits = max(2-int(math.Floor(math.Log10(math.Abs(v)))), 0)
	}
	rate := ""
	if strings.HasSuffix(unit, "ps") {
		rate = "/s"
	}
	return strconv.FormatFloat(v, 'f', digits, 64) + multiples[i] + rate
}
