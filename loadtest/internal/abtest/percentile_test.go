package abtest

import (
	"math"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	seq := func(n int) []time.Duration {
		d := make([]time.Duration, n)
		for i := range d {
			d[i] = time.Duration(i + 1)
		}
		return d
	}
	tests := []struct {
		name string
		d    []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", seq(1), 99.9, 1},
		{"median of 10", seq(10), 50, 5},
		{"p99 of 100", seq(100), 99, 99},
		{"p99.9 of 2000", seq(2000), 99.9, 1998},
		{"p99 of 2000", seq(2000), 99, 1980},
		{"p100", seq(7), 100, 7},
		{"tiny p", seq(7), 0.0001, 1},
		{"p99.9 of 300", seq(300), 99.9, 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.d, tt.p); got != tt.want {
				t.Errorf("Percentile(%d values, %v) = %v, want %v", len(tt.d), tt.p, got, tt.want)
			}
		})
	}
}

func TestLatencyOf(t *testing.T) {
	t.Parallel()
	d := []time.Duration{4 * time.Millisecond, 1 * time.Millisecond, 3 * time.Millisecond, 2 * time.Millisecond}
	got := latencyOf(d)
	want := latency{P50: 2, P99: 4, P999: 4, Max: 4, Mean: 2.5}
	if got != want {
		t.Errorf("Summarize = %+v, want %+v", got, want)
	}
	if (latencyOf(nil) != latency{}) {
		t.Error("LatencyOf(nil) is not zero")
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	tests := []struct {
		name string
		vs   []float64
		want float64
	}{
		{"odd", []float64{3, 1, 2}, 2},
		{"even", []float64{4, 1, 3, 2}, 2.5},
		{"one", []float64{7}, 7},
		{"skips NaN", []float64{nan, 5, 1, nan, 3}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := median(tt.vs); got != tt.want {
				t.Errorf("Median(%v) = %v, want %v", tt.vs, got, tt.want)
			}
		})
	}
	if got := median([]float64{nan}); !math.IsNaN(got) {
		t.Errorf("Median of only NaN = %v, want NaN", got)
	}
	if got := median(nil); !math.IsNaN(got) {
		t.Errorf("Median(nil) = %v, want NaN", got)
	}
}
