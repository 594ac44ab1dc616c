package abtest

import (
	"encoding/xml"
	"strings"
	"testing"
)

func TestCharts(t *testing.T) {
	t.Parallel()
	// zeroOff has off's throughput 0: ratios to off of +Inf.
	zeroOff := sampleResults()
	for i := range zeroOff.Runs {
		if r := &zeroOff.Runs[i]; r.Mode == "off" {
			r.Throughput = 0
		}
	}
	tests := []struct {
		name   string
		res    *Results
		charts int
		count  map[string]int // in every chart, substrings and how often it has them
		has    []string       // in every chart
	}{
		{
			name: "all modes", res: sampleResults(), charts: 2,
			count: map[string]int{">none ÷ off<": 5, ">sized ÷ best peer<": 5, "stroke-dasharray": 5, ">ratio<": 1},
			has:   []string{": ratios to off and to the best peer<", "whiskers min–max", ">req/s<", ">p99 ms<", ">0.064<"},
		},
		{
			name: "scenarios", res: scenarioResults(), charts: 2,
			count: map[string]int{">none ÷ off<": 0, ">sized ÷ best peer<": -1, ">ratio<": 1},
			has:   []string{">peak RSS MiB<", ">sized ÷ off<"},
		},
		{
			name: "a ratio without a median", res: zeroOff, charts: 2,
			has: []string{">req/s<", ">n/a<"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			charts := Charts(tt.res)
			if len(charts) != tt.charts {
				t.Fatalf("%d charts, want %d", len(charts), tt.charts)
			}
			for _, c := range charts {
				svg := string(c.Chart.SVG())
				if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
					t.Fatalf("%s is not XML: %v", c.File, err)
				}
				for s, n := range tt.count {
					if got := strings.Count(svg, s); got != n && !(n < 0 && got > 0) {
						t.Errorf("%s: %d of %q, want %d", c.File, got, s, n)
					}
				}
				for _, s := range append(tt.has, ">"+c.Chart.Title+"<") {
					if !strings.Contains(svg, s) {
						t.Errorf("%s lacks %q", c.File, s)
					}
				}
				for _, bad := range []string{"NaN", "Inf", "%!"} {
					if strings.Contains(svg, bad) {
						t.Errorf("%s contains %q", c.File, bad)
					}
				}
			}
		})
	}
}
