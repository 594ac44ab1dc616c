package abtest

import (
	"testing"
	"time"
)

// TestLatencyOf checks the nearest-rank percentiles: the smallest value
// that at least p percent of the values do not exceed.
func TestLatencyOf(t *testing.T) {
	t.Parallel()
	seq := func(n int) []time.Duration { // 1 ms to n ms, shuffled
		d := make([]time.Duration, n)
		for i := range d {
			d[i] = time.Duration((i*7919)%n+1) * time.Millisecond
		}
		return d
	}
	tests := []struct {
		name string
		d    []time.Duration
		want latency
	}{
		{"empty", nil, latency{}},
		{"one", seq(1), latency{1, 1, 1}},
		{"four", []time.Duration{4 * time.Millisecond, time.Millisecond, 3 * time.Millisecond, 2 * time.Millisecond}, latency{2, 4, 4}},
		{"10", seq(10), latency{5, 10, 10}},
		{"100", seq(100), latency{50, 99, 100}},
		{"300", seq(300), latency{150, 297, 300}},
		{"2000: p99.9 is the second largest", seq(2000), latency{1000, 1980, 1998}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := latencyOf(tt.d); got != tt.want {
				t.Errorf("latencyOf(%d values) = %+v, want %+v", len(tt.d), got, tt.want)
			}
		})
	}
}
