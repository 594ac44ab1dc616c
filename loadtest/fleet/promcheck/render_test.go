package main

import (
	"encoding/xml"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/bodypool/bodypool/loadtest/internal/svgchart"
	"github.com/prometheus/common/model"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotutil"
)

func TestFormatUnit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    float64
		unit string
		want string
	}{
		{0, "short", "0"},
		{1, "short", "1.00"},
		{0.0345, "short", "0.0345"},
		{12.345, "short", "12.3"},
		{999, "short", "999"},
		{1500, "ops", "1.50k/s"},
		{12345, "short", "12.3k"},
		{25000, "reqps", "25.0k/s"},
		{1.5e6, "short", "1.50M"},
		{2.25e9, "short", "2.25G"},
		{2.5e12, "short", "2500G"},
		{0.00012, "short", "0.000120"},
		{-0.5, "short", "-0.500"},
		{0.5, "percentunit", "50.0%"},
		{512, "bytes", "512B"},
		{3 << 20, "bytes", "3.00MiB"},
		{256 << 20, "bytes", "256MiB"},
		{2048, "binBps", "2.00KiB/s"},
		{0.0004, "s", "400µs"},
		{1.5, "s", "1.5s"},
		{0.00123456, "s", "1.235ms"},
		{math.Inf(1), "short", "+Inf"},
		{math.Inf(-1), "bytes", "-Inf"},
		{math.NaN(), "short", "NaN"},
		{math.NaN(), "percentunit", "NaN"},
	}
	for _, tt := range tests {
		if got := formatUnit(tt.v, tt.unit); got != tt.want {
			t.Errorf("formatUnit(%v, %q) = %q, want %q", tt.v, tt.unit, got, tt.want)
		}
	}
}

// samples are values at 1700000000 s and each second after.
func samples(vs ...float64) []model.SamplePair {
	var ss []model.SamplePair
	for i, v := range vs {
		ss = append(ss, model.SamplePair{Timestamp: model.Time(1700000000+i) * 1000, Value: model.SampleValue(v)})
	}
	return ss
}

func TestPanelPlot(t *testing.T) {
	t.Parallel()
	from, nan := time.Unix(1700000000, 0), math.NaN()
	var ten []line
	for i := range 10 {
		ten = append(ten, newLine(fmt.Sprint("s", i), samples(float64(i))))
	}
	// stroke is how the SVG styles the i-th line in legend order.
	stroke := func(i int) string {
		r, g, b, _ := plotutil.Color(i).RGBA()
		return fmt.Sprintf("stroke:#%02X%02X%02X;stroke-width:1.2", r>>8, g>>8, b>>8)
	}
	tests := []struct {
		name  string
		unit  string
		lines []line
		count map[string]int // substrings and how often the SVG has them
		order []string       // substrings the SVG has in this order
	}{
		{
			name: "highest last value first, broken at NaN", unit: "short",
			lines: []line{newLine("quiet", samples(1, 1)), newLine("busy", samples(5, 6, nan, 7, 9))},
			// busy: two runs and the legend's sample; quiet: one and its sample.
			count: map[string]int{stroke(0): 3, stroke(1): 2, "(last": 2},
			order: []string{"busy (last 9.00)", "quiet (last 1.00)"},
		},
		{
			name: "a ratio", unit: "percentunit", lines: []line{newLine("r", samples(0.25, 0.5))},
			count: map[string]int{">r (last 50.0%)<": 1, ">100.0%<": 1},
		},
		{
			name: "the legend of the highest", unit: "short", lines: ten,
			count: map[string]int{"(last": maxLegend, ">+2 more series<": 1, "s1 (last": 0},
			order: []string{"s9 (last 9.00)", "s2 (last 2.00)"},
		},
		{name: "no data", unit: "short", count: map[string]int{">no data<": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := panel{Title: "hits & misses"}
			p.FieldConfig.Defaults.Unit = tt.unit
			fig := svgchart.Figure{Title: "t", Plots: []*plot.Plot{panelPlot(p, from, from.Add(4*time.Second), tt.lines)}}
			svg := string(fig.SVG())
			if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
				t.Fatalf("not XML: %v", err)
			}
			for s, n := range tt.count {
				if got := strings.Count(svg, s); got != n {
					t.Errorf("%d of %q, want %d", got, s, n)
				}
			}
			at := strings.Index(svg, ">hits &amp; misses<")
			for _, s := range tt.order {
				i := strings.Index(svg[max(at, 0):], s)
				if at < 0 || i < 0 {
					t.Fatalf("SVG lacks the title or %q after it:\n%s", s, svg)
				}
				at += i
			}
		})
	}
}
