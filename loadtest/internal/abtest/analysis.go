package abtest

import (
	"fmt"
	"maps"
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
	Name   string // in sentences and targets
	Column string // the title of its table column and chart panel
	Unit   string
	Higher bool   // higher is better
	Tables string // the tables that show it: "all", "plain" or "spike" (those of spike scenarios)
	Format func(float64) string
	Of     func(measurement) float64 // NaN where the run has no such figure
}

// metrics are the compared figures, in report order.
var metrics = []metric{
	{"throughput", "Throughput", "req/s", "req/s", true, "all", fixed(0), func(m measurement) float64 { return m.Throughput }},
	{"p50", "Latency p50", "p50 ms", "ms", false, "plain", formatMillis, func(m measurement) float64 { return m.Latency.P50 }},
	{"p99", "Latency p99", "p99 ms", "ms", false, "all", formatMillis, func(m measurement) float64 { return m.Latency.P99 }},
	{"p99_9", "Latency p99.9", "p99.9 ms", "ms", false, "plain", formatMillis, func(m measurement) float64 { return m.Latency.P999 }},
	{"alloc", "Allocated bytes per request", "alloc/req", "B/req", false, "all", formatBytes, func(m measurement) float64 { return m.AllocPerRequest }},
	{"gc", "GC cycles per 1,000 requests", "GC/1k req", "GC/1k req", false, "plain", fixed(2), func(m measurement) float64 { return m.GCPer1000 }},
	{"peak_rss", "Peak RSS", "peak RSS MiB", "MiB", false, "all", fixed(1), func(m measurement) float64 { return float64(m.PeakRSSBytes) / mib }},
	{"cpu", "Server CPU time per request", "CPU µs/req", "µs/req", false, "plain", fixed(0), func(m measurement) float64 { return m.CPUPerRequestUs }},
	{"rss_5s", "RSS 5 s after the spike", "RSS +5 s MiB", "MiB", false, "spike", fixed(1), afterSpike(0, false)},
	{"heap_5s", "Heap in use 5 s after the spike", "heap +5 s MiB", "MiB", false, "spike", fixed(1), afterSpike(0, true)},
	{"rss_30s", "RSS 30 s after the spike", "RSS +30 s MiB", "MiB", false, "spike", fixed(1), afterSpike(1, false)},
	{"heap_30s", "Heap in use 30 s after the spike", "heap +30 s MiB", "MiB", false, "spike", fixed(1), afterSpike(1, true)},
}

// afterSpike returns the figure of the memory sample i after a spike, in
// MiB: the heap in use or the RSS. The metrics are named after the
// default waits of 5 and 30 s; Meta.SpikeWaits says which ran.
func afterSpike(i int, heap bool) func(measurement) float64 {
	return func(m measurement) float64 {
		switch {
		case m.Spike == nil || len(m.Spike.After) <= i:
			return math.NaN()
		case heap:
			return m.Spike.After[i].HeapInUseBytes / mib
		}
		return float64(m.Spike.After[i].RSSBytes) / mib
	}
}

// metricByKey returns the metric with key k; it panics on an unknown key,
// which only a mistake in this package can produce.
func metricByKey(k string) metric {
	i := slices.IndexFunc(metrics, func(m metric) bool { return m.Key == k })
	if i < 0 {
		panic("abtest: unknown metric " + k)
	}
	return metrics[i]
}

// format writes v in the metric's usual precision, "n/a" when it is not a
// number.
func (m metric) format(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	return m.Format(v)
}

// bestPeer names, as a target's Against, the better of the peers by its
// median over rounds, chosen per workload and metric: the pool a user would
// pick instead of bodypool's. Ratios are then taken to that peer's figure
// in each round. Taking the better of the two peers' figures in each round
// instead would compare sized with the maximum of two noisy samples: with
// peers this close, a bias of several percent against sized.
const bestPeer = "best peer"

// peers are the pools bestPeer chooses from.
var peers = []string{demo.ModeCalibrated, demo.ModeSyncPool}

// runsOf returns the runs of workload w in any of modes.
func runsOf(runs []measurement, w string, modes ...string) []measurement {
	var out []measurement
	for _, r := range runs {
		if r.Workload == w && slices.Contains(modes, r.Mode) {
			out = append(out, r)
		}
	}
	return out
}

// byRound returns metric m of mode under workload w in each round where it
// is a number; for bestPeer, those of the peer with the better median
// among the peers that ran.
func byRound(runs []measurement, w, mode string, m metric) map[int]float64 {
	if mode == bestPeer {
		var best map[int]float64
		var bestMedian float64
		for _, peer := range peers {
			figs := byRound(runs, w, peer, m)
			if len(figs) == 0 {
				continue // not run, or no figure: its median would be NaN
			}
			med := spreadOf(slices.Collect(maps.Values(figs))).Median
			if best == nil || (m.Higher && med > bestMedian) || (!m.Higher && med < bestMedian) {
				best, bestMedian = figs, med
			}
		}
		return best
	}
	out := map[int]float64{}
	for _, r := range runsOf(runs, w, mode) {
		if v := m.Of(r); !math.IsNaN(v) {
			out[r.Round] = v
		}
	}
	return out
}

// figures returns the spread over rounds of metric m of mode under w.
func figures(runs []measurement, w, mode string, m metric) spread {
	return spreadOf(slices.Collect(maps.Values(byRound(runs, w, mode, m))))
}

// ratios returns, by round, for every round in which both ran, metric m of
// mode divided by that of against in the same round plus slack: runs of
// one round ran close together, so their ratio suffers less from drift of
// the machine than a ratio of medians would. Against may be bestPeer.
func ratios(runs []measurement, w, mode, against string, m metric, slack float64) []float64 {
	base, subject := byRound(runs, w, against, m), byRound(runs, w, mode, m)
	var out []float64
	for _, round := range slices.Sorted(maps.Keys(subject)) {
		if b, ok := base[round]; ok {
			out = append(out, ratio(subject[round], b+slack))
		}
	}
	return out
}

// ratio returns x/base, or NaN when base is not positive.
func ratio(x, base float64) float64 {
	if !(base > 0) {
		return math.NaN()
	}
	return x / base
}

// spread is a figure over rounds: its minimum, median and maximum, and over
// how many rounds it was a number.
type spread struct {
	Min, Median, Max float64
	N                int
}

// spreadOf returns the spread of vs, ignoring NaNs; the median of an even
// count is the mean of the middle two, and all are NaN when N is 0.
func spreadOf(vs []float64) spread {
	s := slices.Sorted(slices.Values(slices.DeleteFunc(slices.Clone(vs), math.IsNaN)))
	if len(s) == 0 {
		return spread{math.NaN(), math.NaN(), math.NaN(), 0}
	}
	return spread{s[0], (s[(len(s)-1)/2] + s[len(s)/2]) / 2, s[len(s)-1], len(s)}
}

// target is a required ratio between two modes' figures. Against may be
// bestPeer. With Slack, the ratio is to Against's figure plus Slack (in
// the metric's unit): "at most off's figure + 8 MiB" is Slack 8 with
// Op "<=" and Limit 1.
type target struct {
	Workload string
	Metric   string // a metric.Key
	Mode     string
	Against  string
	Op       string // "<=", ">=" or "<"
	Limit    float64
	Slack    float64
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
	m := metricByKey(t.Metric)
	name := m.Name
	if !unicode.IsUpper(rune(name[1])) { // not an acronym (GC, RSS)
		name = strings.ToLower(name[:1]) + name[1:]
	}
	op := map[string]string{"<=": "≤", ">=": "≥", "<": "<"}[t.Op]
	switch {
	case t.Op == "<" && t.Limit == 1:
		return fmt.Sprintf("%s %s lower than %s (ratio < 1)", t.Mode, name, t.Against)
	case t.Slack != 0 && t.Limit == 1:
		return fmt.Sprintf("%s %s %s %s + %g %s", t.Mode, name, op, t.Against, t.Slack, m.Unit)
	}
	return fmt.Sprintf("%s/%s %s ratio %s %.2f", t.Mode, t.Against, name, op, t.Limit)
}

// maxIdleMiB is the demo server's default -max-idle, which the S2 target
// on the heap after a spike allows on top of off's heap.
const maxIdleMiB = bufpool.DefaultMaxIdleBytes >> 20

// targets are the goals of the sized mode: against no pool on bodies of
// 64 KiB and more, and against the other pools on the mixed workload; then
// those of issue 14 on the scenarios S1 to S3. S2's "heap in use 5 s after
// the spike ≤ MaxIdleBytes + what is in flight" is judged as sized's heap
// at most off's heap, which holds what any mode holds besides its pool,
// plus the default MaxIdleBytes; nothing is in flight at the sample.
var targets = func() []target {
	var ts []target
	add := func(w, metric, against, op string, limit float64) {
		ts = append(ts, target{Workload: w, Metric: metric, Mode: demo.ModeSized, Against: against, Op: op, Limit: limit})
	}
	for _, w := range []string{"medium", "large", "mixed"} {
		add(w, "alloc", Baseline, "<=", 0.10)
		add(w, "gc", Baseline, "<=", 0.10)
		add(w, "throughput", Baseline, ">=", 1.2)
		add(w, "p99", Baseline, "<=", 1.0)
		add(w, "peak_rss", Baseline, "<=", 1.0)
	}
	for _, peer := range peers {
		add("mixed", "alloc", peer, "<", 1)
		add("mixed", "peak_rss", peer, "<", 1)
	}
	for _, w := range []string{"S1-c64", "S1-c256"} {
		add(w, "throughput", bestPeer, ">=", 1.0)
		add(w, "peak_rss", Baseline, "<=", 0.9)
		add(w, "peak_rss", demo.ModeCalibrated, "<", 1)
		add(w, "peak_rss", demo.ModeSyncPool, "<", 1)
		add(w, "alloc", Baseline, "<=", 0.02)
	}
	add("S2", "peak_rss", demo.ModeCalibrated, "<", 1)
	add("S2", "peak_rss", demo.ModeSyncPool, "<", 1)
	add("S2", "peak_rss", Baseline, "<=", 1.0)
	add("S2", "heap_5s", Baseline, "<=", 1)
	ts[len(ts)-1].Slack = maxIdleMiB
	add("S2", "rss_30s", Baseline, "<=", 1.5)
	add("S3", "throughput", Baseline, ">=", 1.0)
	add("S3", "peak_rss", Baseline, "<=", 1.0)
	return ts
}()

// Verdict statuses.
const (
	StatusMet    = "met"
	StatusMissed = "missed"
	statusNotRun = "not run"
)

// A Verdict is the outcome of one target.
type Verdict struct {
	Target   target
	Ratio    spread  // over rounds
	Subject  float64 // median figure of Target.Mode
	Baseline float64 // median figure of Target.Against
	Status   string
	Note     string
}

// Verdicts judges every target whose workload and modes ran, in the order
// of the targets.
func Verdicts(res *Results) []Verdict {
	var out []Verdict
	for _, t := range targets {
		if v := evaluate(res.Runs, t); v.Status != statusNotRun {
			out = append(out, v)
		}
	}
	return out
}

// evaluate judges t on the median over rounds of the paired ratios. A
// target is missed when any run involved had a failed request, and it
// notes the rounds that disagree with the median.
func evaluate(runs []measurement, t target) Verdict {
	v := Verdict{Target: t, Status: statusNotRun}
	m := metricByKey(t.Metric)
	against := []string{t.Against}
	if t.Against == bestPeer {
		against = peers
	}
	subject, others := runsOf(runs, t.Workload, t.Mode), runsOf(runs, t.Workload, against...)
	if len(subject) == 0 || len(others) == 0 {
		return v
	}
	errs := 0
	for _, r := range append(subject, others...) {
		errs += r.Failed()
	}
	sv := figures(runs, t.Workload, t.Mode, m)
	v.Subject, v.Baseline = sv.Median, figures(runs, t.Workload, t.Against, m).Median
	rs := ratios(runs, t.Workload, t.Mode, t.Against, m, t.Slack)
	v.Ratio = spreadOf(rs)
	holds := 0
	for _, r := range rs {
		if t.Holds(r) {
			holds++
		}
	}
	switch {
	case errs > 0:
		v.Status, v.Note = StatusMissed, fmt.Sprintf("%d failed requests in these runs", errs)
	case v.Ratio.N == 0 && t.Op != ">=" && sv.Max == 0:
		// 0 of 0: nothing to be lower than, and nothing could be lower.
		v.Status, v.Note = StatusMet, fmt.Sprintf("%s was 0 in both modes", m.Name)
	case v.Ratio.N == 0:
		v.Status, v.Note = StatusMissed, "no ratio: the baseline figure was 0"
	case t.Holds(v.Ratio.Median):
		v.Status = StatusMet
		if holds < v.Ratio.N {
			v.Note = fmt.Sprintf("met by the median, missed in %d of %d rounds", v.Ratio.N-holds, v.Ratio.N)
		}
	default:
		v.Status = StatusMissed
		if holds > 0 {
			v.Note = fmt.Sprintf("missed by the median, met in %d of %d rounds", holds, v.Ratio.N)
		}
	}
	return v
}

// fixed returns a format of prec decimals.
func fixed(prec int) func(float64) string {
	return func(v float64) string { return fmt.Sprintf("%.*f", prec, v) }
}

// formatMillis writes a latency in ms: two decimals below 100 ms.
func formatMillis(v float64) string {
	if v >= 100 {
		return fixed(0)(v)
	}
	return fixed(2)(v)
}

// formatBytes writes a byte count with a binary unit.
func formatBytes(v float64) string {
	switch {
	case v >= 10*mib:
		return fmt.Sprintf("%.0f MiB", v/mib)
	case v >= mib:
		return fmt.Sprintf("%.2f MiB", v/mib)
	case v >= 10*kib:
		return fmt.Sprintf("%.0f KiB", v/kib)
	case v >= kib:
		return fmt.Sprintf("%.1f KiB", v/kib)
	}
	return fmt.Sprintf("%.0f B", v)
}
