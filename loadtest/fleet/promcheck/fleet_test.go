package main

import (
	"math"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		expr  string
		want  shape
		parts []string
	}{
		{`sum by (pool) (rate(bufpool_gets_total{job=~"$job"}[$__rate_interval]))`, shapeSum, nil},
		{`sum(rate(x[1m]))`, shapeSum, nil},
		{`max by (pool) (bufpool_max_idle_bytes)`, shapeMax, nil},
		{`sum by (pool) (rate(a[1m])) / sum by (pool) (rate(b[1m]))`, shapeRatio,
			[]string{`sum by (pool) (rate(a[1m]))`, `sum by (pool) (rate(b[1m]))`}},
		{`histogram_quantile(0.9, sum by (le) (rate(h_bucket[1m])))`, shapeQuantile,
			[]string{`sum by (le) (rate(h_bucket[1m]))`}},
		{`rate(a[1m]) / rate(b[1m])`, shapePerInstance, nil},
		{`sum(a) + sum(b)`, shapePerInstance, nil},
		{`sum(a) / sum(b) / sum(c)`, shapePerInstance, nil},
		{`go_goroutines{job=~"$job", instance=~"a/b"}`, shapePerInstance, nil},
		{`rate(go_memstats_alloc_bytes_total[5m])`, shapePerInstance, nil},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, parts := classify(tt.expr)
			if got != tt.want || strings.Join(parts, "|") != strings.Join(tt.parts, "|") {
				t.Errorf("classify = %v %q, want %v %q", got, parts, tt.want, tt.parts)
			}
		})
	}
}

func TestCombine(t *testing.T) {
	a := result{`{pool="p"}`: 1, `{pool="q"}`: 0}
	b := result{`{pool="p"}`: 2, `{pool="r"}`: 5}
	tests := []struct {
		name        string
		all         result
		op          func(a, b float64) float64
		ok          bool
		nonZero     int
		wantInError string
	}{
		{"sum", result{`{pool="p"}`: 3, `{pool="q"}`: 0, `{pool="r"}`: 5}, add, true, 1, ""},
		{"sum off by rounding", result{`{pool="p"}`: 3 + 1e-15, `{pool="q"}`: 0, `{pool="r"}`: 5}, add, true, 1, ""},
		{"filter ignored", result{`{pool="p"}`: 6, `{pool="q"}`: 0, `{pool="r"}`: 10}, add, false, 1, `{pool="p"}: all instances 6`},
		{"series missing", result{`{pool="p"}`: 3, `{pool="r"}`: 5}, add, false, 1, `{pool="q"}`},
		{"series extra", result{`{pool="p"}`: 3, `{pool="q"}`: 0, `{pool="r"}`: 5, `{pool="s"}`: 1}, add, false, 1, `on none alone`},
		{"max", result{`{pool="p"}`: 2, `{pool="q"}`: 0, `{pool="r"}`: 5}, math.Max, true, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			detail, ok, nonZero := combine(tt.all, []result{a, b}, tt.op)
			if ok != tt.ok || nonZero != tt.nonZero || !strings.Contains(detail, tt.wantInError) {
				t.Errorf("combine = %q, %v, %d; want ok %v, %d non-zero, detail with %q", detail, ok, nonZero, tt.ok, tt.nonZero, tt.wantInError)
			}
		})
	}
}

func TestShippedDashboardShapes(t *testing.T) {
	d, _ := shippedDashboard(t)
	counts := map[shape]int{}
	for _, tg := range d.Targets {
		if strings.Contains(tg.Expr, "$instance") {
			sh, _ := classify(tg.Expr)
			counts[sh]++
		}
	}
	// The hit ratio panels and the mean body sizes are ratios; the rest of
	// the pool and HTTP panels sums; the idle bound a max; the quantiles
	// quantiles; the Go runtime panels per instance.
	for sh, min := range map[shape]int{shapeRatio: 4, shapeSum: 10, shapeMax: 1, shapeQuantile: 6, shapePerInstance: 6} {
		if counts[sh] < min {
			t.Errorf("%d targets of shape %d, want at least %d (all: %v)", counts[sh], sh, min, counts)
		}
	}
}
