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
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/bodypool/bodypool/internal/demoproc"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "scrape":
		if len(os.Args) != 4 {
			usage()
		}
		err = scrapeCmd(os.Args[2], os.Args[3])
	case "report":
		err = reportCmd(os.Args[2:], os.Stdout)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "summary %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: summary scrape URL FILE | report -summary FILE -before FILE -after FILE [-hwm-kib N] [-script S] [-mode M] [-json FILE]")
	os.Exit(2)
}

// loopbackURL accepts only http URLs whose host is a loopback address.
func loopbackURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" {
		return "", fmt.Errorf("%q: only http URLs are supported", raw)
	}
	host := u.Hostname()
	if host != "localhost" {
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return "", fmt.Errorf("%q: only loopback addresses are allowed", raw)
		}
	}
	return u.String(), nil
}

var client = &http.Client{Timeout: 10 * time.Second}

func get(raw string) ([]byte, error) {
	u, err := loopbackURL(raw)
	if err != nil {
		return nil, err
	}
	resp, err := client.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return body, nil
}

func scrapeCmd(raw, file string) error {
	body, err := get(raw)
	if err != nil {
		return err
	}
	return os.WriteFile(file, body, 0o644)
}

type k6Summary struct {
	Metrics map[string]struct {
		Type       string             `json:"type"`
		Values     map[string]float64 `json:"values"`
		Thresholds map[string]struct {
			OK bool `json:"ok"`
		} `json:"thresholds"`
	} `json:"metrics"`
	State struct {
		TestRunDurationMs float64 `json:"testRunDurationMs"`
	} `json:"state"`
}

// Report holds the figures of one run.
type Report struct {
	Script           string             `json:"script"`
	Mode             string             `json:"mode"`
	Seconds          float64            `json:"seconds"`
	Requests         float64            `json:"requests"`
	RequestsPerSec   float64            `json:"requests_per_sec"`
	FailedRate       float64            `json:"failed_rate"`
	P95Ms            float64            `json:"p95_ms"`
	P99Ms            float64            `json:"p99_ms"`
	AllocBytes       float64            `json:"alloc_bytes"`
	AllocBytesPerReq float64            `json:"alloc_bytes_per_req"`
	GCCycles         float64            `json:"gc_cycles"`
	GCPer1000Req     float64            `json:"gc_per_1000_req"`
	PeakRSSBytes     float64            `json:"peak_rss_bytes"`
	EndRSSBytes      float64            `json:"end_rss_bytes"`
	FailedThresholds []string           `json:"failed_thresholds"`
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

func buildReport(sum *k6Summary, before, after map[string]float64, hwmKiB float64) (*Report, error) {
	reqs, ok := sum.Metrics["http_reqs"]
	if !ok {
		return nil, errors.New("the k6 summary has no http_reqs metric")
	}
	r := &Report{
		Seconds:          sum.State.TestRunDurationMs / 1000,
		Requests:         reqs.Values["count"],
		RequestsPerSec:   reqs.Values["rate"],
		FailedRate:       sum.Metrics["http_req_failed"].Values["rate"],
		P95Ms:            sum.Metrics["http_req_duration"].Values["p(95)"],
		P99Ms:            sum.Metrics["http_req_duration"].Values["p(99)"],
		PeakRSSBytes:     hwmKiB * 1024,
		EndRSSBytes:      after["process_resident_memory_bytes"],
		FailedThresholds: []string{},
	}
	delta := func(name string) (float64, error) {
		a, okA := after[name]
		b, okB := before[name]
		if !okA || !okB {
			return 0, fmt.Errorf("/metrics has no %s", name)
		}
		return a - b, nil
	}
	var err error
	if r.AllocBytes, err = delta("go_memstats_alloc_bytes_total"); err != nil {
		return nil, err
	}
	if r.GCCycles, err = delta("go_gc_duration_seconds_count"); err != nil {
		return nil, err
	}
	if r.Requests > 0 {
		r.AllocBytesPerReq = r.AllocBytes / r.Requests
		r.GCPer1000Req = 1000 * r.GCCycles / r.Requests
	}
	for name, m := range sum.Metrics {
		for expr, t := range m.Thresholds {
			if !t.OK {
				r.FailedThresholds = append(r.FailedThresholds, name+" "+expr)
			}
		}
	}
	sort.Strings(r.FailedThresholds)
	for name, a := range after {
		if strings.HasPrefix(name, "bufpool_") && strings.HasSuffix(name, "_total") {
			if r.Bufpool == nil {
				r.Bufpool = make(map[string]float64)
			}
			r.Bufpool[name] = a - before[name]
		}
	}
	return r, nil
}

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
	row("requests (k6 http_reqs)", "%.0f in %.1fs (%.1f/s)", r.Requests, r.Seconds, r.RequestsPerSec)
	row("failed", "%.2f%%", 100*r.FailedRate)
	row("latency p95 / p99", "%.2fms / %.2fms", r.P95Ms, r.P99Ms)
	row("allocated", "%s total, %s per request", bytesIEC(r.AllocBytes), bytesIEC(r.AllocBytesPerReq))
	row("GC cycles", "%.0f (%.2f per 1000 requests)", r.GCCycles, r.GCPer1000Req)
	row("peak RSS (VmHWM)", "%s", bytesIEC(r.PeakRSSBytes))
	row("RSS at the end", "%s", bytesIEC(r.EndRSSBytes))
	names := make([]string, 0, len(r.Bufpool))
	for n := range r.Bufpool {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		row(n, "+%.0f", r.Bufpool[n])
	}
	if len(r.FailedThresholds) > 0 {
		fmt.Fprintf(w, "  failed thresholds: %s\n", strings.Join(r.FailedThresholds, "; "))
	}
	fmt.Fprintf(w, "RESULT script=%s pool=%s requests=%.0f alloc_bytes_per_req=%.0f gc_cycles=%.0f gc_per_1000_req=%.3f peak_rss_bytes=%.0f failed_thresholds=%d\n",
		r.Script, r.Mode, r.Requests, r.AllocBytesPerReq, r.GCCycles, r.GCPer1000Req, r.PeakRSSBytes, len(r.FailedThresholds))
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
	r, err := buildReport(&sum, before, after, *hwm)
	if err != nil {
		return err
	}
	r.Script, r.Mode = *script, *mode
	printReport(w, r)
	if *jsonOut != "" {
		out, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(*jsonOut, append(out, '\n'), 0o644)
	}
	return nil
}
