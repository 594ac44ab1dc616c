package abtest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/bodypool/bodypool/internal/demo"
	"github.com/bodypool/bodypool/internal/demoproc"
)

// Config is what a harness run does. Modes, Requests, Rounds and Workloads
// with Concurrency or Scenarios (or both) must be set; the rest have
// defaults.
type Config struct {
	ServerBin  string
	ServerArgs []string // extra demo-server flags for every mode
	Modes      []string
	// Workloads run over HTTP/1.1 from Concurrency connections each, before
	// the Scenarios, which say their own connections.
	Workloads   []Workload
	Scenarios   []scenario
	Requests    int // measured requests per run, unless a scenario says
	Warmup      int // requests before measuring, not counted
	Concurrency int
	Rounds      int
	Seed        uint64
	// SpikeRequests, when positive, replaces the number of requests of
	// every scenario's spike.
	SpikeRequests int
	// SpikeWaits are the delays after a spike at which the server's memory
	// is sampled; DefaultSpikeWaits when empty.
	SpikeWaits []time.Duration
	// RunTimeout bounds one run (start, warm-up, load, stop); default 5 min.
	RunTimeout time.Duration
	// Progress receives one line per run; io.Discard when nil.
	Progress io.Writer
	// ServerEnv is added to every server's environment (for tests).
	ServerEnv []string
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
	case len(c.Workloads) == 0 && len(c.Scenarios) == 0:
		return errors.New("abtest: no workloads and no scenarios")
	case c.Requests < 1:
		return fmt.Errorf("abtest: requests must be positive, not %d", c.Requests)
	case len(c.Workloads) > 0 && (c.Concurrency < 1 || c.Concurrency > 1024):
		return fmt.Errorf("abtest: concurrency must be 1 to 1024, not %d", c.Concurrency)
	case c.Rounds < 1:
		return fmt.Errorf("abtest: rounds must be positive, not %d", c.Rounds)
	case c.Warmup < 0:
		return fmt.Errorf("abtest: warm-up must not be negative, not %d", c.Warmup)
	case c.ServerBin == "":
		return errors.New("abtest: no server binary")
	}
	for _, m := range c.Modes {
		if !slices.Contains(demo.Modes, m) {
			return fmt.Errorf("abtest: unknown mode %q: want some of %s", m, strings.Join(demo.Modes, ", "))
		}
	}
	for _, s := range c.Scenarios {
		if s.Conns < 1 || s.concurrency() > 1024 || s.Streams < 0 {
			return fmt.Errorf("abtest: scenario %s: %d connections × %d streams: want 1 to 1024 requests in flight", s.Name, s.Conns, s.Streams)
		}
	}
	for _, w := range c.SpikeWaits {
		if w < 0 {
			return fmt.Errorf("abtest: spike waits must not be negative, not %s", w)
		}
	}
	return nil
}

// scenarios returns every scenario of the run: the workloads over
// HTTP/1.1 at Concurrency first, under their own names, then Scenarios.
func (c *Config) scenarios() []scenario {
	var out []scenario
	for _, w := range c.Workloads {
		out = append(out, scenario{Name: w.Name, Description: w.Description, Workload: w, Conns: c.Concurrency})
	}
	for _, s := range c.Scenarios {
		if s.Spike != nil && c.SpikeRequests > 0 {
			sp := *s.Spike
			sp.Requests = c.SpikeRequests
			s.Spike = &sp
		}
		out = append(out, s)
	}
	return out
}

// run is one scenario's plans, made once for all modes and rounds.
type run struct {
	scenario
	plan, spike *plan
}

// Run runs every round, workload and mode in turn and returns the results
// recorded so far, also when ctx ends early (Meta.Interrupted) or a server
// cannot be started (the error, also in Meta.Error).
func Run(ctx context.Context, cfg Config) (*Results, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.RunTimeout <= 0 {
		cfg.RunTimeout = 5 * time.Minute
	}
	if len(cfg.SpikeWaits) == 0 {
		cfg.SpikeWaits = defaultSpikeWaits
	}
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	res := &Results{Meta: meta{
		Started:     time.Now().UTC(),
		GoVersion:   runtime.Version(),
		OS:          runtime.GOOS,
		Arch:        runtime.GOARCH,
		CPUs:        runtime.NumCPU(),
		LoadBefore:  LoadAverage(),
		Requests:    cfg.Requests,
		Warmup:      cfg.Warmup,
		Concurrency: cfg.Concurrency,
		Rounds:      cfg.Rounds,
		Seed:        cfg.Seed,
		Modes:       cfg.Modes,
		Described:   map[string]string{},
		ServerArgs:  cfg.ServerArgs,
	}}
	var plans []*run
	for _, sc := range cfg.scenarios() {
		r := &run{scenario: sc, plan: newPlan(sc.Workload, cmp.Or(sc.Requests, cfg.Requests), cfg.Seed)}
		if sc.Spike != nil {
			r.spike = newPlan(sc.Spike.Workload, sc.Spike.Requests, cfg.Seed)
			for _, w := range cfg.SpikeWaits {
				res.Meta.SpikeWaits = append(res.Meta.SpikeWaits, w.Seconds())
			}
		}
		plans = append(plans, r)
		res.Meta.Workloads = append(res.Meta.Workloads, sc.Name)
		desc := sc.Description
		if len(cfg.Scenarios) > 0 && sc.Streams == 0 && !strings.Contains(desc, "connections") {
			desc += fmt.Sprintf(", %d HTTP/1.1 connections", sc.Conns)
		}
		res.Meta.Described[sc.Name] = desc
	}

	total := cfg.Rounds * len(plans) * len(cfg.Modes)
	done := 0
	var runErr error
loop:
	for round := 1; round <= cfg.Rounds; round++ {
		for _, plan := range plans {
			for k := range cfg.Modes {
				// Each round starts with another mode, so no mode always
				// runs first after a server of another workload.
				mode := cfg.Modes[(k+round-1)%len(cfg.Modes)]
				if ctx.Err() != nil {
					break loop
				}
				done++
				fmt.Fprintf(progress, "[%d/%d] round %d/%d  %-7s %-10s ", done, total, round, cfg.Rounds, plan.Name, mode)
				r, err := runOne(ctx, cfg, mode, plan, round)
				if err != nil {
					fmt.Fprintf(progress, "FAILED: %v\n", err)
					runErr = err
					break loop
				}
				res.Runs = append(res.Runs, r)
				fmt.Fprintln(progress, progressLine(r))
			}
		}
	}
	res.Meta.Finished = time.Now().UTC()
	res.Meta.LoadAfter = LoadAverage()
	if ctx.Err() != nil {
		res.Meta.Interrupted = true
	}
	if runErr != nil {
		res.Meta.Error = runErr.Error()
	}
	res.Summary = summarize(res)
	return res, runErr
}

func progressLine(r measurement) string {
	s := fmt.Sprintf("%7.0f req/s  p50 %6.2f ms  p99 %7.2f ms  alloc %8s/req  gc %6.1f/1k  peak RSS %6.1f MiB  cpu %6.0f µs/req",
		r.Throughput, r.Latency.P50, r.Latency.P99, formatBytes(r.AllocPerRequest), r.GCPer1000,
		float64(r.PeakRSSBytes)/mib, r.CPUPerRequestUs)
	if sp := r.Spike; sp != nil {
		s += fmt.Sprintf("  spike %d in %.1fs", sp.Requests, sp.Seconds)
		for _, a := range sp.After {
			s += fmt.Sprintf("  +%.0fs: RSS %.0f MiB heap %.0f MiB", a.AfterSeconds, float64(a.RSSBytes)/mib, a.HeapInUseBytes/mib)
		}
	}
	if errs := r.Errors + r.WarmupErrors + r.spikeErrors(); errs > 0 {
		s += fmt.Sprintf("  ERRORS %d (%s)", errs, r.FirstError)
	}
	return s
}

// runOne starts a fresh server for mode, warms it up, sends the spike if
// the scenario has one, measures the plan's requests, samples the memory
// after the spike, and stops the server, whatever happens.
func runOne(ctx context.Context, cfg Config, mode string, plan *run, round int) (measurement, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.RunTimeout)
	defer cancel()
	r := measurement{Mode: mode, Workload: plan.Name, Round: round, Started: time.Now().UTC(),
		Requests: len(plan.plan.Items), BodyBytes: plan.plan.TotalBytes(), Concurrency: plan.Conns, Streams: plan.Streams}

	args := []string{"-pool", mode}
	if plan.Streams > 0 {
		args = append(args, "-h2c")
	}
	srv, err := demoproc.Start(ctx, demoproc.Config{
		Bin:  cfg.ServerBin,
		Args: append(args, cfg.ServerArgs...),
		Env:  cfg.ServerEnv,
	})
	if err != nil {
		return r, err
	}
	defer srv.Stop(stopGrace)
	r.PID = srv.PID()
	d, err := newDriver(ctx, srv.URL, plan.plan, plan.Conns, plan.Streams)
	if err != nil {
		return r, err
	}
	defer d.close()
	scraper := &http.Client{Transport: newTransport(1, 0), Timeout: 10 * time.Second}
	defer scraper.CloseIdleConnections()

	if cfg.Warmup > 0 {
		w := d.run(ctx, 0, cfg.Warmup)
		r.WarmupErrors = w.Errors
		if w.FirstError != "" {
			r.FirstError = "warm-up: " + w.FirstError
		}
	}
	var spikeEnd time.Time
	if plan.spike != nil {
		if r.Spike, err = runSpike(ctx, srv, plan); err != nil {
			return r, err
		}
		spikeEnd = time.Now()
		if r.FirstError == "" && r.Spike.FirstError != "" {
			r.FirstError = "spike: " + r.Spike.FirstError
		}
	}
	// The harness collects its own garbage now rather than during the
	// measured requests, where it would take CPU from the server.
	runtime.GC()
	// Two scrapes back to back measure what a scrape allocates, so that
	// the figures of the run can leave out the one inside the window.
	s0, err := scrape(ctx, scraper, srv.URL)
	if err != nil {
		return r, err
	}
	s1, err := scrape(ctx, scraper, srv.URL)
	if err != nil {
		return r, err
	}
	l := d.run(ctx, cfg.Warmup, len(plan.plan.Items))
	s2, err := scrape(ctx, scraper, srv.URL)
	if err != nil {
		return r, err
	}
	d.close() // the sampled memory is that of an idle server
	if plan.spike != nil {
		for _, wait := range cfg.SpikeWaits {
			if err := sleepUntil(ctx, spikeEnd.Add(wait)); err != nil {
				return r, err
			}
			a, err := sampleMemory(ctx, scraper, srv, spikeEnd)
			if err != nil {
				return r, err
			}
			r.Spike.After = append(r.Spike.After, a)
		}
	}
	st, err := readProcStatus(srv.PID())
	if err != nil {
		return r, fmt.Errorf("abtest: reading the server's memory: %w", err)
	}
	srv.Stop(stopGrace)

	n := float64(r.Requests)
	r.Errors = l.Errors
	if r.FirstError == "" {
		r.FirstError = l.FirstError
	}
	r.Seconds = l.Elapsed.Seconds()
	r.Throughput = n / r.Seconds
	r.Latency = latencyOf(l.Latencies)
	r.ScrapeAllocBytes = max(s1.alloc-s0.alloc, 0)
	r.AllocBytes = max(s2.alloc-s1.alloc-r.ScrapeAllocBytes, 0)
	r.AllocPerRequest = r.AllocBytes / n
	r.GCCycles = s2.gc - s1.gc
	r.GCPer1000 = r.GCCycles * 1000 / n
	r.CPUSeconds = s2.cpu - s1.cpu
	r.CPUPerRequestUs = r.CPUSeconds * 1e6 / n
	r.PoolGets = s2.poolGets - s1.poolGets
	r.PoolHits = s2.poolHits - s1.poolHits
	r.PeakRSSBytes, r.RSSBytes = st.PeakRSS, st.RSS
	r.ClientAllocPerRequest = float64(l.ClientAlloc) / n
	return r, nil
}

// runSpike sends the spike of plan from connections of its own, as many as
// the scenario's, closed when it is done.
func runSpike(ctx context.Context, srv *demoproc.Server, plan *run) (*spikeFigures, error) {
	d, err := newDriver(ctx, srv.URL, plan.spike, plan.Conns, plan.Streams)
	if err != nil {
		return nil, err
	}
	defer d.close()
	l := d.run(ctx, 0, len(plan.spike.Items))
	st, err := readProcStatus(srv.PID())
	if err != nil {
		return nil, fmt.Errorf("abtest: reading the server's memory: %w", err)
	}
	return &spikeFigures{
		Requests:     len(plan.spike.Items),
		BodyBytes:    plan.spike.TotalBytes(),
		Errors:       l.Errors,
		FirstError:   l.FirstError,
		Seconds:      l.Elapsed.Seconds(),
		PeakRSSBytes: st.PeakRSS,
	}, nil
}

// sampleMemory reads the server's resident memory and Go heap in use.
func sampleMemory(ctx context.Context, scraper *http.Client, srv *demoproc.Server, since time.Time) (memorySample, error) {
	s, err := scrape(ctx, scraper, srv.URL)
	if err != nil {
		return memorySample{}, err
	}
	st, err := readProcStatus(srv.PID())
	if err != nil {
		return memorySample{}, fmt.Errorf("abtest: reading the server's memory: %w", err)
	}
	return memorySample{AfterSeconds: time.Since(since).Seconds(), RSSBytes: st.RSS, HeapInUseBytes: s.heapInUse}, nil
}

// sleepUntil waits until t or the end of ctx.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// snapshot is what one scrape of /metrics says.
type snapshot struct {
	alloc, gc, cpu     float64
	poolGets, poolHits float64
	heapInUse          float64
}

func scrape(ctx context.Context, client *http.Client, baseURL string) (snapshot, error) {
	ss, err := demoproc.Scrape(ctx, client, baseURL+"/metrics")
	if err != nil {
		return snapshot{}, err
	}
	return snapshotOf(ss)
}

// snapshotOf takes the figures the harness needs from an exposition. The
// bufpool counters are there only in the modes with the middleware.
func snapshotOf(ss demoproc.Metrics) (snapshot, error) {
	var s snapshot
	for _, m := range []struct {
		name string
		dst  *float64
	}{
		{"go_memstats_alloc_bytes_total", &s.alloc},
		{"go_gc_duration_seconds_count", &s.gc},
		{"process_cpu_seconds_total", &s.cpu},
	} {
		var ok bool
		if *m.dst, ok = ss[m.name]; !ok {
			return s, fmt.Errorf("abtest: scraping /metrics: no %s", m.name)
		}
	}
	s.heapInUse = ss["go_memstats_heap_inuse_bytes"]
	s.poolGets = ss.Sum("bufpool_gets_total")
	s.poolHits = ss.Sum("bufpool_hits_total")
	return s, nil
}

// formatBytes writes a byte count with a binary unit.
func formatBytes(v float64) string {
	switch {
	case v >= 10*mib:
		return fmt.Sprintf("%.0f MiB", v/mib)
	case v >= mib:
		return fmt.Sprintf("%.2f MiB", v/mib)
	case v >= 10*kib:
		return fmt.Sprintf("%.0f KiB", v/kib)
	case v >= kib:
		return fmt.Sprintf("%.1f KiB", v/kib)
	}
	return fmt.Sprintf("%.0f B", v)
}
