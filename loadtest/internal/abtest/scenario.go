package abtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// A Scenario is one load shape of the comparison: a distribution of body
// sizes sent to POST /echo from a number of connections, over HTTP/1.1 or
// HTTP/2 without TLS (h2c), optionally after a spike of large bodies. Its
// Name keys its figures in Results (measurement.Workload holds it). The
// plain workloads are the scenarios that leave Conns to
// Config.Concurrency.
type Scenario struct {
	Name        string
	Description string
	// Size draws the size of one request body.
	Size func(*rand.Rand) int
	// Conns is the number of connections; 0 takes Config.Concurrency. Over
	// HTTP/1.1 each carries one request at a time.
	Conns int
	// Streams is the number of requests in flight on each h2c connection;
	// 0 means HTTP/1.1. The server then runs with -h2c.
	Streams int
	// Requests is the number of measured requests; 0 takes Config.Requests.
	Requests int
	// Spike, when set, makes the scenario a spike then small: SpikeRequests
	// bodies drawn by Spike first (Config.SpikeRequests overrides their
	// number), then the measured requests, then samples of the server's
	// memory at Config.SpikeWaits after the spike ended. The spike is sent
	// from connections of its own, as many as the scenario's.
	Spike         func(*rand.Rand) int
	SpikeRequests int
}

// String returns the scenario's name.
func (s Scenario) String() string { return s.Name }

// concurrency is the number of requests the scenario keeps in flight.
func (s Scenario) concurrency() int { return s.Conns * max(s.Streams, 1) }

// Size constants of the workloads.
const (
	kib = 1 << 10
	mib = 1 << 20
)

// Default waits of the spike scenario: memory is sampled this long after
// the last spike request was answered.
var defaultSpikeWaits = []time.Duration{5 * time.Second, 30 * time.Second}

// scenarios are the workloads and the load scenarios of issue 14, in
// report order. Their names are what -workloads and -scenarios take.
var scenarios = func() []Scenario {
	logUniform := logUniformSize(1*kib, 1*mib)
	ss := []Scenario{
		{Name: "small", Description: "1 KiB bodies", Size: fixedSize(1 * kib)},
		{Name: "medium", Description: "64 KiB bodies", Size: fixedSize(64 * kib)},
		{Name: "large", Description: "1 MiB bodies", Size: fixedSize(1 * mib)},
		{Name: "mixed", Description: "60% 1 KiB, 25% 16–64 KiB, 12% 256 KiB, 3% 1 MiB", Size: mixedSize},
		{Name: "loguniform", Description: "log-uniform 1 KiB – 1 MiB", Size: logUniform},
	}
	for _, c := range []int{8, 64, 256} {
		ss = append(ss, Scenario{
			Name:        fmt.Sprintf("S1-c%d", c),
			Description: fmt.Sprintf("steady log-uniform mix 1 KiB – 1 MiB over HTTP/1.1, %d connections", c),
			Size:        logUniform, Conns: c,
		})
	}
	return append(ss,
		Scenario{
			Name: "S2",
			Description: "spike then small: 4 MiB bodies from 64 HTTP/1.1 connections, then log-uniform 512 B – 16 KiB " +
				"from 64 connections (throughput and latency of the small phase; memory sampled after the spike)",
			Size: logUniformSize(512, 16*kib), Conns: 64, Requests: 20000, // small bodies: enough for a throughput figure
			Spike: fixedSize(4 * mib), SpikeRequests: 512,
		},
		Scenario{
			Name:        "S3",
			Description: "the log-uniform mix 1 KiB – 1 MiB over h2c, 16 connections × 16 concurrent streams",
			Size:        logUniform, Conns: 16, Streams: 16,
		},
	)
}()

func fixedSize(size int) func(*rand.Rand) int {
	return func(*rand.Rand) int { return size }
}

// mixedSize draws from a body-size mix with a long tail: mostly small
// API bodies, some tens of kilobytes, a few uploads of 256 KiB and 1 MiB.
func mixedSize(r *rand.Rand) int {
	switch p := r.IntN(100); {
	case p < 60:
		return 1 * kib
	case p < 85:
		return 16*kib + r.IntN(48*kib+1)
	case p < 97:
		return 256 * kib
	}
	return 1 * mib
}

// logUniformSize draws sizes from lo to hi bytes, uniform in their
// logarithm: as many bodies between 1 and 2 KiB as between 512 KiB and
// 1 MiB, so every size class of a pool is asked for about equally often.
func logUniformSize(lo, hi int) func(*rand.Rand) int {
	ratio := math.Log(float64(hi) / float64(lo))
	return func(r *rand.Rand) int {
		return min(hi, max(lo, int(float64(lo)*math.Exp(r.Float64()*ratio))))
	}
}

// LookupScenarios returns the scenarios named in a comma-separated list, in
// the order of the list. A name is a scenario's, or its prefix before the
// dash: S1 is S1-c8, S1-c64 and S1-c256. Case does not matter. A name that
// matches none is an error that lists the known ones.
func LookupScenarios(names string) ([]Scenario, error) {
	var out []Scenario
	for name := range strings.SplitSeq(names, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		n := len(out)
		for _, s := range scenarios {
			if prefix, _, _ := strings.Cut(s.Name, "-"); strings.EqualFold(s.Name, name) || strings.EqualFold(prefix, name) {
				out = append(out, s)
			}
		}
		if len(out) == n {
			return nil, fmt.Errorf("unknown scenario %q: want some of %v", name, scenarios)
		}
	}
	return out, nil
}
