package main

import (
	"math"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		expr  string
		want  string
		parts []string
	}{
		{`sum by (pool) (rate(bufpool_gets_total{job=~"$job"}[$__rate_interval]))`, "sum", nil},
		{`sum(rate(x[1m]))`, "sum", nil},
		{`max by (pool) (bufpool_max_idle_bytes)`, "max", nil},
		{`sum by (pool) (rate(a[1m])) / sum by (pool) (rate(b[1m]))`, "ratio",
			[]string{`sum by (pool) (rate(a[1m]))`, `sum by (pool) (rate(b[1m]))`}},
		{`histogram_quantile(0.9, sum by (le) (rate(h_bucket[1m])))`, "quantile",
			[]string{`sum by (le) (rate(h_bucket[1m]))`}},
		{`histogram_quantile(0.9, rate(h_bucket[1m]))`, "", nil},
		{`rate(a[1m]) / rate(b[1m])`, "", nil},
		{`sum(a) + sum(b)`, "", nil},
		{`sum(a) / sum(b) / sum(c)`, "", nil},
		{`sum(a{x=")"}) / sum(b{y="/("})`, "ratio", []string{`sum(a{x=")"})`, `sum(b{y="/("})`}},
		{`go_goroutines{job=~"$job", instance=~"a/b"}`, "", nil},
		{`rate(go_memstats_alloc_bytes_total[5m])`, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, parts := classify(tt.expr)
			if got != tt.want || strings.Join(parts, "|") != strings.Join(tt.parts, "|") {
				t.Errorf("classify = %q %q, want %q %q", got, parts, tt.want, tt.parts)
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
		{"filter ignored", result{`{pool="p"}`: 6, `{pool="q"}`: 0, `{pool="r"}`: 10}, add, false, 1, `{pool="p"}: 6 for all instances, 3 from each`},
		{"series missing", result{`{pool="p"}`: 3, `{pool="r"}`: 5}, add, false, 1, `{pool="q"}: none for all instances`},
		{"series extra", result{`{pool="p"}`: 3, `{pool="q"}`: 0, `{pool="r"}`: 5, `{pool="s"}`: 1}, add, false, 1, `{pool="s"}: 1 for all instances, none from each`},
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
	counts := map[string]int{}
	for _, tg := range d.targets {
		if strings.Contains(tg.Expr, "$instance") {
			kind, _ := classify(tg.Expr)
			counts[kind]++
		}
	}
	// The hit ratio panels and the mean body sizes are ratios; the rest of
	// the pool and HTTP panels sums; the idle bound a max; the quantiles
	// quantiles; the Go runtime panels per instance ("").
	for kind, min := range map[string]int{"ratio": 4, "sum": 10, "max": 1, "quantile": 6, "": 6} {
		if counts[kind] < min {
			t.Errorf("%d targets of kind %q, want at least %d (all: %v)", counts[kind], kind, min, counts)
		}
	}
}
