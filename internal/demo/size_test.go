package demo

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Size
	}{
		{"0", 0},
		{"1024", 1024},
		{"8MiB", 8 << 20},
		{"512KiB", 512 << 10},
		{"1.5MB", 1_500_000},
		{"2 GiB", 2 << 30},
		{"7b", 7},
		{"1k", 1 << 10},
		{"3G", 3 << 30},
		{"1TB", 1e12},
		{"1tib", 1 << 40},
		{" 16mib ", 16 << 20},
		{"0.5KiB", 512},
		{"1e3", 1000},
		{"+5", 5},
		// Decimals whose float64 product misses the whole number by an ulp.
		{"1.001KB", 1001},
		{"1.003KB", 1003},
		{"1.000001MB", 1_000_001},
		// The extremes of an int64 are exact.
		{"9223372036854775807", math.MaxInt64},
		{"9223372036854775807B", math.MaxInt64},
		{"8388607TiB", 8388607 << 40},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSize(tc.in)
			if err != nil || got != tc.want {
				t.Errorf("ParseSize(%q) = %d, %v; want %d, nil", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestParseSizeInvalid(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"", " ", "-1", "-1KiB", "abc", "MiB", "1.5", "0.1B", "1.0001KiB",
		"9999999999TiB", "8388608TiB", "9223372036854775808", "1e19",
		"NaN", "inf", "-Inf", "1e400", "1/2", "0x10", "1 2", "8 XB", "12XB",
	} {
		t.Run(in, func(t *testing.T) {
			got, err := ParseSize(in)
			if err == nil {
				t.Fatalf("ParseSize(%q) = %d, want an error", in, got)
			}
			if !strings.Contains(err.Error(), strconv.Quote(in)) {
				t.Errorf("ParseSize(%q) error %q does not quote the input", in, err)
			}
		})
	}
}

func TestSizeString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   Size
		want string
	}{
		{0, "0B"},
		{1, "1B"},
		{1000, "1000B"},
		{1023, "1023B"},
		{1024, "1KiB"},
		{1536, "1536B"},
		{512 << 10, "512KiB"},
		{8 << 20, "8MiB"},
		{(8 << 20) + 1024, "8193KiB"},
		{1 << 30, "1GiB"},
		{3 << 40, "3TiB"},
		{1 << 50, "1024TiB"},
		{math.MaxInt64, "9223372036854775807B"},
	} {
		if got := tc.in.String(); got != tc.want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(tc.in), got, tc.want)
		}
	}
}

func TestSizeSet(t *testing.T) {
	t.Parallel()
	var s Size
	if err := s.Set("64KiB"); err != nil || s != 64<<10 {
		t.Errorf("Set(64KiB): size %d, error %v; want 65536, nil", s, err)
	}
	err := s.Set("12XB")
	if err == nil {
		t.Fatal("Set(12XB) succeeded")
	}
	// The flag package prefixes `invalid value "12XB" for flag -x: `.
	if strings.HasPrefix(err.Error(), "size") {
		t.Errorf("Set error %q repeats the word size", err)
	}
	if s != 64<<10 {
		t.Errorf("a failed Set changed the size to %d", s)
	}
}

// FuzzParseSize checks that ParseSize never panics, never returns a
// negative size, and that what it parses survives String and a second
// parse. Seeds beyond these are in testdata/fuzz/FuzzParseSize.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "1024", "8MiB", "1.5MB", "2 GiB", "7b", "1k", "1.001KB", "1e400", "NaN", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("ParseSize(%q) = %d, negative", s, n)
		}
		back, err := ParseSize(n.String())
		if err != nil || back != n {
			t.Fatalf("ParseSize(%q) = %d, formats as %q, which parses as %d, %v", s, n, n.String(), back, err)
		}
	})
}
