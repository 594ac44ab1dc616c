package abtest

import (
	"fmt"
	"strings"
	"time"
)

// A scenario is one load shape of the comparison: a workload sent from a
// number of connections over HTTP/1.1 or HTTP/2 without TLS (h2c), or the
// spike-then-small sequence. Its Name keys its figures in Results, where
// measurement.Workload holds it, so the analysis treats a scenario as a
// workload of its own. The plain workloads run as scenarios of
// Config.Concurrency connections.
type scenario struct {
	Name        string
	Description string
	Workload    Workload
	// Conns is the number of connections. Over HTTP/1.1 each carries one
	// request at a time.
	Conns int
	// Streams is the number of requests in flight on each h2c connection;
	// 0 means HTTP/1.1. The server then runs with -h2c.
	Streams int
	// Requests is the number of measured requests; 0 takes Config.Requests.
	Requests int
	// Spike, when set, makes the scenario a spike then small: Spike's
	// SpikeRequests requests first (Config.SpikeRequests overrides them),
	// then the measured requests of Workload, then samples of the server's
	// memory at Config.SpikeWaits after the spike ended. The spike is sent
	// from connections of its own, as many as the scenario's.
	Spike         *Workload
	SpikeRequests int
}

// String returns the scenario's name.
func (s scenario) String() string { return s.Name }

// concurrency is the number of requests the scenario keeps in flight.
func (s scenario) concurrency() int { return s.Conns * max(s.Streams, 1) }

// Workloads of the scenarios beyond the named ones.
var (
	spikeWorkload = Workload{"spike", "4 MiB bodies", fixedSizes(4 * mib)}
	smallMix      = Workload{"smallmix", "log-uniform 512 B – 16 KiB", logUniformSizes(512, 16*kib)}
)

// Default waits of the spike scenario: memory is sampled this long after
// the last spike request was answered.
var defaultSpikeWaits = []time.Duration{5 * time.Second, 30 * time.Second}

// scenarios are the load scenarios of issue 14, in report order. Their
// names are what -scenarios takes.
var scenarios = func() []scenario {
	lu := workloads[len(workloads)-1] // loguniform
	var ss []scenario
	for _, c := range []int{8, 64, 256} {
		ss = append(ss, scenario{
			Name:        fmt.Sprintf("S1-c%d", c),
			Description: fmt.Sprintf("steady log-uniform mix 1 KiB – 1 MiB over HTTP/1.1, %d connections", c),
			Workload:    lu, Conns: c,
		})
	}
	return append(ss,
		scenario{
			Name: "S2",
			Description: "spike then small: 4 MiB bodies from 64 HTTP/1.1 connections, then log-uniform 512 B – 16 KiB " +
				"from 64 connections (throughput and latency of the small phase; memory sampled after the spike)",
			Workload: smallMix, Conns: 64, Requests: 20000, // small bodies: enough for a throughput figure
			Spike: &spikeWorkload, SpikeRequests: 512,
		},
		scenario{
			Name:        "S3",
			Description: "the log-uniform mix 1 KiB – 1 MiB over h2c, 16 connections × 16 concurrent streams",
			Workload:    lu, Conns: 16, Streams: 16,
		},
	)
}()

// LookupScenarios returns the scenarios named in a comma-separated list, in
// the order of the list. A name is a scenario's, or its prefix before the
// dash: S1 is S1-c8, S1-c64 and S1-c256. Case does not matter.
func LookupScenarios(names string) ([]scenario, error) {
	return lookup("scenario", names, scenarios, func(s scenario, name string) bool {
		prefix, _, _ := strings.Cut(s.Name, "-")
		return strings.EqualFold(s.Name, name) || strings.EqualFold(prefix, name)
	})
}
