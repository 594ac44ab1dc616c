// Command promcheck checks the bodypool Grafana dashboard against a running
// Prometheus that has scraped one or more demo servers.
//
// It reads the dashboard JSON, lints it (every panel and target uses the
// datasource variable, rate windows use $__rate_interval, selectors of pool
// metrics filter on pool=~"$pool", selectors of scraped metrics on
// job=~"$job" and instance=~"$instance", panel ids are unique), takes the PromQL
// expression of every panel target, substitutes the Grafana template
// variables, and evaluates each through Prometheus's HTTP API
// (/api/v1/query) at one instant. An expression passes when Prometheus
// accepts it and returns at least one sample that is not NaN. The query of
// each label_values() template variable is checked through
// /api/v1/label/<name>/values.
//
// With -instances, it then proves that every panel aggregates correctly
// across those instances (see fleet.go: sums equal the sum of the
// per-instance values, ratios are ratios of sums, per-instance panels hold
// only their instance's series) and, with -job-filter, that $job filters.
//
// It then asserts two properties of the run:
//
//   - the steady-state hit ratio of the size band of the -pool pool that
//     served the most gets in the window is at least -min-hit-ratio
//     (default 0.95), measured from -from plus -warmup to -to;
//   - the Go heap of the scraped processes (the maximum of
//     go_memstats_heap_inuse_bytes from -from to -to) stays below -heap-max
//     (default 256MiB).
//
// It prints one OK or FAIL line per check and a summary, and exits 1 when
// any check failed, 2 on a usage or setup error.
//
// Usage:
//
//	promcheck -prom http://127.0.0.1:9090 -dashboard dashboard/bodypool.json \
//	    -var pool=sized -from 1700000000 -to 1700000025 \
//	    -instances 127.0.0.1:8080,127.0.0.1:8081 -job-filter bodypool-demo
//
// The files: dashboard.go reads and lints the dashboard, vars.go
// substitutes Grafana's variables, prom.go is the Prometheus client
// (client_golang's api/prometheus/v1), checks.go the run assertions,
// fleet.go the checks across instances, render.go the SVG of the panels.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/bodypool/bodypool/internal/demo"
)

type config struct {
	prom, dashboard                string
	vars                           map[string]string
	rateInterval, interval, warmup time.Duration
	from, to                       time.Time
	pool                           string
	minHitRatio, minGets           float64
	heapMax                        demo.Size
	svg, instances, jobFilter      string
}

func main() {
	cfg := config{vars: map[string]string{"pool": ".*", "job": ".*", "instance": ".*"}, heapMax: 256 << 20}
	flag.StringVar(&cfg.prom, "prom", "http://127.0.0.1:9090", "base URL of the Prometheus HTTP API")
	flag.StringVar(&cfg.dashboard, "dashboard", "dashboard/bodypool.json", "Grafana dashboard JSON file")
	flag.Func("var", "template variable value as name=value (repeatable; defaults pool=.*, job=.* and instance=.*)", func(s string) error {
		name, value, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return errors.New("want name=value")
		}
		cfg.vars[name] = value
		return nil
	})
	flag.DurationVar(&cfg.rateInterval, "rate-interval", 15*time.Second, "value of $__rate_interval")
	flag.DurationVar(&cfg.interval, "interval", 5*time.Second, "value of $__interval")
	flag.Func("from", "start of the load run, Unix seconds or RFC 3339 (default: -to minus 2m); $__range is -to minus -from", timeFlag(&cfg.from))
	flag.Func("to", "end of the load run and the evaluation time of every query (default: now)", timeFlag(&cfg.to))
	flag.DurationVar(&cfg.warmup, "warmup", 5*time.Second, "part of the run after -from left out of the hit-ratio window")
	flag.StringVar(&cfg.pool, "pool", "sized", "pool label value whose hit ratio is asserted (empty: skip the assertion)")
	flag.Float64Var(&cfg.minHitRatio, "min-hit-ratio", 0.95, "lowest accepted steady-state hit ratio")
	flag.Float64Var(&cfg.minGets, "min-gets", 500, "fewest gets of the band in the window for the hit ratio to count")
	flag.Var(&cfg.heapMax, "heap-max", "bound on go_memstats_heap_inuse_bytes over the run (0: skip the assertion)")
	flag.StringVar(&cfg.svg, "svg", "", "also write an SVG chart of every panel over -from..-to, from query_range results, to this file")
	flag.StringVar(&cfg.instances, "instances", "", "comma-separated instance label values: check that every panel aggregates correctly across them (empty: skip)")
	flag.StringVar(&cfg.jobFilter, "job-filter", "", "with -instances, the job of the instances: check that $job removes the series of other jobs")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "promcheck: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	code, err := run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "promcheck:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

// timeFlag returns a flag.Func that sets *t from Unix seconds (with a
// fraction) or RFC 3339.
func timeFlag(t *time.Time) func(string) error {
	return func(s string) error {
		if sec, err := strconv.ParseFloat(s, 64); err == nil {
			*t = time.UnixMilli(int64(sec * 1000))
			return nil
		}
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("want Unix seconds or RFC 3339, got %q", s)
		}
		*t = v
		return nil
	}
}

func run(cfg config) (int, error) {
	data, err := os.ReadFile(cfg.dashboard)
	if err != nil {
		return 0, err
	}
	d, err := parseDashboard(data)
	if err != nil {
		return 0, err
	}
	if cfg.to.IsZero() {
		cfg.to = time.Now()
	}
	if cfg.from.IsZero() {
		cfg.from = cfg.to.Add(-2 * time.Minute)
	}
	rng := cfg.to.Sub(cfg.from).Truncate(time.Second)
	if rng < time.Second {
		return 0, errors.New("-from must be at least a second before -to")
	}
	vars := builtinVars(cfg.rateInterval, cfg.interval, rng)
	maps.Copy(vars, cfg.vars)
	c, err := newClient(cfg.prom)
	if err != nil {
		return 0, err
	}
	ctx := context.Background()
	var r report

	fmt.Printf("promcheck: dashboard %q (%s), %d targets; Prometheus %s; evaluated at %s; run %s; vars %v\n",
		d.Title, cfg.dashboard, len(d.targets), cfg.prom, cfg.to.UTC().Format(time.RFC3339), rng, cfg.vars)

	fmt.Println("== dashboard lint")
	probs := lint(d)
	if len(probs) == 0 {
		r.line(true, "lint", fmt.Sprintf("%d panels, %d targets, %d variables", len(d.panels), len(d.targets), len(d.Templating.List)))
	}
	for _, p := range probs {
		r.line(false, "lint", p)
	}

	fmt.Println("== template variables")
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		what := "variable " + v.Name
		q, err := substitute(v.Definition, vars)
		if err != nil {
			r.line(false, what, err.Error())
			continue
		}
		sel, label, ok := parseLabelValues(q)
		if !ok {
			r.line(false, what, "not a label_values() query: "+q)
			continue
		}
		var matches []string
		if sel != "" {
			matches = []string{sel}
		}
		vals, _, _, err := c.api.LabelValues(ctx, label, matches, cfg.from, cfg.to)
		switch {
		case err != nil:
			r.line(false, what, q+": "+err.Error())
		case len(vals) == 0:
			r.line(false, what, q+": no values")
		default:
			r.line(true, what, fmt.Sprintf("%s -> %v", q, vals))
		}
	}

	fmt.Println("== panel expressions")
	for _, t := range d.targets {
		what := fmt.Sprintf("[%s/%s] %s", t.Panel, t.RefID, t.Expr)
		q, err := substitute(t.Expr, vars)
		if err != nil {
			r.line(false, what, err.Error())
			continue
		}
		v, err := c.query(ctx, q, cfg.to)
		if err != nil {
			r.line(false, what, err.Error())
			continue
		}
		detail, ok := describe(v)
		r.line(ok, what, detail)
	}

	if cfg.instances != "" {
		fmt.Println("== across instances")
		runFleet(ctx, c, d, vars, strings.Split(cfg.instances, ","), cfg.jobFilter, cfg.to, &r)
	}

	fmt.Println("== run assertions")
	if cfg.pool != "" {
		checkHitRatio(ctx, c, cfg, &r)
	}
	if cfg.heapMax > 0 {
		checkHeap(ctx, c, cfg, vars, &r)
	}

	if cfg.svg != "" {
		if err := renderSVG(ctx, c, d, vars, cfg.from, cfg.to, cfg.svg); err != nil {
			r.line(false, "svg", err.Error())
		} else {
			fmt.Printf("wrote %s\n", cfg.svg)
		}
	}

	fmt.Println("== summary")
	for _, s := range r.summary {
		fmt.Println(s)
	}
	fmt.Printf("%d passed, %d failed\n", r.ok, r.failed)
	for _, f := range r.failures {
		fmt.Println("  FAILED", f)
	}
	if r.failed > 0 {
		return 1, nil
	}
	return 0, nil
}
