package main

import (
	"math"
	"testing"
)

func TestCompact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    float64
		want string
	}{
		{0, "0"},
		{1, "1.00"},
		{0.0345, "0.0345"},
		{12.345, "12.3"},
		{999, "999"},
		{9999, "9999"},
		{12345, "12.3k"},
		{1.5e6, "1.50M"},
		{2.25e9, "2.25G"},
		{0.00012, "0.000120"},
		{-0.5, "-0.500"},
		{math.Inf(1), "+Inf"},
		{math.Inf(-1), "-Inf"},
		{math.NaN(), "NaN"},
	}
	for _, tt := range tests {
		if got := compact(tt.v); got != tt.want {
			t.Errorf("compact(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
