// Command abtest compares the bodypool demo server's pool modes under a
// bounded load on 127.0.0.1 and writes results.json, report.md and an SVG
// chart per workload or scenario into -out.
//
// For every round, workload and mode it starts a fresh demo-server process,
// sends -warmup and then -requests POST /echo requests from -concurrency
// keep-alive connections, checks every echo, and records throughput,
// latency, the server's allocation, GC cycles, CPU time and peak RSS. It
// builds cmd/demo-server itself unless -server names a binary.
//
// Usage, from the loadtest folder:
//
//	go run ./cmd/abtest -quick                  # smoke run, under a minute
//	go run ./cmd/abtest -out results            # full run, a few minutes
//	go run ./cmd/abtest -modes off,sized -workloads mixed -rounds 5
//	go run ./cmd/abtest -from results/results.json -out results  # report again
//	go run ./cmd/abtest -scenarios S1,S2,S3 -rounds 5 -out results/scenarios
//	go run ./cmd/abtest -quick -scenarios S1,S2,S3   # smoke run of the scenarios
//	go run ./cmd/abtest -profile prof -scenarios S1-c64 -modes sized,syncpool
//	go run ./cmd/abtest -scenarios S1-c64 -modes off,sized,sized/max-idle=32MiB
//
// A mode is a pool of the demo server (off, none, syncpool, calibrated,
// sized), optionally followed by server flags as /name=value: a variant,
// which runs in the same rounds as the others, so that two settings of one
// pool are compared on the same machine at the same time.
//
// With -profile DIR the harness measures nothing: for the one scenario
// and every mode it runs a server with -pprof under that load and writes
// its CPU profile (-profile-seconds long) and heap profiles into DIR.
//
// The scenarios of issue 14 (-scenarios) are S1, the log-uniform mix
// 1 KiB – 1 MiB at 8, 64 and 256 HTTP/1.1 connections (S1-c8, S1-c64,
// S1-c256); S2, a spike of 512 bodies of 4 MiB then small bodies, with the
// server's memory sampled 5 and 30 s after the spike (64 bodies, 1 and 3 s
// with -quick); and S3, the mix of S1 over h2c, 16 connections × 16
// streams. With -scenarios, the workloads run only when -workloads is
// given, and the modes default to off, syncpool, calibrated and sized.
//
// The exit status is 0 when every request succeeded, 1 when any failed or
// the run could not be done, 2 on bad flags, 3 with -strict when a target
// was missed, and 130 when interrupted (the partial report is written).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/bodypool/bodypool/internal/demo"
	"github.com/bodypool/bodypool/internal/demoproc"
	"github.com/bodypool/bodypool/loadtest/internal/abtest"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("abtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := abtest.Config{Progress: stderr}
	fs.IntVar(&cfg.Requests, "requests", 2000, "measured requests per run")
	fs.IntVar(&cfg.Warmup, "warmup", 200, "requests before measuring, per run (not counted)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 8, "requests in flight (keep-alive connections)")
	fs.IntVar(&cfg.Rounds, "rounds", 3, "rounds; each runs every workload and mode")
	fs.StringVar(&cfg.ServerBin, "server", "", "demo-server binary (default: build cmd/demo-server of the checkout above the working folder)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the request sizes and bodies")
	fs.DurationVar(&cfg.RunTimeout, "run-timeout", 5*time.Minute, "limit for one run (server start, warm-up, load, stop)")
	var (
		workloads   = fs.String("workloads", "small,medium,large,mixed", "comma-separated workloads, run at -concurrency connections: small, medium, large, mixed, loguniform")
		modes       = fs.String("modes", strings.Join(demo.Modes, ","), "comma-separated pool modes, each optionally with server flags as /name=value (sized/max-idle=32MiB); "+abtest.Baseline+" is the baseline of the ratios")
		out         = fs.String("out", "out", "folder for results.json, report.md and the charts")
		quick       = fs.Bool("quick", false, "smoke run: 300 requests, 50 warm-up, 1 round, workloads small and mixed, a smaller spike (explicit flags win)")
		strict      = fs.Bool("strict", false, "exit 3 when a target is missed")
		from        = fs.String("from", "", "write the report of a results.json of an earlier run into -out, without running")
		scenarios   = fs.String("scenarios", "", "comma-separated scenarios of issue 14: S1 (or S1-c8, S1-c64, S1-c256), S2, S3")
		profileDir  = fs.String("profile", "", "write CPU and heap profiles of each mode under the one -scenarios scenario into this folder, measuring nothing else")
		profileSecs = fs.Int("profile-seconds", 15, "length of the CPU profile with -profile")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "abtest: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	defaults := map[string]string{}
	if *quick {
		defaults = map[string]string{"requests": "300", "warmup": "50", "rounds": "1", "workloads": "small,mixed"}
	}
	if *scenarios != "" {
		defaults["workloads"] = ""
		defaults["modes"] = "off,syncpool,calibrated,sized"
	}
	for name, v := range defaults {
		if !set[name] {
			_ = fs.Set(name, v) // constant, valid values
		}
	}
	if *from != "" {
		return rewrite(*from, *out, stderr)
	}
	// A workload is a scenario at -concurrency connections: both flags name
	// scenarios, the workloads first.
	var scs []abtest.Scenario
	for _, f := range []struct{ flag, names string }{{"workloads", *workloads}, {"scenarios", *scenarios}} {
		ss, err := abtest.LookupScenarios(f.names)
		if err != nil {
			fmt.Fprintf(stderr, "abtest: -%s: %v\n", f.flag, err)
			return 2
		}
		scs = append(scs, ss...)
	}
	if *profileDir != "" && len(scs) != 1 {
		fmt.Fprintln(stderr, "abtest: -profile takes exactly one scenario in -scenarios")
		return 2
	}
	cfg.Modes, cfg.Scenarios = strings.Split(*modes, ","), scs
	for _, m := range cfg.Modes {
		// Checked before the server is built, so that a typo in a
		// variant's flag fails at once.
		if _, err := abtest.ServerArgs(m); err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
	}
	if *quick {
		cfg.SpikeRequests, cfg.SpikeWaits = 64, []time.Duration{time.Second, 3 * time.Second}
		for i := range scs {
			scs[i].Requests = min(scs[i].Requests, cfg.Requests)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C ends the harness at once; its servers die with it
	}()
	build := "the binary " + cfg.ServerBin
	if cfg.ServerBin == "" {
		tmp, err := os.MkdirTemp("", "abtest-")
		if err != nil {
			fmt.Fprintf(stderr, "abtest: %v\n", err)
			return 1
		}
		defer os.RemoveAll(tmp)
		root, err := demoproc.Repo(ctx)
		if err == nil {
			fmt.Fprintf(stderr, "building cmd/demo-server in %s\n", root)
			cfg.ServerBin, build, err = demoproc.Build(ctx, root, tmp, false)
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}

	if *profileDir != "" {
		files, err := abtest.Profile(ctx, cfg, scs[0], *profileDir, *profileSecs)
		for _, f := range files {
			fmt.Fprintf(stderr, "wrote %s\n", f)
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stderr, "server: %s; read them with go tool pprof -top FILE\n", build)
		return 0
	}
	res, runErr := abtest.Run(ctx, cfg)
	if res == nil { // the configuration was refused
		fmt.Fprintln(stderr, runErr)
		return 2
	}
	res.Meta.Command = "abtest " + strings.Join(args, " ")
	res.Meta.ServerBuild = build
	if err := abtest.WriteReport(*out, res); err != nil {
		fmt.Fprintf(stderr, "abtest: writing the report: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "load average after: %s\nwrote %s/report.md, results.json and the charts\n%s\n",
		res.Meta.LoadAfter, *out, abtest.Headline(res))
	failed := 0
	for _, r := range res.Runs {
		failed += r.Failed()
	}
	switch {
	case res.Meta.Interrupted || errors.Is(runErr, context.Canceled):
		fmt.Fprintln(stderr, "abtest: interrupted; the report holds the runs done so far")
		return 130
	case runErr != nil:
		fmt.Fprintln(stderr, runErr)
		return 1
	case failed > 0:
		fmt.Fprintf(stderr, "abtest: %d requests failed\n", failed)
		return 1
	case *strict && slices.ContainsFunc(abtest.Verdicts(res), func(v abtest.Verdict) bool { return v.Status != abtest.StatusMet }):
		return 3
	}
	return 0
}

// rewrite writes the report of the results in file into dir: the analysis
// and the report of the current code over figures already measured.
func rewrite(file, dir string, stderr io.Writer) int {
	var res abtest.Results
	b, err := os.ReadFile(file)
	if err == nil {
		err = json.Unmarshal(b, &res)
	}
	if err == nil {
		err = abtest.WriteReport(dir, &res)
	}
	if err != nil {
		fmt.Fprintf(stderr, "abtest: %s: %v\n", file, err)
		return 1
	}
	fmt.Fprintf(stderr, "wrote the report of %s into %s\n", file, dir)
	return 0
}
