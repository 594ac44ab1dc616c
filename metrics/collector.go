package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bodypool/bodypool/bufpool"
)

// oversizeClass is the class label of the oversize pseudo-class: the
// buffers of Gets beyond the pool's MaxSize. Its bound is infinite as that
// of the last bucket of a histogram is.
const oversizeClass = "+Inf"

// The reason labels of bufpool_drops_total, one per field of bufpool.Drops.
const (
	dropOversize  = "oversize"
	dropUndersize = "undersize"
	dropIdleFull  = "idle_full"
	dropDetached  = "detached"
)

// poolCollector turns one pool's Stats into const metrics at scrape time.
type poolCollector struct {
	stats func() bufpool.Stats

	// Per class: variable label class (and reason for drops).
	gets, hits, misses, releases, drops, evictions, idleBuffers *prometheus.Desc
	// Per pool.
	oversizeGets, inUseBytes, idleBytes, maxIdleBytes *prometheus.Desc
	budgetWaits, budgetRejections                     *prometheus.Desc
	budgetBytes, budgetUsedBytes, budgetWaiters       *prometheus.Desc

	descs []*prometheus.Desc // all of the above, for Describe
}

// NewPoolCollector returns a prometheus.Collector for the buffer pool named
// pool, whose statistics stats returns; pass the pool's Stats method.
//
// Make one collector per pool: the const label pool tells the pools apart,
// so collectors with different names register side by side on one
// registry, while a second collector with the same name is refused as a
// duplicate (prometheus.AlreadyRegisteredError). A collector holds no state
// of its own and may be registered on any number of registries.
//
// The collector calls stats once per scrape and turns the snapshot into
// const metrics, so the pool's Get and Release pay nothing for being
// observed. It reports, with the const label pool:
//
//   - counters bufpool_gets_total, bufpool_hits_total, bufpool_misses_total,
//     bufpool_releases_total and bufpool_evictions_total (idle buffers the
//     garbage collector reclaimed), and the gauge bufpool_idle_buffers, per
//     size class: label class is the class size in bytes in decimal, or
//     "+Inf" for the buffers of Gets beyond MaxSize;
//   - counter bufpool_drops_total per class and reason: "oversize",
//     "undersize", "idle_full" or "detached", as in bufpool.Drops;
//   - counter bufpool_oversize_gets_total, and gauges bufpool_in_use_bytes
//     and bufpool_idle_bytes (capacity checked out and kept idle, over all
//     classes) and bufpool_max_idle_bytes (the pool's MaxIdleBytes);
//   - counters bufpool_budget_waits_total and bufpool_budget_rejections_total
//     (zero without a budget) and, only for a pool with an in-use budget,
//     gauges bufpool_budget_bytes (MaxInUseBytes), bufpool_budget_used_bytes
//     and bufpool_budget_waiters.
//
// Every class and every drop reason is reported from the first scrape on,
// zero or not, so that rate() and increase() see each series start at zero.
// With the default pool configuration (53 classes) that is about 550
// series per pool.
//
// NewPoolCollector panics if stats is nil.
func NewPoolCollector(pool string, stats func() bufpool.Stats) prometheus.Collector {
	if stats == nil {
		panic("metrics: NewPoolCollector with a nil stats function")
	}
	labels := prometheus.Labels{"pool": pool}
	var descs []*prometheus.Desc
	desc := func(name, help string, variable ...string) *prometheus.Desc {
		d := prometheus.NewDesc(name, help, variable, labels)
		descs = append(descs, d)
		return d
	}
	c := &poolCollector{
		stats: stats,

		gets:        desc("bufpool_gets_total", "Buffers handed out by the pool, by size class.", "class"),
		hits:        desc("bufpool_hits_total", "Buffers handed out from idle memory, by size class.", "class"),
		misses:      desc("bufpool_misses_total", "Buffers handed out from a new allocation, by size class.", "class"),
		releases:    desc("bufpool_releases_total", "Buffers released and kept idle, by size class taken from.", "class"),
		drops:       desc("bufpool_drops_total", "Buffers released or detached and not kept, by size class taken from and reason.", "class", "reason"),
		evictions:   desc("bufpool_evictions_total", "Idle buffers reclaimed by the garbage collector, by size class.", "class"),
		idleBuffers: desc("bufpool_idle_buffers", "Buffers kept idle, by size class filed in.", "class"),

		oversizeGets: desc("bufpool_oversize_gets_total", "Gets beyond the largest size class, served by exact allocations never kept."),
		inUseBytes:   desc("bufpool_in_use_bytes", "Capacity of the buffers checked out of the pool."),
		idleBytes:    desc("bufpool_idle_bytes", "Capacity of the buffers the pool keeps idle."),
		maxIdleBytes: desc("bufpool_max_idle_bytes", "Bound on the capacity the pool keeps idle (MaxIdleBytes)."),

		budgetWaits:      desc("bufpool_budget_waits_total", "Acquire and Reserve calls that waited for the in-use budget."),
		budgetRejections: desc("bufpool_budget_rejections_total", "Acquire and Reserve calls that failed with ErrBudgetExceeded."),
		budgetBytes:      desc("bufpool_budget_bytes", "The in-use budget (MaxInUseBytes); reported only for a pool with a budget."),
		budgetUsedBytes:  desc("bufpool_budget_used_bytes", "Bytes of the in-use budget taken now, including reservations."),
		budgetWaiters:    desc("bufpool_budget_waiters", "Callers waiting for the in-use budget now."),
	}
	c.descs = descs
	return c
}

// Describe sends the descriptors of every metric the collector may report.
func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect takes one snapshot of the pool's statistics and sends it as const
// metrics.
func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	for _, cs := range st.Classes {
		c.collectClass(ch, strconv.Itoa(cs.Size), &cs)
	}
	c.collectClass(ch, oversizeClass, &st.Oversize)

	counter(ch, c.oversizeGets, st.Oversize.Gets)
	gauge(ch, c.inUseBytes, st.Total.InUseBytes)
	gauge(ch, c.idleBytes, st.Total.IdleBytes)
	gauge(ch, c.maxIdleBytes, st.MaxIdleBytes)
	counter(ch, c.budgetWaits, st.BudgetWaits)
	counter(ch, c.budgetRejections, st.BudgetRejections)
	if st.MaxInUseBytes > 0 {
		gauge(ch, c.budgetBytes, st.MaxInUseBytes)
		gauge(ch, c.budgetUsedBytes, st.BudgetUsedBytes)
		gauge(ch, c.budgetWaiters, int64(st.BudgetWaiting))
	}
}

func (c *poolCollector) collectClass(ch chan<- prometheus.Metric, class string, cs *bufpool.ClassStats) {
	counter(ch, c.gets, cs.Gets, class)
	counter(ch, c.hits, cs.Hits, class)
	counter(ch, c.misses, cs.Misses, class)
	counter(ch, c.releases, cs.Releases, class)
	counter(ch, c.drops, cs.Drops.Oversize, class, dropOversize)
	counter(ch, c.drops, cs.Drops.Undersize, class, dropUndersize)
	counter(ch, c.drops, cs.Drops.IdleFull, class, dropIdleFull)
	counter(ch, c.drops, cs.Drops.Detached, class, dropDetached)
	counter(ch, c.evictions, cs.Evicted, class)
	gauge(ch, c.idleBuffers, cs.Idle, class)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v int64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
}
