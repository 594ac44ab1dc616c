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
)

// Profile runs, for every mode of cfg, a fresh demo server with -pprof
// under the load of scenario sc: cfg.Warmup requests, then passes of
// cfg.Requests requests while the server's CPU profile is taken over
// seconds, then its heap profile (in use and allocated since start) right
// after the load. It writes SCENARIO-MODE-cpu.pprof, -heap.pprof and
// -allocs.pprof into dir and returns their paths, for go tool pprof. Spike
// scenarios are profiled on their small phase only.
func Profile(ctx context.Context, cfg Config, sc scenario, dir string, seconds int) ([]string, error) {
	if seconds < 1 || cfg.Requests < 1 || len(cfg.Modes) == 0 || cfg.ServerBin == "" {
		return nil, fmt.Errorf("abtest: profile: want modes, a server, requests and seconds")
	}
	progress := cmp.Or[io.Writer](cfg.Progress, io.Discard)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p := newPlan(sc.Workload, cfg.Requests, cfg.Seed)
	var files []string
	for _, mode := range cfg.Modes {
		fmt.Fprintf(progress, "profiling %s %s for %ds ", sc.Name, mode, seconds)
		base := filepath.Join(dir, sc.Name+"-"+mode)
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
func profileOne(ctx context.Context, cfg Config, mode string, sc scenario, p *plan, base string, seconds int) (int, error) {
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
	client := &http.Client{Transport: newTransport(1, 0, false), Timeout: time.Duration(seconds)*time.Second + time.Minute}
	defer client.CloseIdleConnections()

	cpuDone := make(chan error, 1)
	go func() {
		cpuDone <- fetchTo(ctx, client, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", srv.URL, seconds), base+"-cpu.pprof")
	}()
	for passes := 1; ; passes++ {
		if l := d.run(ctx, 0, len(p.Items)); l.Errors > 0 {
			<-cpuDone
			return passes, fmt.Errorf("%d errors: %s", l.Errors, l.FirstError)
		}
		select {
		case err := <-cpuDone:
			for _, name := range []string{"heap", "allocs"} {
				if err == nil {
					err = fetchTo(ctx, client, srv.URL+"/debug/pprof/"+name, base+"-"+name+".pprof")
				}
			}
			return passes, err
		default:
		}
	}
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
