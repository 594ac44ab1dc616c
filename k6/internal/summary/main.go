// Command summary is the helper of k6/run.sh. It talks only to loopback
// addresses, so that the runner needs neither curl nor python3, and reads
// /metrics with the harnesses' one parser (internal/demoproc):
//
//	summary scrape URL FILE      save the body of GET URL (a /metrics page)
//	summary report [flags]       print the server's figures next to k6's
//
// report reads the k6 summary JSON (metrics.http_reqs.values.count is the
// request count) and two /metrics scrapes taken before and after the run,
// and prints requests, allocated bytes per request, GC cycles and GC cycles
// per 1000 requests, and the server's peak resident set (VmHWM).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/bodypool/bodypool/internal/demoproc"
)

const usage = "usage: summary scrape URL FILE | report -summary FILE -before FILE -after FILE [-hwm-kib N] [-script S] [-mode M] [-json FILE]"

func main() {
	var err error
	switch {
	case len(os.Args) == 4 && os.Args[1] == "scrape":
		err = scrape(os.Args[2], os.Args[3])
	case len(os.Args) >= 2 && os.Args[1] == "report":
		err = reportCmd(os.Args[2:], os.Stdout)
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "summary %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// loopbackURL accepts only http URLs whose host is a loopback address.
func loopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "http" {
		return fmt.Errorf("%q: only http URLs are supported", raw)
	}
	return demoproc.Loopback(u.Host)
}

// scrape saves the body of GET raw to file.
func scrape(raw, file string) error {
	if err := loopbackURL(raw); err != nil {
		return err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	body, err := demoproc.Get(context.Background(), client, raw, 64<<20)
	if err != nil {
		return err
	}
	return os.WriteFile(file, body, 0o644)
}

// k6Summary is what report reads of the summary data k6 passes to
// handleSummary: the request count. k6 prints the rest itself (latency,
// failures, thresholds) just above the report.
type k6Summary struct {
	Metrics struct {
		HTTPReqs struct {
			Values struct {
				Count float64 `json:"count"`
			} `json:"values"`
		} `json:"http_reqs"`
	} `json:"metrics"`
}

// Report holds the server's figures of one run.
type Report struct {
	Script           string             `json:"script"`
	Mode             string             `json:"mode"`
	Requests         float64            `json:"requests"`
	AllocBytes       float64            `json:"alloc_bytes"`
	AllocBytesPerReq float64            `json:"alloc_bytes_per_req"`
	GCCycles         float64            `json:"gc_cycles"`
	GCPer1000Req     float64            `json:"gc_per_1000_req"`
	PeakRSSBytes     float64            `json:"peak_rss_bytes"`
	Bufpool          map[string]float64 `json:"bufpool_counter_deltas,omitempty"`
}

// readProm reads a /metrics scrape saved in file, every metric summed over
// its label sets.
func readProm(file string) (map[string]float64, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := demoproc.ParseMetrics(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	return m.Totals(), nil
}

// buildReport computes the figures from the request count k6 reports, the
// server's counters before and after the run, and its VmHWM in KiB.
func buildReport(requests float64, before, after map[string]float64, hwmKiB float64) (*Report, error) {
	for _, m := range []map[string]float64{before, after} {
		for _, name := range []string{"go_memstats_alloc_bytes_total", "go_gc_duration_seconds_count"} {
			if _, ok := m[name]; !ok {
				return nil, fmt.Errorf("/metrics has no %s", name)
			}
		}
	}
	r := &Report{Requests: requests, PeakRSSBytes: hwmKiB * 1024, Bufpool: make(map[string]float64)}
	for name, a := range after {
		delta := a - before[name]
		switch {
		case name == "go_memstats_alloc_bytes_total":
			r.AllocBytes = delta
		case name == "go_gc_duration_seconds_count":
			r.GCCycles = delta
		case strings.HasPrefix(name, "bufpool_") && strings.HasSuffix(name, "_total"):
			r.Bufpool[name] = delta
		}
	}
	if requests > 0 {
		r.AllocBytesPerReq = r.AllocBytes / requests
		r.GCPer1000Req = 1000 * r.GCCycles / requests
	}
	return r, nil
}

// bytesIEC writes b in the largest binary unit below it, as k6's summary
// (k6/lib/summary.js) does.
func bytesIEC(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for math.Abs(b) >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", b)
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}

func printReport(w io.Writer, r *Report) {
	fmt.Fprintf(w, "== bodypool server figures: %s, pool=%s\n", r.Script, r.Mode)
	row := func(k, format string, a ...any) { fmt.Fprintf(w, "  %-34s "+format+"\n", append([]any{k}, a...)...) }
	row("requests (k6 http_reqs)", "%.0f", r.Requests)
	row("allocated", "%s total, %s per request", bytesIEC(r.AllocBytes), bytesIEC(r.AllocBytesPerReq))
	row("GC cycles", "%.0f (%.2f per 1000 requests)", r.GCCycles, r.GCPer1000Req)
	row("peak RSS (VmHWM)", "%s", bytesIEC(r.PeakRSSBytes))
	for _, n := range slices.Sorted(maps.Keys(r.Bufpool)) {
		row(n, "+%.0f", r.Bufpool[n])
	}
	fmt.Fprintf(w, "RESULT script=%s pool=%s requests=%.0f alloc_bytes_per_req=%.0f gc_cycles=%.0f gc_per_1000_req=%.3f peak_rss_bytes=%.0f\n",
		r.Script, r.Mode, r.Requests, r.AllocBytesPerReq, r.GCCycles, r.GCPer1000Req, r.PeakRSSBytes)
}

func reportCmd(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	summaryFile := fs.String("summary", "", "k6 summary JSON written by handleSummary")
	beforeFile := fs.String("before", "", "/metrics scraped before the run")
	afterFile := fs.String("after", "", "/metrics scraped after the run")
	hwm := fs.Float64("hwm-kib", 0, "the server's VmHWM in KiB")
	script := fs.String("script", "", "name of the k6 script")
	mode := fs.String("mode", "", "pool mode of the server")
	jsonOut := fs.String("json", "", "also write the figures as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *summaryFile == "" || *beforeFile == "" || *afterFile == "" {
		return errors.New("-summary, -before and -after are required")
	}
	b, err := os.ReadFile(*summaryFile)
	if err != nil {
		return err
	}
	var sum k6Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		return fmt.Errorf("%s: %v", *summaryFile, err)
	}
	before, err := readProm(*beforeFile)
	if err != nil {
		return err
	}
	after, err := readProm(*afterFile)
	if err != nil {
		return err
	}
	r, err := buildReport(sum.Metrics.HTTPReqs.Values.Count, before, after, *hwm)
	if err != nil {
		return err
	}
	r.Script, r.Mode = *script, *mode
	printReport(w, r)
	if *jsonOut == "" {
		return nil
	}
	out, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(*jsonOut, append(out, '\n'), 0o644)
}
