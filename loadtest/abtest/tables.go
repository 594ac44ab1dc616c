package abtest

import (
	"fmt"
	"math"
	"strings"
)

// table is a report table, rendered as Markdown or HTML.
type table struct {
	Caption string
	Header  []string
	Rows    [][]string
	// Left marks the columns aligned left; the others are figures, aligned
	// right.
	Left map[int]bool
}

// markdown writes t as a GitHub-flavoured Markdown table.
func (t table) markdown() string {
	var b strings.Builder
	if t.Caption != "" {
		fmt.Fprintf(&b, "%s\n\n", t.Caption)
	}
	row := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			fmt.Fprintf(&b, " %s |", strings.ReplaceAll(c, "|", `\|`))
		}
		b.WriteString("\n")
	}
	row(t.Header)
	b.WriteString("|")
	for i := range t.Header {
		if t.Left[i] {
			b.WriteString(" --- |")
		} else {
			b.WriteString(" ---: |")
		}
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		row(r)
	}
	return b.String()
}

// Columns of the per-workload tables.
var tableMetrics = []string{"throughput", "p50", "p99", "p99_9", "alloc", "gc", "peak_rss", "cpu"}

var columnTitles = map[string]string{
	"throughput": "req/s",
	"p50":        "p50 ms",
	"p99":        "p99 ms",
	"p99_9":      "p99.9 ms",
	"alloc":      "alloc/req",
	"gc":         "GC/1k req",
	"peak_rss":   "peak RSS MiB",
	"cpu":        "CPU µs/req",
}

// absoluteTable shows each mode's median figures under one workload.
func absoluteTable(ws WorkloadSummary) table {
	t := table{Header: []string{"mode"}, Left: map[int]bool{0: true}}
	for _, k := range tableMetrics {
		t.Header = append(t.Header, columnTitles[k])
	}
	t.Header = append(t.Header, "pool hits", "errors")
	for _, ms := range ws.Modes {
		row := []string{ms.Mode}
		for _, k := range tableMetrics {
			row = append(row, formatFigure(k, float64(ms.Figures[k].Median)))
		}
		hits := "–"
		if h := float64(ms.HitRatio); !math.IsNaN(h) {
			hits = fmt.Sprintf("%.1f%%", 100*h)
		}
		row = append(row, hits, fmt.Sprint(ms.Errors))
		t.Rows = append(t.Rows, row)
	}
	return t
}

// ratioTable shows each mode's ratios to the baseline under one workload.
func ratioTable(ws WorkloadSummary) table {
	t := table{Header: []string{"mode"}, Left: map[int]bool{0: true}}
	for _, k := range tableMetrics {
		t.Header = append(t.Header, columnTitles[k])
	}
	for _, ms := range ws.Modes {
		if ms.Mode == Baseline || len(ms.Ratios) == 0 {
			continue
		}
		row := []string{ms.Mode}
		for _, k := range tableMetrics {
			row = append(row, formatSpread(ms.Ratios[k]))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// verdictTable lists every judged target.
func verdictTable(s *Summary) table {
	t := table{
		Header: []string{"workload", "target", "sized", "compared with", "ratio: median (min–max)", "verdict"},
		Left:   map[int]bool{0: true, 1: true, 5: true},
	}
	for _, v := range s.Verdicts {
		status := v.Status
		if status == StatusMissed {
			status = "MISSED"
		}
		if v.Note != "" {
			status += " (" + v.Note + ")"
		}
		t.Rows = append(t.Rows, []string{
			v.Target.Workload,
			v.Target.String(),
			formatFigure(v.Target.Metric, float64(v.Subject)),
			v.Target.Against + ": " + formatFigure(v.Target.Metric, float64(v.Baseline)),
			formatSpread(v.Ratio),
			status,
		})
	}
	return t
}

// formatFigure writes a figure of metric key in its unit's usual precision.
func formatFigure(key string, v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	switch key {
	case "throughput", "cpu":
		return fmt.Sprintf("%.0f", v)
	case "p50", "p99", "p99_9":
		if v >= 100 {
			return fmt.Sprintf("%.0f", v)
		}
		return fmt.Sprintf("%.2f", v)
	case "alloc":
		return formatBytes(v)
	case "gc":
		return fmt.Sprintf("%.2f", v)
	case "peak_rss":
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// formatRatio writes a ratio with two or three significant digits.
func formatRatio(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "n/a"
	case v == 0:
		return "0"
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 0.1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

// formatSpread writes "median (min–max)", or the median alone for one round.
func formatSpread(s Spread) string {
	if s.N == 0 {
		return "n/a"
	}
	if s.N == 1 || s.Min == s.Max {
		return formatRatio(float64(s.Median))
	}
	return fmt.Sprintf("%s (%s–%s)", formatRatio(float64(s.Median)), formatRatio(float64(s.Min)), formatRatio(float64(s.Max)))
}
