// Command promcheck checks the bodypool Grafana dashboard against a running
// Prometheus that has scraped one or more demo servers. (The structure of
// the dashboard JSON is linted by the tests of loadtest/fleet/dashboard.)
//
// It checks that every label_values() template variable has values
// (/api/v1/label/<name>/values), and evaluates the PromQL of every panel
// target, Grafana's variables substituted (vars.go), at -to through
// /api/v1/query: each must be accepted and return a sample that is not NaN.
// With -instances it proves that every panel aggregates those instances
// correctly, and with -job-filter that $job filters (fleet.go). It then
// asserts the steady-state hit ratio of the busiest size band of -pool from
// -from plus -warmup to -to (at least -min-hit-ratio, default 0.95) and the
// bound on the scraped processes' heap in use (below -heap-max, default
// 256MiB) (checks.go), and with -svg draws every panel (render.go).
//
// It prints one OK or FAIL line per check, then the tally and the failed
// checks again, and exits 1 when any check failed, 2 on a usage or setup
// error.
//
// Usage:
//
//	promcheck -prom http://127.0.0.1:9090 -dashboard dashboard/bodypool.json \
//	    -var pool=sized -from 1700000000 -to 1700000025 \
//	    -instances 127.0.0.1:8080,127.0.0.1:8081 -job-filter bodypool-demo
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
	prom, dashboard           string
	vars                      map[string]string
	warmup                    time.Duration
	from, to                  time.Time
	pool                      string
	minHitRatio, minGets      float64
	heapMax                   demo.Size
	svg, instances, jobFilter string
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
	flag.Func("from", "start of the load run in Unix seconds (required); $__range is -to minus -from", unixFlag(&cfg.from))
	flag.Func("to", "end of the load run in Unix seconds, and the evaluation time of every query (required)", unixFlag(&cfg.to))
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

// unixFlag returns a flag.Func that sets *t from Unix seconds with a
// fraction, as date +%s.%N prints them.
func unixFlag(t *time.Time) func(string) error {
	return func(s string) error {
		sec, err := strconv.ParseFloat(s, 64)
		*t = time.UnixMilli(int64(sec * 1000))
		return err
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
	if cfg.from.IsZero() || cfg.to.IsZero() {
		return 0, errors.New("-from and -to are required")
	}
	rng := cfg.to.Sub(cfg.from).Truncate(time.Second)
	if rng < time.Second {
		return 0, errors.New("-from must be at least a second before -to")
	}
	vars := builtinVars(rng)
	maps.Copy(vars, cfg.vars)
	c, err := newClient(cfg.prom)
	if err != nil {
		return 0, err
	}
	ctx := context.Background()
	var r report

	fmt.Printf("promcheck: dashboard %q (%s), %d targets; Prometheus %s; evaluated at %s; run %s; vars %v\n",
		d.Title, cfg.dashboard, len(d.targets), cfg.prom, cfg.to.UTC().Format(time.RFC3339), rng, cfg.vars)

	fmt.Println("== template variables")
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		vals, err := c.labelValues(ctx, v.Definition, vars, cfg.from, cfg.to)
		detail := fmt.Sprintf("%s -> %v", v.Definition, vals)
		if err != nil {
			detail = err.Error()
		}
		r.line(err == nil, "variable "+v.Name, detail)
	}

	fmt.Println("== panel expressions")
	for _, t := range d.targets {
		what := fmt.Sprintf("[%s/%s] %s", t.Panel, t.RefID, t.Expr)
		detail, ok := describe(c.query(ctx, t.Expr, vars, cfg.to))
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
	fmt.Printf("%d passed, %d failed\n", r.ok, r.failed)
	for _, f := range r.failures {
		fmt.Println("  FAILED", f)
	}
	if r.failed > 0 {
		return 1, nil
	}
	return 0, nil
}
