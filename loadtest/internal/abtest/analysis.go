package abtest

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/bodypool/bodypool/internal/demo"
)

// Metric is one figure of a Measurement that the report compares.
type Metric struct {
	Key    string
	Name   string
	Unit   string
	Higher bool // higher is better
	Of     func(Measurement) float64
}

// Metrics are the compared figures, in report order.
var Metrics = []Metric{
	{"throughput", "Throughput", "req/s", true, func(m Measurement) float64 { return m.Throughput }},
	{"p50", "Latency p50", "ms", false, func(m Measurement) float64 { return m.Latency.P50 }},
	{"p99", "Latency p99", "ms", false, func(m Measurement) float64 { return m.Latency.P99 }},
	{"p99_9", "Latency p99.9", "ms", false, func(m Measurement) float64 { return m.Latency.P999 }},
	{"alloc", "Allocated bytes per request", "B/req", false, func(m Measurement) float64 { return m.AllocPerRequest }},
	{"gc", "GC cycles per 1,000 requests", "GC/1k req", false, func(m Measurement) float64 { return m.GCPer1000 }},
	{"peak_rss", "Peak RSS", "MiB", false, func(m Measurement) float64 { return float64(m.PeakRSSBytes) / MiB }},
	{"cpu", "Server CPU time per request", "µs/req", false, func(m Measurement) float64 { return m.CPUPerRequestUs }},
	{"rss_5s", "RSS 5 s after the spike", "MiB", false, afterSpike(0, false)},
	{"heap_5s", "Heap in use 5 s after the spike", "MiB", false, afterSpike(0, true)},
	{"rss_30s", "RSS 30 s after the spike", "MiB", false, afterSpike(1, false)},
	{"heap_30s", "Heap in use 30 s after the spike", "MiB", false, afterSpike(1, true)},
}

// afterSpike returns the figure of the memory sample i after a spike, in
// MiB: the heap in use or the RSS. It is NaN for a run without a spike,
// which the analysis leaves out. The metrics are named after the default
// waits of 5 and 30 s; Meta.SpikeWaits says which ran.
func afterSpike(i int, heap bool) func(Measurement) float64 {
	return func(m Measurement) float64 {
		if m.Spike == nil || len(m.Spike.After) <= i {
			return math.NaN()
		}
		if heap {
			return m.Spike.After[i].HeapInUseBytes / MiB
		}
		return float64(m.Spike.After[i].RSSBytes) / MiB
	}
}

// isSpikeMetric reports whether metric key is defined only for spike runs.
func isSpikeMetric(key string) bool {
	switch key {
	case "rss_5s", "heap_5s", "rss_30s", "heap_30s":
		return true
	}
	return false
}

// BestPeer names, as Target.Against, the better of the Peers in each
// round: the pool a user would pick instead of bodypool's.
const BestPeer = "best peer"

// Peers are the pools BestPeer chooses from.
var Peers = []string{demo.ModeCalibrated, demo.ModeSyncPool}

// MetricByKey returns the metric with key k; it panics on an unknown key,
// which only a mistake in this package can produce.
func MetricByKey(k string) Metric {
	for _, m := range Metrics {
		if m.Key == k {
			return m
		}
	}
	panic("abtest: unknown metric " + k)
}

// Spread is a figure over rounds: its minimum, median and maximum, and over
// how many rounds it was defined.
type Spread struct {
	Min    Figure `json:"min"`
	Median Figure `json:"median"`
	Max    Figure `json:"max"`
	N      int    `json:"n"`
}

// SpreadOf returns the spread of vs, ignoring NaNs.
func SpreadOf(vs []float64) Spread {
	s := Spread{Min: Figure(math.NaN()), Median: Figure(Median(vs)), Max: Figure(math.NaN())}
	for _, v := range vs {
		if math.IsNaN(v) {
			continue
		}
		if s.N == 0 || v < float64(s.Min) {
			s.Min = Figure(v)
		}
		if s.N == 0 || v > float64(s.Max) {
			s.Max = Figure(v)
		}
		s.N++
	}
	return s
}

// Ratio returns x/base, or NaN when base is not positive.
func Ratio(x, base float64) float64 {
	if base <= 0 || math.IsNaN(base) || math.IsNaN(x) {
		return math.NaN()
	}
	return x / base
}

// Summary is the analysis of Results: medians, ratios and verdicts.
type Summary struct {
	Workloads []WorkloadSummary `json:"workloads"`
	Verdicts  []Verdict         `json:"verdicts"`
	Met       int               `json:"targets_met"`
	Judged    int               `json:"targets_judged"`
}

// WorkloadSummary holds the figures of every mode under one workload.
type WorkloadSummary struct {
	Workload    string        `json:"workload"`
	Description string        `json:"description"`
	Modes       []ModeSummary `json:"modes"`
}

// ModeSummary holds one mode's figures under one workload: each metric over
// rounds, and its ratio to the baseline mode of the same round.
type ModeSummary struct {
	Mode   string `json:"mode"`
	Rounds int    `json:"rounds"`
	Errors int    `json:"errors"` // failed requests, warm-up included
	// Figures and Ratios are keyed by Metric.Key; Ratios is empty for the
	// baseline and when the baseline did not run. PeerRatios are the
	// ratios to BestPeer, empty for the baseline and when no peer ran.
	Figures    map[string]Spread `json:"figures"`
	Ratios     map[string]Spread `json:"ratios_to_baseline"`
	PeerRatios map[string]Spread `json:"ratios_to_best_peer,omitempty"`
	// HitRatio is the median share of pool gets served from idle memory,
	// NaN in the modes without the middleware.
	HitRatio    Figure `json:"pool_hit_ratio"`
	ClientAlloc Figure `json:"client_alloc_bytes_per_request"`
}

// Summarize analyses res: the figures of each mode and workload over
// rounds, their ratios to Baseline, and the verdicts on Targets.
func Summarize(res *Results) *Summary {
	s := &Summary{}
	for _, w := range res.Meta.Workloads {
		ws := WorkloadSummary{Workload: w, Description: res.Meta.Described[w]}
		for _, mode := range res.Meta.Modes {
			runs := measurements(res.Runs, w, mode)
			if len(runs) == 0 {
				continue
			}
			ms := ModeSummary{Mode: mode, Rounds: len(runs), Figures: map[string]Spread{}, Ratios: map[string]Spread{}, PeerRatios: map[string]Spread{}}
			var hits, client []float64
			for _, r := range runs {
				ms.Errors += r.Errors + r.WarmupErrors + r.spikeErrors()
				hits = append(hits, Ratio(r.PoolHits, r.PoolGets))
				client = append(client, r.ClientAllocPerRequest)
			}
			ms.HitRatio = Figure(Median(hits))
			ms.ClientAlloc = Figure(Median(client))
			for _, m := range Metrics {
				var vs []float64
				for _, r := range runs {
					vs = append(vs, m.Of(r))
				}
				ms.Figures[m.Key] = SpreadOf(vs)
				if mode != Baseline {
					if rs := PairedRatios(res.Runs, w, m, mode, Baseline); len(rs) > 0 {
						ms.Ratios[m.Key] = SpreadOf(rs)
					}
					if rs := PairedRatios(res.Runs, w, m, mode, BestPeer); len(rs) > 0 {
						ms.PeerRatios[m.Key] = SpreadOf(rs)
					}
				}
			}
			ws.Modes = append(ws.Modes, ms)
		}
		s.Workloads = append(s.Workloads, ws)
	}
	for _, t := range Targets {
		v := Evaluate(res, t)
		if v.Status == StatusNotRun {
			continue
		}
		s.Verdicts = append(s.Verdicts, v)
		s.Judged++
		if v.Status == StatusMet {
			s.Met++
		}
	}
	return s
}

// measurements returns the runs of one workload and mode, by round.
func measurements(runs []Measurement, workload, mode string) []Measurement {
	var out []Measurement
	for _, r := range runs {
		if r.Workload == workload && r.Mode == mode {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Measurement) int { return a.Round - b.Round })
	return out
}

// PairedRatios returns, for every round in which both ran, metric m of
// mode divided by that of against in the same round: runs of one round ran
// close together, so their ratio suffers less from drift of the machine
// than a ratio of medians would. Against may be BestPeer: the better
// figure of the Peers that ran in the round.
func PairedRatios(runs []Measurement, workload string, m Metric, mode, against string) []float64 {
	return pairedRatios(runs, workload, m, mode, against, 0)
}

// pairedRatios is PairedRatios with slack added to the figure compared
// with: x ÷ (against + slack).
func pairedRatios(runs []Measurement, workload string, m Metric, mode, against string, slack float64) []float64 {
	base := baselineByRound(runs, workload, m, against)
	var out []float64
	for _, r := range measurements(runs, workload, mode) {
		if b, ok := base[r.Round]; ok {
			out = append(out, Ratio(m.Of(r), b+slack))
		}
	}
	return out
}

// baselineByRound returns metric m of mode against in each round it ran;
// for BestPeer, the better of the peers' figures in each round (a mode
// is never its own peer).
func baselineByRound(runs []Measurement, workload string, m Metric, against string) map[int]float64 {
	base := map[int]float64{}
	if against != BestPeer {
		for _, r := range measurements(runs, workload, against) {
			base[r.Round] = m.Of(r)
		}
		return base
	}
	for _, peer := range Peers {
		for _, r := range measurements(runs, workload, peer) {
			v := m.Of(r)
			if math.IsNaN(v) {
				continue
			}
			if b, ok := base[r.Round]; !ok || (m.Higher && v > b) || (!m.Higher && v < b) {
				base[r.Round] = v
			}
		}
	}
	return base
}

// Target is a required ratio between two modes' figures. Against may be
// BestPeer. With Slack, the ratio is to Against's figure plus Slack (in
// the metric's unit): "at most off's figure + 64 MiB" is Slack 64 with
// Op "<=" and Limit 1.
type Target struct {
	Workload string  `json:"workload"`
	Metric   string  `json:"metric"` // a Metric.Key
	Mode     string  `json:"mode"`
	Against  string  `json:"against"`
	Op       string  `json:"op"` // "<=", ">=" or "<"
	Limit    float64 `json:"limit"`
	Slack    float64 `json:"slack,omitempty"`
}

// Holds reports whether ratio meets the target.
func (t Target) Holds(ratio float64) bool {
	switch t.Op {
	case "<=":
		return ratio <= t.Limit
	case ">=":
		return ratio >= t.Limit
	case "<":
		return ratio < t.Limit
	}
	return false
}

// String writes the target as the report states it.
func (t Target) String() string {
	op := map[string]string{"<=": "≤", ">=": "≥", "<": "<"}[t.Op]
	name := lowerFirst(MetricByKey(t.Metric).Name)
	if t.Op == "<" && t.Limit == 1 {
		return fmt.Sprintf("%s %s lower than %s (ratio < 1)", t.Mode, name, t.Against)
	}
	if t.Slack != 0 && t.Limit == 1 {
		unit := MetricByKey(t.Metric).Unit
		return fmt.Sprintf("%s %s %s %s + %g %s", t.Mode, name, op, t.Against, t.Slack, unit)
	}
	return fmt.Sprintf("%s/%s %s ratio %s %.2f", t.Mode, t.Against, name, op, t.Limit)
}

// lowerFirst lowers the first letter of a name for use inside a sentence,
// unless it starts an acronym (GC, RSS).
func lowerFirst(s string) string {
	if len(s) < 2 || unicode.IsUpper(rune(s[1])) {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// Targets are the goals of the sized mode: against no pool on bodies of
// 64 KiB and more, and against the other pools on the mixed workload.
var Targets = func() []Target {
	var ts []Target
	for _, w := range []string{"medium", "large", "mixed"} {
		ts = append(ts,
			Target{Workload: w, Metric: "alloc", Mode: "sized", Against: "off", Op: "<=", Limit: 0.10},
			Target{Workload: w, Metric: "gc", Mode: "sized", Against: "off", Op: "<=", Limit: 0.10},
			Target{Workload: w, Metric: "throughput", Mode: "sized", Against: "off", Op: ">=", Limit: 1.2},
			Target{Workload: w, Metric: "p99", Mode: "sized", Against: "off", Op: "<=", Limit: 1.0},
			Target{Workload: w, Metric: "peak_rss", Mode: "sized", Against: "off", Op: "<=", Limit: 1.0},
		)
	}
	for _, against := range []string{"calibrated", "syncpool"} {
		ts = append(ts,
			Target{Workload: "mixed", Metric: "alloc", Mode: "sized", Against: against, Op: "<", Limit: 1},
			Target{Workload: "mixed", Metric: "peak_rss", Mode: "sized", Against: against, Op: "<", Limit: 1},
		)
	}
	return append(ts, ScenarioTargets...)
}()

// MaxIdleMiB is the demo server's default -max-idle, which the S2 target
// on the heap after a spike allows on top of off's heap.
const MaxIdleMiB = bufpool.DefaultMaxIdleBytes >> 20

// ScenarioTargets are the targets of issue 14 on the scenarios S1 to S3.
// S2's "heap in use 5 s after the spike ≤ MaxIdleBytes + what is in
// flight" is judged as sized's heap at most off's heap, which holds what
// any mode holds besides its pool, plus the default MaxIdleBytes; nothing
// is in flight at the sample.
var ScenarioTargets = func() []Target {
	var ts []Target
	for _, w := range []string{"S1-c64", "S1-c256"} {
		ts = append(ts,
			Target{Workload: w, Metric: "throughput", Mode: "sized", Against: BestPeer, Op: ">=", Limit: 1.0},
			Target{Workload: w, Metric: "peak_rss", Mode: "sized", Against: Baseline, Op: "<=", Limit: 0.9},
			Target{Workload: w, Metric: "peak_rss", Mode: "sized", Against: "calibrated", Op: "<", Limit: 1},
			Target{Workload: w, Metric: "peak_rss", Mode: "sized", Against: "syncpool", Op: "<", Limit: 1},
			Target{Workload: w, Metric: "alloc", Mode: "sized", Against: Baseline, Op: "<=", Limit: 0.02},
		)
	}
	ts = append(ts,
		Target{Workload: "S2", Metric: "peak_rss", Mode: "sized", Against: "calibrated", Op: "<", Limit: 1},
		Target{Workload: "S2", Metric: "peak_rss", Mode: "sized", Against: "syncpool", Op: "<", Limit: 1},
		Target{Workload: "S2", Metric: "peak_rss", Mode: "sized", Against: Baseline, Op: "<=", Limit: 1.0},
		Target{Workload: "S2", Metric: "heap_5s", Mode: "sized", Against: Baseline, Op: "<=", Limit: 1, Slack: MaxIdleMiB},
		Target{Workload: "S2", Metric: "rss_30s", Mode: "sized", Against: Baseline, Op: "<=", Limit: 1.5},
		Target{Workload: "S3", Metric: "throughput", Mode: "sized", Against: Baseline, Op: ">=", Limit: 1.0},
		Target{Workload: "S3", Metric: "peak_rss", Mode: "sized", Against: Baseline, Op: "<=", Limit: 1.0},
	)
	return ts
}()

// Verdict statuses.
const (
	StatusMet    = "met"
	StatusMissed = "missed"
	StatusNotRun = "not run"
)

// Verdict is the outcome of one Target.
type Verdict struct {
	Target   Target `json:"target"`
	Ratio    Spread `json:"ratio"`    // over rounds
	Subject  Figure `json:"subject"`  // median figure of Target.Mode
	Baseline Figure `json:"baseline"` // median figure of Target.Against
	Status   string `json:"status"`
	Note     string `json:"note,omitempty"`
}

// Evaluate judges t on the median over rounds of the paired ratios. A
// target is missed when any run involved had a failed request, and it
// notes the rounds that disagree with the median.
func Evaluate(res *Results, t Target) Verdict {
	v := Verdict{Target: t, Status: StatusNotRun}
	m := MetricByKey(t.Metric)
	againstModes := []string{t.Against}
	if t.Against == BestPeer {
		againstModes = Peers
	}
	var against []Measurement
	for _, a := range againstModes {
		against = append(against, measurements(res.Runs, t.Workload, a)...)
	}
	subject := measurements(res.Runs, t.Workload, t.Mode)
	if len(subject) == 0 || len(against) == 0 {
		return v
	}
	var sv, av []float64
	errs := 0
	for _, r := range subject {
		sv = append(sv, m.Of(r))
		errs += r.Errors + r.WarmupErrors + r.spikeErrors()
	}
	for _, r := range against {
		errs += r.Errors + r.WarmupErrors + r.spikeErrors()
	}
	for _, b := range baselineByRound(res.Runs, t.Workload, m, t.Against) {
		av = append(av, b)
	}
	v.Subject, v.Baseline = Figure(Median(sv)), Figure(Median(av))
	ratios := pairedRatios(res.Runs, t.Workload, m, t.Mode, t.Against, t.Slack)
	v.Ratio = SpreadOf(ratios)
	switch {
	case errs > 0:
		v.Status, v.Note = StatusMissed, fmt.Sprintf("%d failed requests in these runs", errs)
		return v
	case v.Ratio.N == 0 && t.Op != ">=" && slices.Max(sv) == 0:
		// 0 of 0: nothing to be lower than, and nothing could be lower.
		v.Status, v.Note = StatusMet, fmt.Sprintf("%s was 0 in both modes", m.Name)
		return v
	case v.Ratio.N == 0:
		v.Status, v.Note = StatusMissed, "no ratio: the baseline figure was 0"
		return v
	}
	holds := 0
	for _, r := range ratios {
		if !math.IsNaN(r) && t.Holds(r) {
			holds++
		}
	}
	if t.Holds(float64(v.Ratio.Median)) {
		v.Status = StatusMet
		if holds < v.Ratio.N {
			v.Note = fmt.Sprintf("met by the median, missed in %d of %d rounds", v.Ratio.N-holds, v.Ratio.N)
		}
	} else {
		v.Status = StatusMissed
		if holds > 0 {
			v.Note = fmt.Sprintf("missed by the median, met in %d of %d rounds", holds, v.Ratio.N)
		}
	}
	return v
}
