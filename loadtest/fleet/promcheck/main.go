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
//   - the steady-state hit ratio of one size band of one pool (by default
//     the band of the sized pool that served the most gets in the window)
//     is at least -min-hit-ratio (default 0.95), measured from -from plus
//     -warmup to -to;
//   - the Go heap of the scraped process (the maximum of
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
	"os"
	"strings"
	"time"
)

type config struct {
	prom          string
	dashboardPath string
	vars          varFlags
	rateInterval  time.Duration
	interval      time.Duration
	from, to      timeFlag
	warmup        time.Duration
	allowNaN      bool
	pool          string
	band          string
	minHitRatio   float64
	minGets       float64
	heapMax       byteSize
	heapQuery     string
	timeout       time.Duration
	svg           string
	instances     string
	jobFilter     string
}

func main() {
	cfg := config{vars: varFlags{"pool": ".*", "job": ".*", "instance": ".*"}, heapMax: 256 << 20}
	fs := flag.NewFlagSet("promcheck", flag.ExitOnError)
	fs.StringVar(&cfg.prom, "prom", "http://127.0.0.1:9090", "base URL of the Prometheus HTTP API")
	fs.StringVar(&cfg.dashboardPath, "dashboard", "dashboard/bodypool.json", "Grafana dashboard JSON file")
	fs.Var(cfg.vars, "var", "template variable value as name=value (repeatable; defaults pool=.*, job=.* and instance=.*)")
	fs.DurationVar(&cfg.rateInterval, "rate-interval", 15*time.Second, "value of $__rate_interval")
	fs.DurationVar(&cfg.interval, "interval", 5*time.Second, "value of $__interval")
	fs.Var(&cfg.from, "from", "start of the load run, Unix seconds or RFC 3339 (default: -to minus 2m); $__range is -to minus -from")
	fs.Var(&cfg.to, "to", "end of the load run and the evaluation time of every query (default: now)")
	fs.DurationVar(&cfg.warmup, "warmup", 5*time.Second, "part of the run after -from left out of the hit-ratio window")
	fs.BoolVar(&cfg.allowNaN, "allow-nan", false, "accept a dashboard expression whose every sample is NaN")
	fs.StringVar(&cfg.pool, "pool", "sized", "pool label value whose hit ratio is asserted (empty: skip the assertion)")
	fs.StringVar(&cfg.band, "band", "auto", `band label value whose hit ratio is asserted; "auto" takes the band with the most gets in the window`)
	fs.Float64Var(&cfg.minHitRatio, "min-hit-ratio", 0.95, "lowest accepted steady-state hit ratio")
	fs.Float64Var(&cfg.minGets, "min-gets", 500, "fewest gets of the band in the window for the hit ratio to count")
	fs.Var(&cfg.heapMax, "heap-max", "bound on go_memstats_heap_inuse_bytes over the run (0: skip the assertion)")
	fs.StringVar(&cfg.heapQuery, "heap-query", `max(max_over_time(go_memstats_heap_inuse_bytes{job=~"$job"}[$__range]))`, "query whose value is compared with -heap-max")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "timeout of each HTTP request")
	fs.StringVar(&cfg.svg, "svg", "", "also write an SVG chart of every panel over -from..-to, from query_range results, to this file")
	fs.StringVar(&cfg.instances, "instances", "", "comma-separated instance label values: check that every panel aggregates correctly across them (empty: skip)")
	fs.StringVar(&cfg.jobFilter, "job-filter", "", "with -instances, the job of the instances: check that $job removes the series of other jobs")
	_ = fs.Parse(os.Args[1:])
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "promcheck: unexpected arguments %q\n", fs.Args())
		os.Exit(2)
	}
	code, err := run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "promcheck:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

func run(cfg config) (int, error) {
	data, err := os.ReadFile(cfg.dashboardPath)
	if err != nil {
		return 0, err
	}
	d, err := parseDashboard(data)
	if err != nil {
		return 0, err
	}
	if cfg.to.t.IsZero() {
		cfg.to.t = time.Now()
	}
	if cfg.from.t.IsZero() {
		cfg.from.t = cfg.to.t.Add(-2 * time.Minute)
	}
	rng := cfg.to.t.Sub(cfg.from.t).Truncate(time.Second)
	if rng < time.Second {
		return 0, errors.New("-from must be at least a second before -to")
	}
	vars := builtinVars(cfg.rateInterval, cfg.interval, rng)
	for k, v := range cfg.vars {
		vars[k] = v
	}
	c, err := newClient(cfg.prom, cfg.timeout)
	if err != nil {
		return 0, err
	}
	ctx := context.Background()
	var r report

	fmt.Printf("promcheck: dashboard %q (%s), %d targets; Prometheus %s; evaluated at %s; run %s; vars %s\n",
		d.Title, cfg.dashboardPath, len(d.Targets), cfg.prom, cfg.to.t.UTC().Format(time.RFC3339), rng, cfg.vars)

	fmt.Println("== dashboard lint")
	probs := lint(d)
	if len(probs) == 0 {
		r.line(true, "lint", fmt.Sprintf("%d panels, %d targets, %d variables", len(d.panels), len(d.Targets), len(d.Variables)))
	}
	for _, p := range probs {
		r.line(false, "lint", p)
	}

	fmt.Println("== template variables")
	for _, v := range d.Variables {
		if v.Type != "query" {
			continue
		}
		what := "variable " + v.Name
		q, err := substitute(v.Query, vars)
		if err != nil {
			r.line(false, what, err.Error())
			continue
		}
		sel, label, ok := parseLabelValues(q)
		if !ok {
			r.line(false, what, "not a label_values() query: "+q)
			continue
		}
		vals, err := c.labelValues(ctx, sel, label, cfg.from.t, cfg.to.t)
		switch {
		case err != nil:
			r.line(false, what, q+": "+err.Error())
		case len(vals) == 0:
			r.line(false, what, q+": no values")
		default:
			r.line(true, what, fmt.Sprintf("%s -> %s", q, strings.Join(vals, ", ")))
		}
	}

	fmt.Println("== panel expressions")
	for _, t := range d.Targets {
		what := fmt.Sprintf("[%s/%s] %s", t.Panel, t.RefID, t.Expr)
		q, err := substitute(t.Expr, vars)
		if err != nil {
			r.line(false, what, err.Error())
			continue
		}
		_, samples, err := c.query(ctx, q, cfg.to.t)
		if err != nil {
			r.line(false, what, err.Error())
			continue
		}
		detail, ok := describe(samples)
		if !ok && cfg.allowNaN && len(samples) > 0 {
			ok = true
		}
		r.line(ok, what, detail)
	}

	var summary []string
	if cfg.instances != "" {
		fmt.Println("== across instances")
		summary = append(summary, runFleet(ctx, c, d, vars, strings.Split(cfg.instances, ","), cfg.jobFilter, cfg.to.t, &r))
	}

	fmt.Println("== run assertions")
	if cfg.pool != "" {
		s := checkHitRatio(ctx, c, cfg, &r)
		summary = append(summary, s)
	}
	if cfg.heapMax > 0 {
		s := checkHeap(ctx, c, cfg, vars, &r)
		summary = append(summary, s)
	}

	if cfg.svg != "" {
		if err := renderSVG(ctx, c, d, vars, cfg.from.t, cfg.to.t, cfg.svg); err != nil {
			r.line(false, "svg", err.Error())
		} else {
			fmt.Printf("wrote %s\n", cfg.svg)
		}
	}

	fmt.Println("== summary")
	for _, s := range summary {
		fmt.Println(s)
	}
	fmt.Printf("%d passed, %d failed\n", r.ok, r.failed)
	if r.failed > 0 {
		for _, f := range r.failures {
			fmt.Println("  FAILED", f)
		}
		return 1, nil
	}
	return 0, nil
}
