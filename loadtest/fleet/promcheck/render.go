package main

import (
	"context"
	"fmt"
	"html"
	"math"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
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

var palette = []string{"#73bf69", "#f2cc0c", "#5794f2", "#ff780a", "#f2495c", "#b877d9", "#8ab8ff", "#fade2a", "#37872d", "#c4162a"}

// renderSVG draws every panel of the dashboard, as Prometheus answers its
// queries over [from, to], into one SVG file: a plain picture of real data,
// not a Grafana screenshot.
func renderSVG(ctx context.Context, c *client, d *dashboard, vars map[string]string, from, to time.Time, path string) error {
	const (
		cols   = 3
		cellW  = 520
		cellH  = 300
		margin = 10
	)
	step := to.Sub(from) / 200
	if step < time.Second {
		step = time.Second
	}
	step = step.Truncate(time.Second)
	var panels []panelInfo
	for _, p := range d.panels {
		if p.Type != "row" && p.Targets > 0 {
			panels = append(panels, p)
		}
	}
	rows := (len(panels) + cols - 1) / cols
	var b strings.Builder
	width, height := cols*cellW+margin, rows*cellH+margin+40
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="DejaVu Sans, sans-serif" font-size="11">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#111217"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="26" fill="#ccccdc" font-size="16">%s - real Prometheus data, %s to %s UTC (vars: %s)</text>`+"\n",
		margin, html.EscapeString(d.Title), from.UTC().Format("2006-01-02 15:04:05"), to.UTC().Format("15:04:05"),
		html.EscapeString(fmt.Sprintf("pool=%s job=%s $__rate_interval=%s", vars["pool"], vars["job"], vars["__rate_interval"])))
	for i, p := range panels {
		x0 := margin + (i%cols)*cellW
		y0 := 40 + margin + (i/cols)*cellH
		var all []series
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
				s.Name = legend(t.Legend, s.Metric)
				all = append(all, s)
			}
		}
		drawPanel(&b, p, all, from, to, x0, y0, cellW-margin, cellH-margin)
	}
	b.WriteString("</svg>\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func drawPanel(b *strings.Builder, p panelInfo, all []series, from, to time.Time, x0, y0, w, h int) {
	const (
		padL, padR, padT, padB = 62, 28, 24, 70
	)
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#181b1f" stroke="#2c3235"/>`+"\n", x0, y0, w, h)
	fmt.Fprintf(b, `<text x="%d" y="%d" fill="#ccccdc" font-size="13" font-weight="bold">%s</text>`+"\n", x0+8, y0+17, html.EscapeString(p.Title))
	pw, ph := float64(w-padL-padR), float64(h-padT-padB)
	px, py := float64(x0+padL), float64(y0+padT)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range all {
		for _, v := range s.V {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		fmt.Fprintf(b, `<text x="%.0f" y="%.0f" fill="#f2495c">no data</text>`+"\n", px+pw/2-20, py+ph/2)
		return
	}
	if lo > 0 {
		lo = 0
	}
	if p.Unit == "percentunit" {
		lo, hi = 0, math.Max(hi, 1)
	}
	if hi <= lo {
		hi = lo + 1
	}
	t0, t1 := float64(from.UnixMilli())/1000, float64(to.UnixMilli())/1000
	sx := func(t float64) float64 { return px + (t-t0)/(t1-t0)*pw }
	sy := func(v float64) float64 { return py + ph - (v-lo)/(hi-lo)*ph }
	for i := 0; i <= 4; i++ {
		v := lo + (hi-lo)*float64(i)/4
		y := sy(v)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#2c3235"/>`+"\n", px, y, px+pw, y)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" fill="#8e8e8e" text-anchor="end">%s</text>`+"\n", px-4, y+4, html.EscapeString(fmtUnit(v, p.Unit)))
	}
	for i := 0; i <= 4; i++ {
		t := t0 + (t1-t0)*float64(i)/4
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" fill="#8e8e8e" text-anchor="middle">%s</text>`+"\n", sx(t), py+ph+14,
			time.Unix(int64(t), 0).UTC().Format("15:04:05"))
	}
	// Series with no number at all are not drawn; the others are listed
	// busiest first so that the legend shows what the chart shows.
	kept := all[:0]
	for _, s := range all {
		if anyValue(s.V) {
			kept = append(kept, s)
		}
	}
	all = kept
	sort.SliceStable(all, func(i, j int) bool {
		ai, aj := meanValue(all[i].V), meanValue(all[j].V)
		if ai != aj {
			return ai > aj
		}
		return all[i].Name < all[j].Name
	})
	clip := fmt.Sprintf("clip%d", p.ID)
	fmt.Fprintf(b, `<clipPath id="%s"><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f"/></clipPath>`+"\n", clip, px, py-2, pw, ph+4)
	const maxLegend = 8
	for i, s := range all {
		color := palette[i%len(palette)]
		var path strings.Builder
		pen := false
		for k, v := range s.V {
			if math.IsNaN(v) || math.IsInf(v, 0) {
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
			last := lastValue(s.V)
			fmt.Fprintf(b, `<rect x="%.0f" y="%.0f" width="10" height="3" fill="%s"/>`, lx, ly-4, color)
			fmt.Fprintf(b, `<text x="%.0f" y="%.0f" fill="#ccccdc">%s  (last %s)</text>`+"\n", lx+14, ly, html.EscapeString(trim(s.Name, 40)), html.EscapeString(fmtUnit(last, p.Unit)))
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

func anyValue(vs []float64) bool { return !math.IsNaN(lastValue(vs)) }

// meanValue is the mean of the values of vs that are numbers, or -Inf.
func meanValue(vs []float64) float64 {
	sum, n := 0.0, 0
	for _, v := range vs {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			sum += v
			n++
		}
	}
	if n == 0 {
		return math.Inf(-1)
	}
	return sum / float64(n)
}

func trim(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
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
