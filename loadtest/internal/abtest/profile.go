package abtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/bodypool/bodypool/internal/demoproc"
)

// ProfileConfig says what Profile profiles: one scenario in each mode,
// with the server's CPU profile taken over Seconds of steady load.
type ProfileConfig struct {
	ServerBin  string
	ServerArgs []string
	Modes      []string
	Scenario   scenario
	Requests   int // requests per pass of the load; the load repeats passes until the CPU profile is done
	Warmup     int
	Seconds    int // length of the CPU profile
	Seed       uint64
	Dir        string // where the profiles are written
	Progress   io.Writer
	ServerEnv  []string // added to every server's environment (for tests)
}

// Profile runs, for every mode, a fresh demo server with -pprof under the
// scenario's load: a warm-up, then passes of the plan while the server's
// CPU profile is taken, then its heap profile (in use and allocated since
// start) right after the load. It writes SCENARIO-MODE-cpu.pprof,
// -heap.pprof and -allocs.pprof into Dir and returns their paths, for
// go tool pprof. Spike scenarios are profiled on their small phase only.
func Profile(ctx context.Context, cfg ProfileConfig) ([]string, error) {
	if cfg.Seconds < 1 || cfg.Requests < 1 || len(cfg.Modes) == 0 || cfg.ServerBin == "" {
		return nil, fmt.Errorf("abtest: profile: want modes, a server, requests and seconds")
	}
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	plan := newPlan(cfg.Scenario.Workload, cfg.Requests, cfg.Seed)
	var files []string
	for _, mode := range cfg.Modes {
		fmt.Fprintf(progress, "profiling %s %s for %ds ", cfg.Scenario.Name, mode, cfg.Seconds)
		fs, passes, err := profileOne(ctx, cfg, mode, plan)
		files = append(files, fs...)
		if err != nil {
			fmt.Fprintf(progress, "FAILED: %v\n", err)
			return files, err
		}
		fmt.Fprintf(progress, "(%d passes of %d requests)\n", passes, len(plan.Items))
	}
	return files, nil
}

func profileOne(ctx context.Context, cfg ProfileConfig, mode string, plan *plan) ([]string, int, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(cfg.Seconds)*time.Second+5*time.Minute)
	defer cancel()
	args := []string{"-pool", mode, "-pprof"}
	if cfg.Scenario.Streams > 0 {
		args = append(args, "-h2c")
	}
	srv, err := demoproc.Start(ctx, demoproc.Config{Bin: cfg.ServerBin, Args: append(args, cfg.ServerArgs...), Env: cfg.ServerEnv})
	if err != nil {
		return nil, 0, err
	}
	defer srv.Stop(stopGrace)
	d, err := newDriver(ctx, srv.URL, plan, cfg.Scenario.Conns, cfg.Scenario.Streams)
	if err != nil {
		return nil, 0, err
	}
	defer d.close()
	if cfg.Warmup > 0 {
		if l := d.run(ctx, 0, cfg.Warmup); l.Errors > 0 {
			return nil, 0, fmt.Errorf("warm-up: %d errors: %s", l.Errors, l.FirstError)
		}
	}
	client := &http.Client{Transport: newTransport(1, 0), Timeout: time.Duration(cfg.Seconds)*time.Second + time.Minute}
	defer client.CloseIdleConnections()
	base := filepath.Join(cfg.Dir, cfg.Scenario.Name+"-"+mode)

	cpuDone := make(chan error, 1)
	go func() {
		cpuDone <- fetchTo(ctx, client, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", srv.URL, cfg.Seconds), base+"-cpu.pprof")
	}()
	passes := 0
	var cpuErr error
loop:
	for {
		l := d.run(ctx, 0, len(plan.Items))
		passes++
		if l.Errors > 0 {
			<-cpuDone
			return nil, passes, fmt.Errorf("%d errors: %s", l.Errors, l.FirstError)
		}
		select {
		case cpuErr = <-cpuDone:
			break loop
		default:
		}
	}
	if cpuErr != nil {
		return nil, passes, cpuErr
	}
	files := []string{base + "-cpu.pprof"}
	for _, p := range []string{"heap", "allocs"} {
		f := base + "-" + p + ".pprof"
		if err := fetchTo(ctx, client, srv.URL+"/debug/pprof/"+p, f); err != nil {
			return files, passes, err
		}
		files = append(files, f)
	}
	return files, passes, nil
}

// fetchTo writes the body of GET url into file.
func fetchTo(ctx context.Context, client *http.Client, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("abtest: %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("abtest: %s: status %s", url, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
