package promtext

import (
	"errors"
	"math"
	"strings"
	"testing"
)

const exposition = `# HELP go_gc_duration_seconds A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 2.1e-05
go_gc_duration_seconds_sum 0.000123
go_gc_duration_seconds_count 7
# TYPE go_memstats_alloc_bytes_total counter
go_memstats_alloc_bytes_total 3.796960e+05
process_resident_memory_bytes 1.179648e+07

bufpool_gets_total{class="512",pool="sized"} 10
bufpool_gets_total{class="1024",pool="sized"} 32
bufpool_http_request_body_bytes_bucket{le="+Inf"} 3
odd{path="/a}b",q="say \"hi\""} 1 1700000000000
`

func TestParse(t *testing.T) {
	t.Parallel()
	ss, err := Parse(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want float64
	}{
		{"go_gc_duration_seconds_count", 7},
		{"go_memstats_alloc_bytes_total", 379696},
		{"process_resident_memory_bytes", 11796480},
		{"go_gc_duration_seconds", 2.1e-05},
		{"odd", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ss.Value(tt.name)
			if err != nil || got != tt.want {
				t.Errorf("Value(%q) = %v, %v; want %v", tt.name, got, err, tt.want)
			}
		})
	}
	if got, ok := ss.Sum("bufpool_gets_total"); !ok || got != 42 {
		t.Errorf("Sum(bufpool_gets_total) = %v, %v; want 42, true", got, ok)
	}
	if _, ok := ss.Sum("nothing"); ok {
		t.Error("Sum of a missing metric reported found")
	}
	if _, err := ss.Value("nothing"); !errors.Is(err, ErrMissing) {
		t.Errorf("Value of a missing metric: err = %v, want ErrMissing", err)
	}
	if got := ss[len(ss)-1].Labels; got != `path="/a}b",q="say \"hi\""` {
		t.Errorf("labels with a brace and escaped quotes parsed as %q", got)
	}
}

func TestParseValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line string
		want float64
	}{
		{"m 1", 1},
		{"m -2.5", -2.5},
		{"m 1e3", 1000},
		{"m +Inf", math.Inf(1)},
		{"m -Inf", math.Inf(-1)},
		{"m{a=\"b\"} 4 123", 4},
		{"m\t5", 5},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			ss, err := Parse(strings.NewReader(tt.line))
			if err != nil {
				t.Fatal(err)
			}
			if got := ss[0].Value; got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	ss, err := Parse(strings.NewReader("m NaN"))
	if err != nil || !math.IsNaN(ss[0].Value) {
		t.Errorf("NaN parsed as %v, %v", ss, err)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, line := range []string{
		"novalue",
		"m{a=\"b\" 1",
		"m{a=\"b}\" ",
		"m abc",
		"m 1 2 3",
		"{a=\"b\"} 1",
	} {
		t.Run(line, func(t *testing.T) {
			if ss, err := Parse(strings.NewReader("ok 1\n" + line)); err == nil {
				t.Errorf("parsed %q as %v; want an error", line, ss)
			} else if !strings.Contains(err.Error(), "line 2") {
				t.Errorf("error %q does not name line 2", err)
			}
		})
	}
}
