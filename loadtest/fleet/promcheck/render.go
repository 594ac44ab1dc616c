package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/bodypool/bodypool/loadtest/internal/svgchart"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
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
		var series []svgchart.Series
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
				line := svgchart.Series{Name: legend(t.LegendFormat, s.Metric)}
				for _, p := range s.Values {
					line.T = append(line.T, float64(p.Timestamp)/1000)
					line.V = append(line.V, float64(p.Value))
				}
				series = append(series, line)
			}
		}
		unit := p.FieldConfig.Defaults.Unit
		plot := svgchart.Lines(p.Title, from, to, func(v float64) string { return fmtUnit(v, unit) }, series...)
		if unit == "percentunit" {
			plot.Y.Min, plot.Y.Max = 0, max(plot.Y.Max, 1)
		}
		fig.Plots = append(fig.Plots, plot)
	}
	return os.WriteFile(path, fig.SVG(), 0o644)
}

// fmtUnit formats an axis or legend value in the panel's Grafana unit.
func fmtUnit(v float64, unit string) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case unit == "bytes":
		return formatBytes(v)
	case unit == "Bps" || unit == "binBps":
		return formatBytes(v) + "/s"
	case unit == "percentunit":
		return fmt.Sprintf("%.1f%%", v*100)
	case unit == "s":
		return time.Duration(v * float64(time.Second)).Round(time.Microsecond).String()
	case unit == "reqps" || unit == "ops" || unit == "cps":
		return compact(v) + "/s"
	}
	return compact(v)
}

// compact writes v with three significant digits, from ten thousand up
// with a suffix k, M or G.
func compact(v float64) string {
	switch a := math.Abs(v); {
	case a == 0 || math.IsInf(a, 1) || math.IsNaN(a):
		return strconv.FormatFloat(v, 'f', -1, 64)
	case a >= 1e9:
		return compact(v/1e9) + "G"
	case a >= 1e6:
		return compact(v/1e6) + "M"
	case a >= 1e4:
		return compact(v/1e3) + "k"
	default:
		return strconv.FormatFloat(v, 'f', max(2-int(math.Floor(math.Log10(a))), 0), 64)
	}
}

// formatBytes writes a number of bytes in binary units, as Grafana's
// bytes unit does.
func formatBytes(f float64) string {
	for _, u := range []struct {
		name string
		mult float64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if math.Abs(f) >= u.mult {
			return fmt.Sprintf("%.1f%s", f/u.mult, u.name)
		}
	}
	return fmt.Sprintf("%.0fB", f)
}
