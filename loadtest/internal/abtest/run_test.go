package abtest

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func fakeConfig(t *testing.T, env ...string) Config {
	t.Helper()
	ws, err := LookupScenarios("small,mixed")
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		ServerBin:   os.Args[0],
		ServerEnv:   append([]string{"ABTEST_FAKE_SERVER=1"}, env...),
		Modes:       []string{"off", "sized"},
		Scenarios:   ws,
		Requests:    40,
		Warmup:      5,
		Concurrency: 4,
		Rounds:      2,
		RunTimeout:  time.Minute,
	}
}

// gone reports whether process pid has exited and been reaped.
func gone(pid int) bool {
	_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid)))
	return errors.Is(err, os.ErrNotExist)
}

// runFake runs cfg, of two workloads, two modes and two rounds, and
// requires all eight runs.
func runFake(t *testing.T, cfg Config) *Results {
	t.Helper()
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(res.Runs), 2*2*2; got != want {
		t.Fatalf("%d runs, want %d", got, want)
	}
	return res
}

func TestRunAgainstFakeServer(t *testing.T) {
	t.Parallel()
	var progress strings.Builder
	cfg := fakeConfig(t)
	cfg.Progress = &progress
	res := runFake(t, cfg)
	for _, r := range res.Runs {
		name := r.Workload + "/" + r.Mode
		if r.Errors+r.WarmupErrors != 0 {
			t.Errorf("%s: %d errors: %s", name, r.Errors+r.WarmupErrors, r.FirstError)
		}
		if r.Throughput <= 0 || r.Latency.P50 <= 0 || r.Latency.P999 < r.Latency.P50 {
			t.Errorf("%s: implausible throughput or latency: %v, %+v", name, r.Throughput, r.Latency)
		}
		if r.AllocPerRequest <= 0 || r.PeakRSSBytes <= 0 {
			t.Errorf("%s: no server figures: alloc %v, peak RSS %v", name, r.AllocPerRequest, r.PeakRSSBytes)
		}
		if r.Mode == "sized" && r.PoolGets != float64(r.Requests) {
			t.Errorf("%s: pool gets %v, want %d (the scrapes bracket the measured requests)", name, r.PoolGets, r.Requests)
		}
		if !gone(r.PID) {
			t.Errorf("%s: server process %d is still there", name, r.PID)
		}
	}
	if n := strings.Count(progress.String(), "\n"); n != len(res.Runs) {
		t.Errorf("%d progress lines, want %d:\n%s", n, len(res.Runs), progress.String())
	}
	if res.Meta.LoadBefore == "" || res.Meta.Finished.Before(res.Meta.Started) {
		t.Errorf("meta incomplete: %+v", res.Meta)
	}

	dir := t.TempDir()
	if err := WriteReport(dir, res); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"results.json", "report.md", "chart-small.svg", "chart-mixed.svg"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	var back Results
	b, _ := os.ReadFile(filepath.Join(dir, "results.json"))
	if err := json.Unmarshal(b, &back); err != nil || len(back.Runs) != len(res.Runs) {
		t.Errorf("results.json does not read back: %v", err)
	}
}

func TestRunScenarios(t *testing.T) {
	t.Parallel()
	cfg := fakeConfig(t)
	cfg.Scenarios = []Scenario{
		{Name: "h2", Size: fixedSize(kib), Conns: 2, Streams: 3},
		{Name: "spike", Size: fixedSize(kib), Conns: 3, Requests: 20, Spike: fixedSize(64 * kib), SpikeRequests: 7},
	}
	cfg.SpikeWaits = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond}
	res := runFake(t, cfg)
	for _, r := range res.Runs {
		name := r.Workload + "/" + r.Mode
		if r.Failed() != 0 {
			t.Errorf("%s: errors: %s", name, r.FirstError)
		}
		switch r.Workload {
		case "h2":
			if r.Requests != cfg.Requests || r.Streams != 3 || r.Concurrency != 2 || r.Spike != nil {
				t.Errorf("%s: %d requests over %d × %d, spike %v", name, r.Requests, r.Concurrency, r.Streams, r.Spike)
			}
		case "spike":
			sp := r.Spike
			if r.Requests != 20 || sp == nil || sp.Requests != 7 || sp.BodyBytes != 7*64*kib || len(sp.After) != 2 {
				t.Fatalf("%s: %d requests, spike %+v", name, r.Requests, sp)
			}
			for i, a := range sp.After {
				if a.AfterSeconds < cfg.SpikeWaits[i].Seconds() || a.RSSBytes <= 0 || a.HeapInUseBytes <= 0 {
					t.Errorf("%s: sample %d: %+v", name, i, a)
				}
			}
		}
	}
	if got := res.Meta.SpikeWaits; len(got) != 2 || got[0] != 0.05 {
		t.Errorf("Meta.SpikeWaits = %v", got)
	}
	if heap := metricByKey("heap_5s").Of(res.Runs[len(res.Runs)-1]); math.IsNaN(heap) || heap <= 0 {
		t.Errorf("heap after the spike: %v", heap)
	}
}

func TestProfileAgainstFakeServer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := Config{ServerBin: os.Args[0], ServerEnv: []string{"ABTEST_FAKE_SERVER=1"}, Modes: []string{"off", "sized"}, Requests: 20, Warmup: 5}
	files, err := Profile(context.Background(), cfg, Scenario{Name: "S0", Size: fixedSize(kib), Conns: 2}, dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 6 {
		t.Fatalf("files %v, want 3 per mode", files)
	}
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if !strings.HasSuffix(files[0], "S0-off-cpu.pprof") {
		t.Errorf("first file %s", files[0])
	}
}

func TestLookupScenarios(t *testing.T) {
	t.Parallel()
	tests := []struct {
		names string
		want  string
	}{
		{"S1", "S1-c8 S1-c64 S1-c256"},
		{"s2, S1-c64", "S2 S1-c64"},
		{"S1,S2,S3", "S1-c8 S1-c64 S1-c256 S2 S3"},
		{"mixed, small", "mixed small"},
		{"", ""},
	}
	for _, tt := range tests {
		ss, err := LookupScenarios(tt.names)
		var got []string
		for _, s := range ss {
			got = append(got, s.Name)
		}
		if err != nil || strings.Join(got, " ") != tt.want {
			t.Errorf("LookupScenarios(%q) = %v, %v; want %s", tt.names, got, err, tt.want)
		}
	}
	if _, err := LookupScenarios("S4"); err == nil {
		t.Error("S4 (a reliability test, not a scenario here) accepted")
	}
	s3, _ := LookupScenarios("S3")
	if s := s3[0]; s.Conns != 16 || s.Streams != 16 || s.concurrency() != 256 {
		t.Errorf("S3 is %d × %d", s.Conns, s.Streams)
	}
}

func TestRunCountsCorruptEchoes(t *testing.T) {
	t.Parallel()
	cfg := fakeConfig(t, "ABTEST_FAKE_CORRUPT=1")
	cfg.Modes, cfg.Rounds = []string{"sized"}, 1
	cfg.Scenarios, _ = LookupScenarios("small")
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := res.Runs[0]
	if r.Errors != cfg.Requests || r.WarmupErrors != cfg.Warmup {
		t.Errorf("errors %d and %d in warm-up, want %d and %d", r.Errors, r.WarmupErrors, cfg.Requests, cfg.Warmup)
	}
	if !strings.Contains(r.FirstError, "checksum") {
		t.Errorf("first error %q does not name the checksum", r.FirstError)
	}
}

func TestRunInterrupted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Run(ctx, fakeConfig(t))
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if !res.Meta.Interrupted || len(res.Runs) != 0 {
		t.Errorf("interrupted = %t with %d runs; want true with none", res.Meta.Interrupted, len(res.Runs))
	}
}

func TestRunServerThatCannotStart(t *testing.T) {
	t.Parallel()
	cfg := fakeConfig(t)
	cfg.ServerBin = "/bin/false"
	res, err := Run(context.Background(), cfg)
	if err == nil || res.Meta.Error == "" {
		t.Errorf("err = %v, Meta.Error = %q; want both set", err, res.Meta.Error)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ok := fakeConfig(t)
	tests := []struct {
		name   string
		change func(*Config)
	}{
		{"no modes", func(c *Config) { c.Modes = nil }},
		{"unknown mode", func(c *Config) { c.Modes = []string{"off", "fast"} }},
		{"no scenarios", func(c *Config) { c.Scenarios = nil }},
		{"zero requests", func(c *Config) { c.Requests = 0 }},
		{"zero concurrency", func(c *Config) { c.Concurrency = 0 }},
		{"huge concurrency", func(c *Config) { c.Concurrency = 5000 }},
		{"h2c beyond 1024 streams", func(c *Config) {
			c.Scenarios = []Scenario{{Name: "h2", Size: fixedSize(kib), Conns: 64, Streams: 32}}
		}},
		{"zero rounds", func(c *Config) { c.Rounds = 0 }},
		{"negative warm-up", func(c *Config) { c.Warmup = -1 }},
		{"no server", func(c *Config) { c.ServerBin = "" }},
	}
	if err := ok.validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.change(&c)
			if _, err := Run(context.Background(), c); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestTransportRefusesOtherAddresses(t *testing.T) {
	t.Parallel()
	tr := newTransport(0, false)
	_, err := tr.DialContext(context.Background(), "tcp", "10.1.2.3:80")
	if !errors.Is(err, errNotLoopback) {
		t.Errorf("dial of 10.1.2.3: err = %v, want errNotLoopback", err)
	}
}
