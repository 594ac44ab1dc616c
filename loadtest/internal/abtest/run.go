package abtest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/bodypool/bodypool/internal/demo"
	"github.com/bodypool/bodypool/internal/demoproc"
	"github.com/prometheus/procfs"
)

// Config is what a harness run does. Modes, Requests, Rounds and Scenarios
// must be set; the rest have defaults.
type Config struct {
	ServerBin string
	ServerEnv []string // added to every server's environment (for tests)
	Modes     []string
	Scenarios []Scenario
	Requests  int // measured requests per run, unless a scenario says
	Warmup    int // requests before measuring, not counted
	// Concurrency is the number of HTTP/1.1 connections of the scenarios
	// that do not say theirs (the plain workloads).
	Concurrency int
	Rounds      int
	Seed        uint64
	// SpikeRequests, when positive, replaces the number of requests of
	// every scenario's spike.
	SpikeRequests int
	// SpikeWaits are the delays after a spike at which the server's memory
	// is sampled; 5 and 30 s when empty.
	SpikeWaits []time.Duration
	// RunTimeout bounds one run (start, warm-up, load, stop); default 5 min.
	RunTimeout time.Duration
	// Progress receives one line per run; io.Discard when nil.
	Progress io.Writer
}

// Baseline is the mode that ratios compare against: no pool, the first
// of demo.Modes.
const Baseline = demo.ModeOff

// stopGrace is how long a server may take to stop after SIGTERM; it has
// no requests in flight by then.
const stopGrace = 5 * time.Second

func (c *Config) validate() error {
	switch {
	case len(c.Modes) == 0:
		return errors.New("abtest: no modes")
	case len(c.Scenarios) == 0:
		return errors.New("abtest: no workloads and no scenarios")
	case c.Requests < 1:
		return fmt.Errorf("abtest: requests must be positive, not %d", c.Requests)
	case c.Rounds < 1:
		return fmt.Errorf("abtest: rounds must be positive, not %d", c.Rounds)
	case c.Warmup < 0:
		return fmt.Errorf("abtest: warm-up must not be negative, not %d", c.Warmup)
	case c.ServerBin == "":
		return errors.New("abtest: no server binary")
	}
	for _, m := range c.Modes {
		if _, err := ServerArgs(m); err != nil {
			return err
		}
	}
	for _, s := range c.scenarios() {
		if s.Conns < 1 || s.concurrency() > 1024 || s.Streams < 0 {
			return fmt.Errorf("abtest: %s: %d connections × %d streams: want 1 to 1024 requests in flight", s.Name, s.Conns, s.Streams)
		}
	}
	return nil
}

// scenarios returns the Scenarios with Concurrency (also in the
// description) and SpikeRequests applied.
func (c *Config) scenarios() []Scenario {
	out := slices.Clone(c.Scenarios)
	for i := range out {
		if out[i].Conns == 0 {
			out[i].Conns = c.Concurrency
			out[i].Description += fmt.Sprintf(", %d HTTP/1.1 connections", c.Concurrency)
		}
		if c.SpikeRequests > 0 {
			out[i].SpikeRequests = c.SpikeRequests
		}
	}
	return out
}

// run is one scenario's plans, made once for all modes and rounds.
type run struct {
	Scenario
	plan, spike *plan
}

// Run runs every round, workload and mode in turn and returns the results
// recorded so far, also when ctx ends early (Meta.Interrupted) or a server
// cannot be started (the error, also in Meta.Error). It returns no results
// for a Config it refuses.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.RunTimeout = cmp.Or(cfg.RunTimeout, 5*time.Minute)
	if len(cfg.SpikeWaits) == 0 {
		cfg.SpikeWaits = defaultSpikeWaits
	}
	progress := cmp.Or[io.Writer](cfg.Progress, io.Discard)
	res := &Results{Meta: meta{
		Started: time.Now().UTC(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		CPUs: runtime.NumCPU(), LoadBefore: loadAverage(), Requests: cfg.Requests, Warmup: cfg.Warmup,
		Concurrency: cfg.Concurrency, Rounds: cfg.Rounds, Seed: cfg.Seed, Modes: cfg.Modes,
		Described: map[string]string{},
	}}
	var runs []*run
	for _, sc := range cfg.scenarios() {
		r := &run{Scenario: sc, plan: newPlan(sc.Size, cmp.Or(sc.Requests, cfg.Requests), cfg.Seed)}
		if sc.Spike != nil {
			r.spike = newPlan(sc.Spike, sc.SpikeRequests, cfg.Seed)
			res.Meta.SpikeWaits = nil
			for _, w := range cfg.SpikeWaits {
				res.Meta.SpikeWaits = append(res.Meta.SpikeWaits, w.Seconds())
			}
		}
		runs = append(runs, r)
		res.Meta.Workloads = append(res.Meta.Workloads, sc.Name)
		res.Meta.Described[sc.Name] = sc.Description
	}

	total, done := cfg.Rounds*len(runs)*len(cfg.Modes), 0
	var runErr error
loop:
	for round := 1; round <= cfg.Rounds; round++ {
		for _, r := range runs {
			for k := range cfg.Modes {
				// Each round starts with another mode, so no mode always
				// runs first after a server of another workload.
				mode := cfg.Modes[(k+round-1)%len(cfg.Modes)]
				if ctx.Err() != nil {
					break loop
				}
				done++
				fmt.Fprintf(progress, "[%d/%d] round %d/%d  %-7s %-10s ", done, total, round, cfg.Rounds, r.Name, mode)
				m, err := runOne(ctx, cfg, mode, r, round)
				if err != nil {
					fmt.Fprintf(progress, "FAILED: %v\n", err)
					runErr = err
					break loop
				}
				res.Runs = append(res.Runs, m)
				fmt.Fprintln(progress, progressLine(m))
			}
		}
	}
	res.Meta.Finished = time.Now().UTC()
	res.Meta.LoadAfter = loadAverage()
	res.Meta.Interrupted = ctx.Err() != nil
	if runErr != nil {
		res.Meta.Error = runErr.Error()
	}
	return res, runErr
}

// progressLine writes the figures of a run as the report's columns name
// them, and its failures.
func progressLine(m measurement) string {
	var b strings.Builder
	for _, mt := range metrics {
		if v := mt.Of(m); !math.IsNaN(v) {
			fmt.Fprintf(&b, "  %s %s", mt.format(v), mt.Column)
		}
	}
	if n := m.Failed(); n > 0 {
		fmt.Fprintf(&b, "  ERRORS %d (%s)", n, m.FirstError)
	}
	return b.String()
}

// startServer starts a fresh demo server in mode with extra flags, over
// h2c when the scenario has streams, and opens a driver of p on it with
// the scenario's connections. The caller stops both.
func startServer(ctx context.Context, cfg Config, mode string, sc Scenario, p *plan, extra ...string) (*demoproc.Server, *driver, error) {
	args, err := ServerArgs(mode)
	if err != nil {
		return nil, nil, err
	}
	args = append(args, extra...)
	if sc.Streams > 0 {
		args = append(args, "-h2c")
	}
	srv, err := demoproc.Start(ctx, demoproc.Config{Bin: cfg.ServerBin, Args: args, Env: cfg.ServerEnv})
	if err != nil {
		return nil, nil, err
	}
	d, err := newDriver(ctx, srv.URL, p, sc.Conns, sc.Streams)
	if err != nil {
		srv.Stop(stopGrace)
		return nil, nil, err
	}
	return srv, d, nil
}

// runOne starts a fresh server for mode, warms it up, sends the spike if
// the scenario has one, measures the plan's requests, samples the memory
// after the spike, and stops the server, whatever happens.
func runOne(ctx context.Context, cfg Config, mode string, r *run, round int) (measurement, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.RunTimeout)
	defer cancel()
	m := measurement{Mode: mode, Workload: r.Name, Round: round, Requests: len(r.plan.Items), Concurrency: r.Conns, Streams: r.Streams}
	srv, d, err := startServer(ctx, cfg, mode, r.Scenario, r.plan)
	if err != nil {
		return m, err
	}
	defer srv.Stop(stopGrace)
	defer d.close()
	m.PID = srv.PID()

	w := d.run(ctx, 0, cfg.Warmup)
	m.WarmupErrors = w.Errors
	if w.FirstError != "" {
		m.FirstError = "warm-up: " + w.FirstError
	}
	var spikeEnd time.Time
	if r.spike != nil {
		// The spike comes from connections of its own, closed after it.
		sd, err := newDriver(ctx, srv.URL, r.spike, r.Conns, r.Streams)
		if err != nil {
			return m, err
		}
		l := sd.run(ctx, 0, len(r.spike.Items))
		sd.close()
		spikeEnd = time.Now()
		m.Spike = &spikeFigures{Requests: len(r.spike.Items), BodyBytes: r.spike.TotalBytes,
			Errors: l.Errors, FirstError: l.FirstError, Seconds: l.Elapsed.Seconds()}
		if m.FirstError == "" && l.FirstError != "" {
			m.FirstError = "spike: " + l.FirstError
		}
	}
	// The harness collects its own garbage now rather than during the
	// measured requests, where it would take CPU from the server.
	runtime.GC()
	// Two scrapes back to back measure what a scrape allocates, so that
	// the figures of the run can leave out the one inside the window: the
	// measured requests run between the second and the third.
	var scrapes [3]demoproc.Metrics
	var l load
	for i := range scrapes {
		if i == 2 {
			l = d.run(ctx, cfg.Warmup, len(r.plan.Items))
		}
		if scrapes[i], err = srv.Scrape(ctx); err != nil {
			return m, err
		}
	}
	for _, name := range []string{"go_memstats_alloc_bytes_total", "go_gc_duration_seconds_count", "process_cpu_seconds_total"} {
		if _, ok := scrapes[0][name]; !ok {
			return m, fmt.Errorf("abtest: scraping /metrics: no %s", name)
		}
	}
	d.close() // the sampled memory is that of an idle server
	for _, wait := range cfg.SpikeWaits {
		if r.spike == nil {
			break
		}
		select {
		case <-time.After(time.Until(spikeEnd.Add(wait))):
		case <-ctx.Done():
			return m, ctx.Err()
		}
		a, err := srv.Scrape(ctx)
		if err != nil {
			return m, err
		}
		_, rss, err := readMemory(srv.PID())
		if err != nil {
			return m, err
		}
		m.Spike.After = append(m.Spike.After, memorySample{AfterSeconds: time.Since(spikeEnd).Seconds(), RSSBytes: rss, HeapInUseBytes: a["go_memstats_heap_inuse_bytes"]})
	}
	if m.PeakRSSBytes, m.RSSBytes, err = readMemory(srv.PID()); err != nil {
		return m, err
	}

	// growth is how much the sample name (summed over its labels; the
	// bufpool counters are there only in the modes with the middleware)
	// grew from scrape i to scrape i+1.
	growth := func(name string, i int) float64 { return scrapes[i+1].Sum(name) - scrapes[i].Sum(name) }
	n := float64(m.Requests)
	m.Errors, m.Seconds, m.Latency = l.Errors, l.Elapsed.Seconds(), latencyOf(l.Latencies)
	m.FirstError = cmp.Or(m.FirstError, l.FirstError)
	m.Throughput = n / m.Seconds
	m.ClientAllocPerRequest = float64(l.ClientAlloc) / n
	scrapeAlloc := max(growth("go_memstats_alloc_bytes_total", 0), 0)
	m.AllocPerRequest = max(growth("go_memstats_alloc_bytes_total", 1)-scrapeAlloc, 0) / n
	m.GCPer1000 = growth("go_gc_duration_seconds_count", 1) * 1000 / n
	m.CPUPerRequestUs = growth("process_cpu_seconds_total", 1) * 1e6 / n
	m.PoolGets, m.PoolHits = growth("bufpool_gets_total", 1), growth("bufpool_hits_total", 1)
	return m, nil
}

// readMemory returns the peak and the current resident memory of process
// pid, VmHWM and VmRSS of /proc/PID/status (Linux only).
func readMemory(pid int) (peak, rss int64, err error) {
	p, err := procfs.NewProc(pid)
	if err == nil {
		var st procfs.ProcStatus
		if st, err = p.NewStatus(); err == nil {
			return int64(st.VmHWM), int64(st.VmRSS), nil
		}
	}
	return 0, 0, fmt.Errorf("abtest: reading the server's memory: %w", err)
}

// loadAverage returns the first three fields of /proc/loadavg (the 1, 5
// and 15 minute load averages), or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}
