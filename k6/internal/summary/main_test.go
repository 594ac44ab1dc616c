package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/bodypool/bodypool/internal/demoproc"
)

const promBefore = `# HELP go_gc_duration_seconds A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 2.1e-05
go_gc_duration_seconds_sum 0.0012
go_gc_duration_seconds_count 4
go_memstats_alloc_bytes_total 1.048576e+06
process_resident_memory_bytes 2.5e+07
bufpool_gets_total{pool="sized",class="1 KiB {odd}"} 10
bufpool_gets_total{pool="sized",class="4096"} 5
bufpool_in_use_bytes{pool="sized"} 0
`

const promAfter = `go_gc_duration_seconds_count 14
go_memstats_alloc_bytes_total 3.145728e+06 1700000000000
process_resident_memory_bytes 3e+07
bufpool_gets_total{pool="sized",class="1 KiB {odd}"} 1010
bufpool_gets_total{pool="sized",class="4096"} 1005
bufpool_in_use_bytes{pool="sized"} 4096
`

// totals parses an exposition as readProm does.
func totals(t *testing.T, text string) map[string]float64 {
	t.Helper()
	m, err := demoproc.ParseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return m.Totals()
}

func TestReport(t *testing.T) {
	summary := `{"state":{"testRunDurationMs":15000},"metrics":{
		"http_reqs":{"type":"counter","values":{"count":2000,"rate":133.3}},
		"http_req_duration":{"type":"trend","values":{"p(95)":12.5,"p(99)":40}, "thresholds":{"p(95)<10":{"ok":false}}}}}`
	var sum k6Summary
	if err := json.Unmarshal([]byte(summary), &sum); err != nil {
		t.Fatal(err)
	}
	before := totals(t, promBefore)
	after := totals(t, promAfter)
	r, err := buildReport(sum.Metrics.HTTPReqs.Values.Count, before, after, 51200)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 2000 || r.AllocBytes != 2<<20 || r.AllocBytesPerReq != float64(2<<20)/2000 {
		t.Errorf("requests/alloc: %+v", r)
	}
	if r.GCCycles != 10 || r.GCPer1000Req != 5 {
		t.Errorf("gc: %+v", r)
	}
	if r.PeakRSSBytes != 50<<20 {
		t.Errorf("rss: %+v", r)
	}
	if r.Bufpool["bufpool_gets_total"] != 2000 || len(r.Bufpool) != 1 {
		t.Errorf("bufpool deltas: %v", r.Bufpool)
	}
	r.Script, r.Mode = "load.js", "sized"
	var out bytes.Buffer
	printReport(&out, r)
	if !strings.Contains(out.String(), "RESULT script=load.js pool=sized requests=2000 alloc_bytes_per_req=1049 gc_cycles=10 gc_per_1000_req=5.000 peak_rss_bytes=52428800\n") {
		t.Errorf("report:\n%s", out.String())
	}

	for _, tc := range []struct {
		name          string
		before, after map[string]float64
	}{
		{"nothing before", map[string]float64{}, after},
		{"nothing after", before, map[string]float64{}},
	} {
		if _, err := buildReport(2000, tc.before, tc.after, 0); err == nil {
			t.Errorf("%s: missing metrics accepted", tc.name)
		}
	}
}

func TestLoopbackURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080/metrics", true},
		{"http://[::1]:9/x", true},
		{"http://127.1.2.3:80/", true},
		{"http://10.0.0.1:8080/", false},
		{"https://127.0.0.1:443/", false},
		{"http://example.com:80/", false},
		{"http://192.168.1.1:80/", false},
		{"http://localhost:1/healthz", false}, // run.sh passes the IP the server prints
	} {
		if err := loopbackURL(tc.url); (err == nil) != tc.ok {
			t.Errorf("loopbackURL(%s) = %v, want ok %t", tc.url, err, tc.ok)
		}
	}
}
