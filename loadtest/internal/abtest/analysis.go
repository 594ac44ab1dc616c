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

// metric is one figure of a measurement that the report compares.
type metric struct {
	Key    string
	Name   string
	Unit   string
	Higher bool // higher is better
	Of     func(measurement) float64
}

// metrics are the compared figures, in report order.
var metrics = []metric{
	{"throughput", "Throughput", "req/s", true, func(m measurement) float64 { return m.Throughput }},
	{"p50", "Latency p50", "ms", false, func(m measurement) float64 { return m.Latency.P50 }},
	{"p99", "Latency p99", "ms", false, func(m measurement) float64 { return m.Latency.P99 }},
	{"p99_9", "Latency p99.9", "ms", false, func(m measurement) float64 { return m.Latency.P999 }},
	{"alloc", "Allocated bytes per request", "B/req", false, func(m measurement) float64 { return m.AllocPerRequest }},
	{"gc", "GC cycles per 1,000 requests", "GC/1k req", false, func(m measurement) float64 { return m.GCPer1000 }},
	{"peak_rss", "Peak RSS", "MiB", false, func(m measurement) float64 { return float64(m.PeakRSSBytes) / mib }},
	{"cpu", "Server CPU time per request", "µs/req", false, func(m measurement) float64 { return m.CPUPerRequestUs }},
	{"rss_5s", "RSS 5 s after the spike", "MiB", false, afterSpike(0, false)},
	{"heap_5s", "Heap in use 5 s after the spike", "MiB", false, afterSpike(0, true)},
	{"rss_30s", "RSS 30 s after the spike", "MiB", false, afterSpike(1, false)},
	{"heap_30s", "Heap in use 30 s after the spike", "MiB", false, afterSpike(1, true)},
}

// afterSpike returns the figure of the memory sample i after a spike, in
// MiB: the heap in use or the RSS. It is NaN for a run without a spike,
// which the analysis leaves out. The metrics are named after the default
// waits of 5 and 30 s; Meta.SpikeWaits says which ran.
func afterSpike(i int, heap bool) func(measurement) float64 {
	return func(m measurement) float64 {
		if m.Spike == nil || len(m.Spike.After) <= i {
			return math.NaN()
		}
		if heap {
			return m.Spike.After[i].HeapInUseBytes / mib
		}
		return float64(m.Spike.After[i].RSSBytes) / mib
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

// bestPeer names, as Target.Against, the better of the peers in each
// round: the pool a user would pick instead of bodypool's.
const bestPeer = "best peer"

// peers are the pools bestPeer chooses from.
var peers = []string{demo.ModeCalibrated, demo.ModeSyncPool}

// metricByKey returns the metric with key k; it panics on an unknown key,
// which only a mistake in this package can produce.
func metricByKey(k string) metric {
	for _, m := range metrics {
		if m.Key == k {
			return m
		}
	}
	panic("abtest: unknown metric " + k)
}

// spread is a figure over rounds: its minimum, median and maximum, and over
// how many rounds it was defined.
type spread struct {
	Min    figure `json:"min"`
	Median figure `json:"median"`
	Max    figure `json:"max"`
	N      int    `json:"n"`
}

// spreadOf returns the spread of vs, ignoring NaNs.
func spreadOf(vs []float64) spread {
	s := spread{Min: figure(math.NaN()), Median: figure(median(vs)), Max: figure(math.NaN())}
	for _, v := range vs {
		if math.IsNaN(v) {
			continue
		}
		if s.N == 0 || v < float64(s.Min) {
			s.Min = figure(v)
		}
		if s.N == 0 || v > float64(s.Max) {
			s.Max = figure(v)
		}
		s.N++
	}
	return s
}

// ratio returns x/base, or NaN when base is not positive.
func ratio(x, base float64) float64 {
	if base <= 0 || math.IsNaN(base) || math.IsNaN(x) {
		return math.NaN()
	}
	return x / base
}

// summary is the analysis of Results: medians, ratios and verdicts.
type summary struct {
	Workloads []workloadSummary `json:"workloads"`
	Verdicts  []verdict         `json:"verdicts"`
	Met       int               `json:"targets_met"`
	Judged    int               `json:"targets_judged"`
}

// workloadSummary holds the figures of every mode under one workload.
type workloadSummary struct {
	Workload    string        `json:"workload"`
	Description string        `json:"description"`
	Modes       []modeSummary `json:"modes"`
}

// modeSummary holds one mode's figures under one workload: each metric over
// rounds, and its ratio to the baseline mode of the same round.
type modeSummary struct {
	Mode   string `json:"mode"`
	Rounds int    `json:"rounds"`
	Errors int    `json:"errors"` // failed requests, warm-up included
	// Figures and Ratios are keyed by Metric.Key; Ratios is empty for the
	// baseline and when the baseline did not run. PeerRatios are the
	// ratios to bestPeer, empty for the baseline and when no peer ran.
	Figures    map[string]spread `json:"figures"`
	Ratios     map[string]spread `json:"ratios_to_baseline"`
	PeerRatios map[string]spread `json:"ratios_to_best_peer,omitempty"`
	// HitRatio is the median share of pool gets served from idle memory,
	// NaN in the modes without the middleware.
	HitRatio    figure `json:"pool_hit_ratio"`
	ClientAlloc figure `json:"client_alloc_bytes_per_request"`
}

// summarize analyses res: the figures of each mode and workload over
// rounds, their ratios to Baseline, and the verdicts on the targets.
func summarize(res *Results) *summary {
	s := &summary{}
	for _, w := range res.Meta.Workloads {
		ws := workloadSummary{Workload: w, Description: res.Meta.Described[w]}
		for _, mode := range res.Meta.Modes {
			runs := measurements(res.Runs, w, mode)
			if len(runs) == 0 {
				continue
			}
			ms := modeSummary{Mode: mode, Rounds: len(runs), Figures: map[string]spread{}, Ratios: map[string]spread{}, PeerRatios: map[string]spread{}}
			var hits, client []float64
			for _, r := range runs {
				ms.Errors += r.Errors + r.WarmupErrors + r.spikeErrors()
				hits = append(hits, ratio(r.PoolHits, r.PoolGets))
				client = append(client, r.ClientAllocPerRequest)
			}
			ms.HitRatio = figure(median(hits))
			ms.ClientAlloc = figure(median(client))
			for _, m := range metrics {
				var vs []float64
				for _, r := range runs {
					vs = append(vs, m.Of(r))
				}
				ms.Figures[m.Key] = spreadOf(vs)
				if mode != Baseline {
					if rs := pairedRatios(res.Runs, w, m, mode, Baseline); len(rs) > 0 {
						ms.Ratios[m.Key] = spreadOf(rs)
					}
					if rs := pairedRatios(res.Runs, w, m, mode, bestPeer); len(rs) > 0 {
						ms.PeerRatios[m.Key] = spreadOf(rs)
					}
				}
			}
			ws.Modes = append(ws.Modes, ms)
		}
		s.Workloads = append(s.Workloads, ws)
	}
	for _, t := range targets {
		v := evaluate(res, t)
		if v.Status == statusNotRun {
			continue
		}
		s.Verdicts = append(s.Verdicts, v)
		s.Judged++
		if v.Status == statusMet {
			s.Met++
		}
	}
	return s
}

// measurements returns the runs of one workload and mode, by round.
func measurements(runs []measurement, workload, mode string) []measurement {
	var out []measurement
	for _, r := range runs {
		if r.Workload == workload && r.Mode == mode {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b measurement) int { return a.Round - b.Round })
	return out
}

// pairedRatios returns, for every round in which both ran, metric m of
// mode divided by that of against in the same round: runs of one round ran
// close together, so their ratio suffers less from drift of the machine
// than a ratio of medians would. Against may be bestPeer: the better
// figure of the peers that ran in the round.
func pairedRatios(runs []measurement, workload string, m metric, mode, against string) []float64 {
	return slackRatios(runs, workload, m, mode, against, 0)
}

// slackRatios is pairedRatios with slack added to the figure compared
// with: x ÷ (against + slack).
func slackRatios(runs []measurement, workload string, m metric, mode, against string, slack float64) []float64 {
	base := baselineByRound(runs, workload, m, against)
	var out []float64
	for _, r := range measurements(runs, workload, mode) {
		if b, ok := base[r.Round]; ok {
			out = append(out, ratio(m.Of(r), b+slack))
		}
	}
	return out
}

// baselineByRound returns metric m of mode against in each round it ran;
// for bestPeer, the better of the peers' figures in each round (a mode
// is never its own peer).
func baselineByRound(runs []measurement, workload string, m metric, against string) map[int]float64 {
	base := map[int]float64{}
	if against != bestPeer {
		for _, r := range measurements(runs, workload, against) {
			base[r.Round] = m.Of(r)
		}
		return base
	}
	for _, peer := range peers {
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

// target is a required ratio between two modes' figures. Against may be
// bestPeer. With Slack, the ratio is to Against's figure plus Slack (in
// the metric's unit): "at most off's figure + 64 MiB" is Slack 64 with
// Op "<=" and Limit 1.
type target struct {
	Workload string  `json:"workload"`
	Metric   string  `json:"metric"` // a Metric.Key
	Mode     string  `json:"mode"`
	Against  string  `json:"against"`
	Op       string  `json:"op"` // "<=", ">=" or "<"
	Limit    float64 `json:"limit"`
	Slack    float64 `json:"slack,omitempty"`
}

// Holds reports whether ratio meets the target.
func (t target) Holds(ratio float64) bool {
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
func (t target) String() string {
	op := map[string]string{"<=": "≤", ">=": "≥", "<": "<"}[t.Op]
	name := lowerFirst(metricByKey(t.Metric).Name)
	if t.Op == "<" && t.Limit == 1 {
		return fmt.Sprintf("%s %s lower than %s (ratio < 1)", t.Mode, name, t.Against)
	}
	if t.Slack != 0 && t.Limit == 1 {
		unit := metricByKey(t.Metric).Unit
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

// targets are the goals of the sized mode: against no pool on bodies of
// 64 KiB and more, and against the other pools on the mixed workload.
var targets = func() []target {
	var ts []target
	for _, w := range []string{"medium", "large", "mixed"} {
		ts = append(ts,
			target{Workload: w, Metric: "alloc", Mode: "sized", Against: "off", Op: "<=", Limit: 0.10},
			target{Workload: w, Metric: "gc", Mode: "sized", Against: "off", Op: "<=", Limit: 0.10},
			target{Workload: w, Metric: "throughput", Mode: "sized", Against: "off", Op: ">=", Limit: 1.2},
			target{Workload: w, Metric: "p99", Mode: "sized", Against: "off", Op: "<=", Limit: 1.0},
			target{Workload: w, Metric: "peak_rss", Mode: "sized", Against: "off", Op: "<=", Limit: 1.0},
		)
	}
	for _, against := range []string{"calibrated", "syncpool"} {
		ts = append(ts,
			target{Workload: "mixed", Metric: "alloc", Mode: "sized", Against: against, Op: "<", Limit: 1},
			target{Workload: "mixed", Metric: "peak_rss", Mode: "sized", Against: against, Op: "<", Limit: 1},
		)
	}
	return append(ts, scenarioTargets...)
}()

// maxIdleMiB is the demo server's default -max-idle, which the S2 target
// on the heap after a spike allows on top of off's heap.
const maxIdleMiB = bufpool.DefaultMaxIdleBytes >> 20

// scenarioTargets are the targets of issue 14 on the scenarios S1 to S3.
// S2's "heap in use 5 s after the spike ≤ MaxIdleBytes + what is in
// flight" is judged as sized's heap at most off's heap, which holds what
// any mode holds besides its pool, plus the default MaxIdleBytes; nothing
// is in flight at the sample.
var scenarioTargets = func() []target {
	var ts []target
	for _, w := range []string{"S1-c64", "S1-c256"} {
		ts = append(ts,
			target{Workload: w, Metric: "throughput", Mode: "sized", Against: bestPeer, Op: ">=", Limit: 1.0},
			target{Workload: w, Metric: "peak_rss", Mode: "sized", Against: Baseline, Op: "<=", Limit: 0.9},
			target{Workload: w, Metric: "peak_rss", Mode: "sized", Against: "calibrated", Op: "<", Limit: 1},
			target{Workload: w, Metric: "peak_rss", Mode: "sized", Against: "syncpool", Op: "<", Limit: 1},
			target{Workload: w, Metric: "alloc", Mode: "sized", Against: Baseline, Op: "<=", Limit: 0.02},
		)
	}
	ts = append(ts,
		target{Workload: "S2", Metric: "peak_rss", Mode: "sized", Against: "calibrated", Op: "<", Limit: 1},
		target{Workload: "S2", Metric: "peak_rss", Mode: "sized", Against: "syncpool", Op: "<", Limit: 1},
		target{Workload: "S2", Metric: "peak_rss", Mode: "sized", Against: Baseline, Op: "<=", Limit: 1.0},
		target{Workload: "S2", Metric: "heap_5s", Mode: "sized", Against: Baseline, Op: "<=", Limit: 1, Slack: maxIdleMiB},
		target{Workload: "S2", Metric: "rss_30s", Mode: "sized", Against: Baseline, Op: "<=", Limit: 1.5},
		target{Workload: "S3", Metric: "throughput", Mode: "sized", Against: Baseline, Op: ">=", Limit: 1.0},
		target{Workload: "S3", Metric: "peak_rss", Mode: "sized", Against: Baseline, Op: "<=", Limit: 1.0},
	)
	return ts
}()

// Verdict statuses.
const (
	statusMet    = "met"
	statusMissed = "missed"
	statusNotRun = "not run"
)

// verdict is the outcome of one target.
type verdict struct {
	Target   target `json:"target"`
	Ratio    spread `json:"ratio"`    // over rounds
	Subject  figure `json:"subject"`  // median figure of Target.Mode
	Baseline figure `json:"baseline"` // median figure of Target.Against
	Status   string `json:"status"`
	Note     string `json:"note,omitempty"`
}

// evaluate judges t on the median over rounds of the paired ratios. A
// target is missed when any run involved had a failed request, and it
// notes the rounds that disagree with the median.
func evaluate(res *Results, t target) verdict {
	v := verdict{Target: t, Status: statusNotRun}
	m := metricByKey(t.Metric)
	againstModes := []string{t.Against}
	if t.Against == bestPeer {
		againstModes = peers
	}
	var against []measurement
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
	v.Subject, v.Baseline = figure(median(sv)), figure(median(av))
	ratios := slackRatios(res.Runs, t.Workload, m, t.Mode, t.Against, t.Slack)
	v.Ratio = spreadOf(ratios)
	switch {
	case errs > 0:
		v.Status, v.Note = statusMissed, fmt.Sprintf("%d failed requests in these runs", errs)
		return v
	case v.Ratio.N == 0 && t.Op != ">=" && slices.Max(sv) == 0:
		// 0 of 0: nothing to be lower than, and nothing could be lower.
		v.Status, v.Note = statusMet, fmt.Sprintf("%s was 0 in both modes", m.Name)
		return v
	case v.Ratio.N == 0:
		v.Status, v.Note = statusMissed, "no ratio: the baseline figure was 0"
		return v
	}
	holds := 0
	for _, r := range ratios {
		if !math.IsNaN(r) && t.Holds(r) {
			holds++
		}
	}
	if t.Holds(float64(v.Ratio.Median)) {
		v.Status = statusMet
		if holds < v.Ratio.N {
			v.Note = fmt.Sprintf("met by the median, missed in %d of %d rounds", v.Ratio.N-holds, v.Ratio.N)
		}
	} else {
		v.Status = statusMissed
		if holds > 0 {
			v.Note = fmt.Sprintf("missed by the median, met in %d of %d rounds", holds, v.Ratio.N)
		}
	}
	return v
}
