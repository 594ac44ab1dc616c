package abtest

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bodypool/bodypool/internal/demo"
)

func sampleResults() *Results {
	res := fixture{
		workloads: []string{"small", "mixed"},
		modes:     demo.Modes,
		rounds:    2,
		value: func(w, mode string, r int) float64 {
			return map[string]float64{"off": 100, "none": 120, "syncpool": 60, "calibrated": 50, "sized": 5}[mode] + float64(r)
		},
	}.results()
	res.Meta.Described["small"] = "1 KiB bodies"
	res.Meta.Described["mixed"] = "60% 1 KiB | the rest"
	res.Meta.Requests, res.Meta.Concurrency, res.Meta.LoadBefore, res.Meta.LoadAfter = 1000, 8, "3.01 2.00 1.00", "4.00 3.00 2.00"
	return res
}

// scenarioResults are Results of the S1-c64 and S2 scenarios in four modes
// over two rounds, with sized at half the peak RSS of its peers.
func scenarioResults() *Results {
	modes := []string{"off", "syncpool", "calibrated", "sized"}
	res := fixture{
		workloads: []string{"S1-c64", "S2"},
		modes:     modes,
		rounds:    2,
		value: func(w, mode string, r int) float64 {
			return map[string]float64{"off": 100, "syncpool": 90, "calibrated": 80, "sized": 40}[mode] + float64(r)
		},
	}.results()
	for i := range res.Runs {
		if r := &res.Runs[i]; r.Workload == "S2" {
			r.Spike = &spikeFigures{Requests: 512, After: []memorySample{
				{AfterSeconds: 5, RSSBytes: r.PeakRSSBytes / 2, HeapInUseBytes: float64(r.PeakRSSBytes) / 4},
				{AfterSeconds: 30, RSSBytes: r.PeakRSSBytes / 3, HeapInUseBytes: float64(r.PeakRSSBytes) / 8},
			}}
		}
	}
	res.Meta.SpikeWaits = []float64{5, 30}
	for _, sc := range scenarios {
		res.Meta.Described[sc.Name] = sc.Description
	}
	return res
}

func TestScenarioReport(t *testing.T) {
	t.Parallel()
	res := scenarioResults()
	charts := Charts(res)
	var files []string
	for _, c := range charts {
		files = append(files, c.File)
	}
	all := strings.Join(files, " ")
	for _, want := range []string{"chart-S1-c64.svg", "chart-S2.svg"} {
		if !strings.Contains(all, want) {
			t.Errorf("no chart %s among %s", want, all)
		}
	}
	md := markdown(res, charts)
	wantAll(t, "Markdown", md,
		"Ratio to the best peer",
		"| mode | req/s | p99 ms | alloc/req | peak RSS MiB | RSS +5 s MiB | heap +5 s MiB | RSS +30 s MiB | heap +30 s MiB | pool hits | errors |",
		"sized/best peer throughput ratio ≥ 1.00",
		"sized heap in use 5 s after the spike ≤ off + 8 MiB",
		"read 5 s and 30 s after the last spike response",
		"### S1-c64: steady log-uniform mix",
	)
	// sized's throughput is 41/91 of syncpool's (the best peer) in round
	// 1, and its peak RSS 41/81 of calibrated's.
	if !strings.Contains(md, "| sized | 0.45 (0.45–0.46) | 0.51") {
		t.Errorf("Markdown lacks sized's ratio to the best peer:\n%s", md)
	}
	if strings.Contains(md, "NaN") || strings.Contains(md, "%!") {
		t.Errorf("Markdown has a formatting error:\n%s", md)
	}
	// The S2 chart has a panel per column of its table.
	for _, c := range charts {
		if c.File == "chart-S2.svg" && !strings.Contains(string(c.Chart.SVG()), "heap +30 s MiB") {
			t.Error("the S2 chart lacks the heap 30 s after the spike")
		}
	}
}

func TestMarkdown(t *testing.T) {
	t.Parallel()
	res := sampleResults()
	charts := Charts(res)
	md := markdown(res, charts)
	if len(charts) != len(res.Meta.Workloads) {
		t.Errorf("%d charts, want one per workload", len(charts))
	}
	wantAll(t, "Markdown", md,
		"# bodypool A/B load test",
		"share one 2-core machine",
		"absolute numbers",
		"| workload | target |",
		"MISSED",               // the throughput target
		"### mixed: 60% 1 KiB", // the description, with its pipe escaped in tables only
		"| sized | ",
		"before: 3.01 2.00 1.00; after: 4.00 3.00 2.00",
		"(chart-mixed.svg)",
		"Ratio to `off` in the same round",
		"| sized | 0.064 (0.059–0.069) |",                                       // 6/101 and 7/102
		"| sized | 6 | 6.50 | 6.50 | 6.50 | 6 B | 6.50 | 6.5 | 6 | 90.0% | 0 |", // median figures and the hit ratio
	)
	// The ratio tables have no row of the baseline against itself.
	if n := strings.Count(md, "| off | "); n != 2 {
		t.Errorf("%d rows of off, want one per workload in the figures", n)
	}
	if strings.Contains(md, "NaN") || strings.Contains(md, "%!") {
		t.Errorf("Markdown has a formatting error:\n%s", md)
	}
}

func TestWriteReport(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "new")
	res := sampleResults()
	if err := WriteReport(dir, res); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 + len(res.Meta.Workloads); len(entries) != want {
		t.Errorf("%d files, want %d", len(entries), want)
	}
}

func TestHeadline(t *testing.T) {
	t.Parallel()
	res := sampleResults()
	if h := Headline(res); !strings.Contains(h, "missed: mixed: sized/off throughput ratio ≥ 1.20") || !strings.Contains(h, "not judged") {
		t.Errorf("headline %q", h)
	}
	res.Meta.Interrupted = true
	if h := Headline(res); !strings.Contains(h, "interrupted") {
		t.Errorf("headline of an interrupted run: %q", h)
	}
	if h := Headline(&Results{}); !strings.Contains(h, "No target could be judged") {
		t.Errorf("headline of nothing: %q", h)
	}
}

func TestFormatting(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	tests := []struct {
		got, want string
	}{
		{formatRatio(0.0123), "0.012"},
		{formatRatio(0.5), "0.50"},
		{formatRatio(2.345), "2.35"},
		{formatRatio(12.34), "12.3"},
		{formatRatio(0), "0"},
		{formatRatio(nan), "n/a"},
		{formatSpread(spread{Min: 0.5, Median: 0.6, Max: 0.7, N: 3}), "0.60 (0.50–0.70)"},
		{formatSpread(spread{Min: 0.5, Median: 0.5, Max: 0.5, N: 1}), "0.50"},
		{formatSpread(spreadOf(nil)), "n/a"},
		{formatBytes(512), "512 B"},
		{formatBytes(1536), "1.5 KiB"},
		{formatBytes(200 << 10), "200 KiB"},
		{formatBytes(3 << 20), "3.00 MiB"},
		{formatBytes(64 << 20), "64 MiB"},
		{metricByKey("throughput").format(1234.4), "1234"},
		{metricByKey("p99").format(1.234), "1.23"},
		{metricByKey("p99").format(123.4), "123"},
		{metricByKey("alloc").format(2048), "2.0 KiB"},
		{metricByKey("peak_rss").format(20.04), "20.0"},
		{metricByKey("gc").format(nan), "n/a"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestWriteTable(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	writeTable(&b, "l", [][]string{{"x|y", "1"}}, "a", "b")
	if want := "| a | b |\n| --- | ---: |\n| x\\|y | 1 |\n\n"; b.String() != want {
		t.Errorf("markdown:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	writeTable(&b, "l", nil, "a")
	if b.Len() != 0 {
		t.Errorf("a table without rows: %q", b.String())
	}
}

// wantAll requires text, the named output, to contain every one of wants.
func wantAll(t *testing.T, name, text string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("%s lacks %q", name, want)
		}
	}
}
