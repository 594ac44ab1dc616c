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

// spikeMetrics are the columns of a spike scenario's tables: the small
// phase's throughput, latency and allocation, the peak RSS over the spike,
// and the memory after it.
var spikeMetrics = []string{"throughput", "p99", "alloc", "peak_rss", "rss_5s", "heap_5s", "rss_30s", "heap_30s"}

// columnsOf returns the table columns of a workload's summary: those of a
// spike scenario when any of its runs had a spike.
func columnsOf(ws workloadSummary) []string {
	for _, ms := range ws.Modes {
		if ms.Figures["rss_5s"].N > 0 {
			return spikeMetrics
		}
	}
	return tableMetrics
}

var columnTitles = map[string]string{
	"throughput": "req/s",
	"p50":        "p50 ms",
	"p99":        "p99 ms",
	"p99_9":      "p99.9 ms",
	"alloc":      "alloc/req",
	"gc":         "GC/1k req",
	"peak_rss":   "peak RSS MiB",
	"cpu":        "CPU µs/req",
	"rss_5s":     "RSS +5 s MiB",
	"heap_5s":    "heap +5 s MiB",
	"rss_30s":    "RSS +30 s MiB",
	"heap_30s":   "heap +30 s MiB",
}

// absoluteTable shows each mode's median figures under one workload.
func absoluteTable(ws workloadSummary) table {
	cols := columnsOf(ws)
	t := table{Header: []string{"mode"}, Left: map[int]bool{0: true}}
	for _, k := range cols {
		t.Header = append(t.Header, columnTitles[k])
	}
	t.Header = append(t.Header, "pool hits", "errors")
	for _, ms := range ws.Modes {
		row := []string{ms.Mode}
		for _, k := range cols {
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
func ratioTable(ws workloadSummary) table {
	return ratiosTable(ws, func(ms modeSummary) map[string]spread { return ms.Ratios })
}

// peerTable shows each mode's ratios to the best peer under one workload.
func peerTable(ws workloadSummary) table {
	return ratiosTable(ws, func(ms modeSummary) map[string]spread { return ms.PeerRatios })
}

func ratiosTable(ws workloadSummary, ratios func(modeSummary) map[string]spread) table {
	cols := columnsOf(ws)
	t := table{Header: []string{"mode"}, Left: map[int]bool{0: true}}
	for _, k := range cols {
		t.Header = append(t.Header, columnTitles[k])
	}
	for _, ms := range ws.Modes {
		rs := ratios(ms)
		if ms.Mode == Baseline || len(rs) == 0 {
			continue
		}
		row := []string{ms.Mode}
		for _, k := range cols {
			row = append(row, formatSpread(rs[k]))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// verdictTable lists every judged target.
func verdictTable(s *summary) table {
	t := table{
		Header: []string{"workload", "target", "sized", "compared with", "ratio: median (min–max)", "verdict"},
		Left:   map[int]bool{0: true, 1: true, 5: true},
	}
	for _, v := range s.Verdicts {
		status := v.Status
		if status == statusMissed {
			status = "MISSED"
		}
		if v.Note != "" {
			status += " (" + v.Note + ")"
		}
		t.Rows = append(t.Rows, []string{
			v.Target.Workload,
			v.Target.String(),
			formatFigure(v.Target.Metric, float64(v.Subject)),
			v.Target.Against + ": " + formatFigure(v.Target.Metric, float64(v.Baseline)) + slackNote(v.Target),
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
	case "peak_rss", "rss_5s", "heap_5s", "rss_30s", "heap_30s":
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
func formatSpread(s spread) string {
	if s.N == 0 {
		return "n/a"
	}
	if s.N == 1 || s.Min == s.Max {
		return formatRatio(float64(s.Median))
	}
	return fmt.Sprintf("%s (%s–%s)", formatRatio(float64(s.Median)), formatRatio(float64(s.Min)), formatRatio(float64(s.Max)))
}

// slackNote writes the slack a target adds to the figure it compares with.
func slackNote(t target) string {
	if t.Slack == 0 {
		return ""
	}
	return fmt.Sprintf(" (+ %g)", t.Slack)
}
