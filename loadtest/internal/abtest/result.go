package abtest

import "time"

// Results is everything a harness run recorded: how it ran, and one
// measurement per mode, workload and round. It is what results.json holds;
// the analysis and the report are functions of it.
type Results struct {
	Meta meta          `json:"meta"`
	Runs []measurement `json:"runs"`
}

// meta describes the harness run.
type meta struct {
	Command     string    `json:"command"`
	Started     time.Time `json:"started"`
	Finished    time.Time `json:"finished"`
	Interrupted bool      `json:"interrupted,omitempty"`
	Error       string    `json:"error,omitempty"`

	GoVersion   string `json:"go_version"`
	OS          string `json:"os"`
	Arch        string `json:"arch"`
	CPUs        int    `json:"cpus"`
	LoadBefore  string `json:"load_average_before"` // 1, 5 and 15 minutes
	LoadAfter   string `json:"load_average_after"`
	ServerBuild string `json:"server_build"`

	// SpikeWaits are the delays in seconds after a spike at which memory
	// was sampled, when a spike scenario ran.
	SpikeWaits []float64 `json:"spike_waits_seconds,omitempty"`

	Requests    int               `json:"requests"`
	Warmup      int               `json:"warmup_requests"`
	Concurrency int               `json:"concurrency"`
	Rounds      int               `json:"rounds"`
	Seed        uint64            `json:"seed"`
	Modes       []string          `json:"modes"`
	Workloads   []string          `json:"workloads"`
	Described   map[string]string `json:"workload_descriptions"`
}

// measurement holds the figures of one server process under one workload.
type measurement struct {
	Mode     string `json:"mode"`
	Workload string `json:"workload"`
	Round    int    `json:"round"`
	PID      int    `json:"server_pid"`
	// Concurrency is the number of connections; Streams the requests in
	// flight on each h2c connection, 0 over HTTP/1.1.
	Concurrency int `json:"connections,omitempty"`
	Streams     int `json:"h2c_streams_per_connection,omitempty"`

	Requests     int    `json:"requests"`
	Errors       int    `json:"errors"`
	WarmupErrors int    `json:"warmup_errors"`
	FirstError   string `json:"first_error,omitempty"`

	Seconds    float64 `json:"seconds"`
	Throughput float64 `json:"throughput_rps"`
	Latency    latency `json:"latency"`

	// Server figures from /metrics, as differences over the measured
	// requests. AllocPerRequest has the cost of one scrape taken off.
	AllocPerRequest float64 `json:"alloc_bytes_per_request"`
	GCPer1000       float64 `json:"gc_cycles_per_1000_requests"`
	CPUPerRequestUs float64 `json:"cpu_us_per_request"`
	PoolGets        float64 `json:"pool_gets,omitempty"`
	PoolHits        float64 `json:"pool_hits,omitempty"`

	// Memory of the server process from /proc just before it stopped.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	RSSBytes     int64 `json:"rss_bytes"`

	ClientAllocPerRequest float64 `json:"client_alloc_bytes_per_request"`

	// Spike holds the figures of the spike of a spike-then-small scenario;
	// the other figures are then those of the small phase after it, but
	// for the peak RSS, which covers the spike.
	Spike *spikeFigures `json:"spike,omitempty"`
}

// Failed is the number of failed requests of the run, warm-up and spike
// included.
func (m measurement) Failed() int {
	n := m.Errors + m.WarmupErrors
	if m.Spike != nil {
		n += m.Spike.Errors
	}
	return n
}

// spikeFigures describe the spike of a spike-then-small run and the
// server's memory after it.
type spikeFigures struct {
	Requests   int     `json:"requests"`
	BodyBytes  int64   `json:"body_bytes"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Seconds    float64 `json:"seconds"`
	// After holds one sample per Config.SpikeWaits, in order.
	After []memorySample `json:"after"`
}

// memorySample is the server's memory some time after a spike ended.
type memorySample struct {
	AfterSeconds   float64 `json:"after_seconds"`
	RSSBytes       int64   `json:"rss_bytes"`        // VmRSS
	HeapInUseBytes float64 `json:"heap_inuse_bytes"` // go_memstats_heap_inuse_bytes
}
