package abtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/bodypool/bodypool/loadtest/internal/promtext"
)

// Config is what a harness run does. Workloads, Modes, Requests,
// Concurrency and Rounds must be set; the rest have defaults.
type Config struct {
	ServerBin   string
	ServerArgs  []string // extra demo-server flags for every mode
	Modes       []string
	Workloads   []Workload
	Requests    int // measured requests per run
	Warmup      int // requests before measuring, not counted
	Concurrency int
	Rounds      int
	Seed        uint64
	// RunTimeout bounds one run (start, warm-up, load, stop); default 5 min.
	RunTimeout time.Duration
	// Progress receives one line per run; io.Discard when nil.
	Progress io.Writer
	// ServerEnv is added to every server's environment (for tests).
	ServerEnv []string
}

// Modes are the demo server's pool modes, baseline first.
var Modes = []string{"off", "none", "syncpool", "calibrated", "sized"}

// Baseline is the mode that ratios compare against.
const Baseline = "off"

// stopGrace is how long a server may take to stop after SIGTERM; it has
// no requests in flight by then.
const stopGrace = 5 * time.Second

func (c *Config) validate() error {
	switch {
	case len(c.Modes) == 0:
		return errors.New("abtest: no modes")
	case len(c.Workloads) == 0:
		return errors.New("abtest: no workloads")
	case c.Requests < 1:
		return fmt.Errorf("abtest: requests must be positive, not %d", c.Requests)
	case c.Concurrency < 1 || c.Concurrency > 1024:
		return fmt.Errorf("abtest: concurrency must be 1 to 1024, not %d", c.Concurrency)
	case c.Rounds < 1:
		return fmt.Errorf("abtest: rounds must be positive, not %d", c.Rounds)
	case c.Warmup < 0:
		return fmt.Errorf("abtest: warm-up must not be negative, not %d", c.Warmup)
	case c.ServerBin == "":
		return errors.New("abtest: no server binary")
	}
	for _, m := range c.Modes {
		if !slices.Contains(Modes, m) {
			return fmt.Errorf("abtest: unknown mode %q: want some of %s", m, strings.Join(Modes, ", "))
		}
	}
	return nil
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
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	res := &Results{Meta: Meta{
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
	plans := make([]*Plan, len(cfg.Workloads))
	for i, w := range cfg.Workloads {
		plans[i] = NewPlan(w, cfg.Requests, cfg.Seed)
		res.Meta.Workloads = append(res.Meta.Workloads, w.Name)
		res.Meta.Described[w.Name] = w.Description
	}

	total := cfg.Rounds * len(cfg.Workloads) * len(cfg.Modes)
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
				fmt.Fprintf(progress, "[%d/%d] round %d/%d  %-7s %-10s ", done, total, round, cfg.Rounds, plan.Workload.Name, mode)
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
	res.Summary = Summarize(res)
	return res, runErr
}

func progressLine(r Measurement) string {
	s := fmt.Sprintf("%7.0f req/s  p50 %6.2f ms  p99 %7.2f ms  alloc %8s/req  gc %6.1f/1k  peak RSS %6.1f MiB  cpu %6.0f µs/req",
		r.Throughput, r.Latency.P50, r.Latency.P99, formatBytes(r.AllocPerRequest), r.GCPer1000,
		float64(r.PeakRSSBytes)/MiB, r.CPUPerRequestUs)
	if r.Errors+r.WarmupErrors > 0 {
		s += fmt.Sprintf("  ERRORS %d (%s)", r.Errors+r.WarmupErrors, r.FirstError)
	}
	return s
}

// runOne starts a fresh server for mode, warms it up, measures the plan's
// requests and stops the server, whatever happens.
func runOne(ctx context.Context, cfg Config, mode string, plan *Plan, round int) (Measurement, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.RunTimeout)
	defer cancel()
	r := Measurement{Mode: mode, Workload: plan.Workload.Name, Round: round, Started: time.Now().UTC(),
		Requests: len(plan.Items), BodyBytes: plan.TotalBytes()}

	srv, err := StartServer(ctx, ServerConfig{
		Bin:  cfg.ServerBin,
		Args: append([]string{"-pool", mode}, cfg.ServerArgs...),
		Env:  cfg.ServerEnv,
	})
	if err != nil {
		return r, err
	}
	defer srv.Stop(stopGrace)
	r.PID = srv.PID
	d, err := newDriver(ctx, srv.URL, plan, cfg.Concurrency)
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
	l := d.run(ctx, cfg.Warmup, len(plan.Items))
	s2, err := scrape(ctx, scraper, srv.URL)
	if err != nil {
		return r, err
	}
	st, err := srv.Status()
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
	r.Latency = LatencyOf(l.Latencies)
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

// snapshot is what one scrape of /metrics says.
type snapshot struct {
	alloc, gc, cpu     float64
	poolGets, poolHits float64
}

func scrape(ctx context.Context, client *http.Client, baseURL string) (snapshot, error) {
	var s snapshot
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/metrics", nil)
	if err != nil {
		return s, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return s, fmt.Errorf("abtest: scraping /metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("abtest: scraping /metrics: status %s", resp.Status)
	}
	ss, err := promtext.Parse(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return s, fmt.Errorf("abtest: scraping /metrics: %w", err)
	}
	return snapshotOf(ss)
}

// snapshotOf takes the figures the harness needs from an exposition. The
// bufpool counters are there only in the modes with the middleware.
func snapshotOf(ss promtext.Samples) (snapshot, error) {
	var s snapshot
	var err error
	for _, m := range []struct {
		name string
		dst  *float64
	}{
		{"go_memstats_alloc_bytes_total", &s.alloc},
		{"go_gc_duration_seconds_count", &s.gc},
		{"process_cpu_seconds_total", &s.cpu},
	} {
		if *m.dst, err = ss.Value(m.name); err != nil {
			return s, fmt.Errorf("abtest: scraping /metrics: %w", err)
		}
	}
	s.poolGets, _ = ss.Sum("bufpool_gets_total")
	s.poolHits, _ = ss.Sum("bufpool_hits_total")
	return s, nil
}

// formatBytes writes a byte count with a binary unit.
func formatBytes(v float64) string {
	switch {
	case v >= 10*MiB:
		return fmt.Sprintf("%.0f MiB", v/MiB)
	case v >= MiB:
		return fmt.Sprintf("%.2f MiB", v/MiB)
	case v >= 10*KiB:
		return fmt.Sprintf("%.0f KiB", v/KiB)
	case v >= KiB:
		return fmt.Sprintf("%.1f KiB", v/KiB)
	}
	return fmt.Sprintf("%.0f B", v)
}
