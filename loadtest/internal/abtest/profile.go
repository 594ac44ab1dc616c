package abtest

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/bodypool/bodypool/internal/demoproc"
)

// Profile runs, for every mode of cfg, a fresh demo server with -pprof
// under the load of scenario sc: cfg.Warmup requests, then passes of
// cfg.Requests requests while the server's CPU profile is taken over
// seconds, then its heap profile (in use and allocated since start) right
// after the load. It writes SCENARIO-MODE-cpu.pprof, -heap.pprof and
// -allocs.pprof into dir and returns their paths, for go tool pprof. Spike
// scenarios are profiled on their small phase only.
func Profile(ctx context.Context, cfg Config, sc Scenario, dir string, seconds int) ([]string, error) {
	cfg.Scenarios, cfg.Rounds = []Scenario{sc}, 1
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if seconds < 1 {
		return nil, fmt.Errorf("abtest: profile: %d seconds: want at least 1", seconds)
	}
	progress := cmp.Or[io.Writer](cfg.Progress, io.Discard)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	sc = cfg.scenarios()[0]
	p := newPlan(sc.Size, cfg.Requests, cfg.Seed)
	var files []string
	for _, mode := range cfg.Modes {
		fmt.Fprintf(progress, "profiling %s %s for %ds ", sc.Name, mode, seconds)
		base := filepath.Join(dir, sc.Name+"-"+fileName(mode))
		passes, err := profileOne(ctx, cfg, mode, sc, p, base, seconds)
		if err != nil {
			fmt.Fprintf(progress, "FAILED: %v\n", err)
			return files, err
		}
		files = append(files, base+"-cpu.pprof", base+"-heap.pprof", base+"-allocs.pprof")
		fmt.Fprintf(progress, "(%d passes of %d requests)\n", passes, len(p.Items))
	}
	return files, nil
}

// profileOne writes the profiles of one mode to base-cpu.pprof,
// base-heap.pprof and base-allocs.pprof and returns the passes of the
// plan it sent.
func profileOne(ctx context.Context, cfg Config, mode string, sc Scenario, p *plan, base string, seconds int) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(seconds)*time.Second+5*time.Minute)
	defer cancel()
	srv, d, err := startServer(ctx, cfg, mode, sc, p, "-pprof")
	if err != nil {
		return 0, err
	}
	defer srv.Stop(stopGrace)
	defer d.close()
	if l := d.run(ctx, 0, cfg.Warmup); l.Errors > 0 {
		return 0, fmt.Errorf("warm-up: %d errors: %s", l.Errors, l.FirstError)
	}
	// The CPU profile answers after its seconds: the transport's header
	// timeout, meant for echoes, must wait that long.
	tr := newTransport(0, false)
	tr.ResponseHeaderTimeout += time.Duration(seconds) * time.Second
	client := &http.Client{Transport: tr}
	defer client.CloseIdleConnections()
	// fetch writes the body of GET srv.URL/debug/pprof/path into base-name.pprof.
	fetch := func(path, name string) error {
		b, err := demoproc.Get(ctx, client, srv.URL+"/debug/pprof/"+path, 1<<30)
		if err != nil {
			return fmt.Errorf("abtest: %w", err)
		}
		return os.WriteFile(base+"-"+name+".pprof", b, 0o644)
	}

	cpuDone := make(chan error, 1)
	go func() { cpuDone <- fetch(fmt.Sprintf("profile?seconds=%d", seconds), "cpu") }()
	for passes := 1; ; passes++ {
		if l := d.run(ctx, 0, len(p.Items)); l.Errors > 0 {
			<-cpuDone
			return passes, fmt.Errorf("%d errors: %s", l.Errors, l.FirstError)
		}
		select {
		case err := <-cpuDone:
			for _, name := range []string{"heap", "allocs"} {
				if err == nil {
					err = fetch(name, name)
				}
			}
			return passes, err
		default:
		}
	}
}
