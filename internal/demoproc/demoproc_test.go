package demoproc

import (
	"context"
	"errors"
	"math"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

func TestParseMetrics(t *testing.T) {
	t.Parallel()
	const text = `# HELP bufpool_gets_total Gets.
# TYPE bufpool_gets_total counter
bufpool_gets_total{pool="sized",class="512"} 3
bufpool_gets_total{pool="sized",class="1024"} 4
# TYPE go_goroutines gauge
go_goroutines 12
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0.5"} 0.001
go_gc_duration_seconds_sum 0.25
go_gc_duration_seconds_count 7
# TYPE req_seconds histogram
req_seconds_bucket{le="0.1"} 1
req_seconds_bucket{le="+Inf"} 2
req_seconds_sum 0.3
req_seconds_count 2
odd{v="a}b \"c\""} NaN
`
	m, err := ParseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		key  string
		want float64
	}{
		{`bufpool_gets_total{class="512", pool="sized"}`, 3},
		{"go_goroutines", 12},
		{`go_gc_duration_seconds{quantile="0.5"}`, 0.001},
		{"go_gc_duration_seconds_count", 7},
		{`req_seconds_bucket{le="+Inf"}`, 2},
		{"req_seconds_sum", 0.3},
	} {
		if got, ok := m[tt.key]; !ok || got != tt.want {
			t.Errorf("m[%s] = %v, %t; want %v", tt.key, got, ok, tt.want)
		}
	}
	if v := m[`odd{v="a}b \"c\""}`]; !math.IsNaN(v) {
		t.Errorf("odd = %v, want NaN", v)
	}
	if sum := m.Sum("bufpool_gets_total"); sum != 7 {
		t.Errorf("Sum(bufpool_gets_total) = %v, want 7", sum)
	}
	if sum := m.Sum("bufpool_gets"); sum != 0 {
		t.Errorf("Sum(bufpool_gets) = %v, want 0: it added samples of bufpool_gets_total", sum)
	}
	if got := m.Totals()["go_gc_duration_seconds_count"]; got != 7 {
		t.Errorf("Totals()[go_gc_duration_seconds_count] = %v, want 7", got)
	}
	for _, bad := range []string{"x{a=\"1\" 2\n", "x 1 2 3\n", "x notanumber\n"} {
		if _, err := ParseMetrics(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseMetrics(%q) did not fail", bad)
		}
	}
}

func TestLoopback(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8080", true},
		{"127.0.0.2:1", true},
		{"[::1]:80", true},
		{"10.0.0.1:80", false},
		{"192.168.1.1:80", false},
		{"8.8.8.8:53", false},
		{"example.com:80", false},
		{"localhost:80", false}, // the server announces an IP; names are not resolved
		{"127.0.0.1", false},
	} {
		if err := Loopback(tt.addr); (err == nil) != tt.ok {
			t.Errorf("Loopback(%q) = %v, want ok %t", tt.addr, err, tt.ok)
		}
	}
}

func binary(t *testing.T) string {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestStartScrapeStop runs the real server through its life.
func TestStartScrapeStop(t *testing.T) {
	ctx := context.Background()
	t.Setenv("BODYPOOL_POOL", "bogus") // removed from the server's environment
	s, err := Start(ctx, Config{Bin: binary(t), Args: []string{"-pool", "sized"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := Loopback(s.Addr); err != nil || s.URL != "http://"+s.Addr {
		t.Errorf("URL %q, Addr %q", s.URL, s.Addr)
	}
	m, err := s.Scrape(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m[`bufpool_gets_total{band="1024", pool="sized"}`]; !ok {
		t.Errorf("no bufpool_gets_total in the scrape of a sized server")
	}
	if err := s.Stop(20 * time.Second); err != nil {
		t.Errorf("Stop = %v, want nil (exit status 0)\n%s", err, s.Stderr())
	}
	if out := s.Stdout(); !startLine.MatchString(out) || !strings.Contains(out, "demo-server: stopped after") {
		t.Errorf("stdout lacks the start or stop line:\n%s", out)
	}
}

func TestStartFails(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		cfg  Config
	}{
		{"no binary", Config{}},
		{"bad flag", Config{Bin: binary(t), Args: []string{"-pool", "bogus"}}},
		{"not a server", Config{Bin: "/bin/true"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := Start(ctx, tt.cfg); err == nil {
				s.Stop(time.Second)
				t.Fatal("Start did not fail")
			}
		})
	}
	var exitErr *exec.ExitError
	s, err := Start(ctx, Config{Bin: binary(t)})
	if err != nil {
		t.Fatal(err)
	}
	s.Signal(syscallKill)
	if err := s.Wait(20 * time.Second); !errors.As(err, &exitErr) {
		t.Errorf("Wait after SIGKILL = %v, want an *exec.ExitError", err)
	}
}
