package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"regexp"
	"time"

	"github.com/bodypool/bodypool/loadtest/internal/svgchart"
)

var legendRe = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)

// legend expands a Grafana legendFormat such as "{{pool}} {{class}}".
func legend(format string, m map[string]string) string {
	if format == "" || format == "__auto" {
		return seriesName(m)
	}
	return legendRe.ReplaceAllStringFunc(format, func(s string) string {
		return m[legendRe.FindStringSubmatch(s)[1]]
	})
}

// renderSVG draws every panel of the dashboard, as Prometheus answers its
// queries over [from, to], into one SVG file: a plain picture of real data,
// not a Grafana screenshot.
func renderSVG(ctx context.Context, c *client, d *dashboard, vars map[string]string, from, to time.Time, path string) error {
	step := max(to.Sub(from)/200, time.Second).Truncate(time.Second)
	var charts []svgchart.TimeSeries
	for _, p := range d.panels {
		if p.Type == "row" || p.Targets == 0 {
			continue
		}
		unit := p.Unit
		ts := svgchart.TimeSeries{Title: p.Title, From: from, To: to, Percent: unit == "percentunit",
			Format: func(v float64) string { return fmtUnit(v, unit) }}
		for _, t := range d.Targets {
			if t.PanelID != p.ID || t.Panel != p.Title {
				continue
			}
			q, err := substitute(t.Expr, vars)
			if err != nil {
				return err
			}
			ss, err := c.queryRange(ctx, q, from, to, step)
			if err != nil {
				return fmt.Errorf("%s: %w", t.Expr, err)
			}
			for _, s := range ss {
				ts.Series = append(ts.Series, svgchart.Series{Name: legend(t.Legend, s.Metric), T: s.T, V: s.V})
			}
		}
		charts = append(charts, ts)
	}
	title := fmt.Sprintf("%s - real Prometheus data, %s to %s UTC (vars: pool=%s job=%s $__rate_interval=%s)",
		d.Title, from.UTC().Format("2006-01-02 15:04:05"), to.UTC().Format("15:04:05"), vars["pool"], vars["job"], vars["__rate_interval"])
	return os.WriteFile(path, svgchart.Grid(title, charts, 3, 520, 300), 0o644)
}

// fmtUnit formats an axis or legend value in the panel's Grafana unit.
func fmtUnit(v float64, unit string) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	switch unit {
	case "bytes":
		return formatBytes(v)
	case "Bps", "binBps":
		return formatBytes(v) + "/s"
	case "percentunit":
		return fmt.Sprintf("%.1f%%", v*100)
	case "s":
		switch {
		case v == 0:
			return "0"
		case v < 1e-3:
			return fmt.Sprintf("%.0fµs", v*1e6)
		case v < 1:
			return fmt.Sprintf("%.1fms", v*1e3)
		}
		return fmt.Sprintf("%.2fs", v)
	case "reqps", "ops", "cps":
		return siFormat(v) + "/s"
	}
	return siFormat(v)
}

func siFormat(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return fmt.Sprintf("%.1fG", v/1e9)
	case a >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case a >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	case a >= 10 || a == 0:
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
