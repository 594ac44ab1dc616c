package metrics

import (
	"math/bits"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bodypool/bodypool/bufpool"
)

// oversizeBand is the band and class label of the oversize pseudo-class: the
// buffers of Gets beyond the pool's MaxSize. Its bound is infinite as that
// of the last bucket of a histogram is.
const oversizeBand = "+Inf"

// The reason labels of bufpool_drops_total, one per field of bufpool.Drops.
const (
	dropOversize  = "oversize"
	dropUndersize = "undersize"
	dropDetached  = "detached"
)

// PoolCollectorConfig configures NewPoolCollectorWithConfig. Its zero value
// gives the default exposition, the one NewPoolCollector reports.
type PoolCollectorConfig struct {
	// PerClass reports one series per size class rather than per size
	// band: the per-band counters and bufpool_releases_total,
	// bufpool_weak_releases_total, bufpool_evictions_total,
	// bufpool_idle_buffers and
	// bufpool_drops_total gain the label class. It multiplies the series
	// of a default pool by about ten (some 600), so it is meant for tuning
	// a pool's classes on one instance, not for a fleet. Default false.
	PerClass bool
}

// poolCollector turns one pool's Stats into const metrics at scrape time.
type poolCollector struct {
	stats    func() bufpool.Stats
	perClass bool

	// Per band (and class with perClass).
	gets, hits, misses *prometheus.Desc
	// Per pool (per band and class with perClass; drops also by reason).
	releases, weakReleases, drops, evictions, decays, lends, idleBuffers *prometheus.Desc
	// Per pool.
	oversizeGets, inUseBytes, idleBytes, maxIdleBytes *prometheus.Desc
	weakIdleBytes, letGoBytes, forcedCollections      *prometheus.Desc
	budgetWaits, budgetRejections                     *prometheus.Desc
	budgetBytes, budgetUsedBytes, budgetWaiters       *prometheus.Desc

	descs []*prometheus.Desc // all of the above, for Describe
}

// NewPoolCollector returns a prometheus.Collector for the buffer pool named
// pool, whose statistics stats returns; pass the pool's Stats method. It is
// NewPoolCollectorWithConfig with the zero PoolCollectorConfig.
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
//   - counters bufpool_gets_total, bufpool_hits_total and
//     bufpool_misses_total per size band: label band is a power of two in
//     decimal, and the band B holds the classes of size in (B/2, B] (the
//     smallest band also those below), or "+Inf" for the buffers of Gets
//     beyond MaxSize. A band is a doubling, so the hit ratio of each part of
//     the size range stays visible while a default pool (512 B to 4 MiB)
//     has 15 bands rather than 53 classes;
//   - counters bufpool_releases_total, bufpool_weak_releases_total
//     (releases that found MaxIdleBytes reached, kept weakly until the
//     next collection), bufpool_evictions_total (idle
//     buffers the garbage collector reclaimed), bufpool_decays_total (idle
//     buffers let go after IdleTimeout unused) and bufpool_lends_total (hits
//     served with a larger class's idle buffer), and the gauge
//     bufpool_idle_buffers, over the whole pool;
//   - counter bufpool_drops_total by reason: "oversize", "undersize" or
//     "detached", as in bufpool.Drops;
//   - counter bufpool_oversize_gets_total, and gauges bufpool_in_use_bytes
//     and bufpool_idle_bytes (capacity checked out and kept idle, over all
//     classes), bufpool_max_idle_bytes (the pool's MaxIdleBytes),
//     bufpool_idle_weak_bytes (the part of bufpool_idle_bytes kept weakly,
//     beyond MaxIdleBytes) and bufpool_let_go_bytes (capacity dropped or
//     decayed since the last
//     collection the pool forced), and counter
//     bufpool_forced_collections_total;
//   - counters bufpool_budget_waits_total and bufpool_budget_rejections_total
//     (zero without a budget) and, only for a pool with an in-use budget,
//     gauges bufpool_budget_bytes (MaxInUseBytes), bufpool_budget_used_bytes
//     and bufpool_budget_waiters.
//
// Every band and every drop reason is reported from the first scrape on,
// zero or not, so that rate() and increase() see each series start at zero.
// A default pool is 63 series, 66 with a budget: at most 80, so that a
// fleet of hundreds of instances stays cheap to scrape and store.
// Aggregations that sum over band (sum by (pool)) read the same whatever
// the configuration, per class or not.
//
// NewPoolCollector panics if stats is nil.
func NewPoolCollector(pool string, stats func() bufpool.Stats) prometheus.Collector {
	return NewPoolCollectorWithConfig(pool, stats, PoolCollectorConfig{})
}

// NewPoolCollectorWithConfig is NewPoolCollector configured by cfg. With
// cfg.PerClass, the series of bufpool_gets_total, bufpool_hits_total,
// bufpool_misses_total, bufpool_releases_total,
// bufpool_weak_releases_total, bufpool_evictions_total,
// bufpool_decays_total, bufpool_lends_total and bufpool_idle_buffers are
// per size class, with the labels band (as above)
// and class (the class size in bytes in decimal, or "+Inf"), and those of
// bufpool_drops_total per class and reason. Gets, hits, misses, releases,
// drops and evictions count buffers by the class they were taken from, idle
// buffers by the class they were filed in, as in bufpool.ClassStats.
//
// NewPoolCollectorWithConfig panics if stats is nil.
func NewPoolCollectorWithConfig(pool string, stats func() bufpool.Stats, cfg PoolCollectorConfig) prometheus.Collector {
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
	// Labels of the per-band figures, and of those that are per pool unless
	// per class.
	banded, pooled := []string{"band"}, []string(nil)
	if cfg.PerClass {
		banded = []string{"band", "class"}
		pooled = banded
	}
	c := &poolCollector{
		stats:    stats,
		perClass: cfg.PerClass,

		gets:         desc("bufpool_gets_total", "Buffers handed out by the pool, by size band.", banded...),
		hits:         desc("bufpool_hits_total", "Buffers handed out from idle memory, by size band.", banded...),
		misses:       desc("bufpool_misses_total", "Buffers handed out from a new allocation, by size band.", banded...),
		releases:     desc("bufpool_releases_total", "Buffers released and kept idle.", pooled...),
		weakReleases: desc("bufpool_weak_releases_total", "Buffers released while MaxIdleBytes was reached, kept weakly: reused if asked for before the next collection, else reclaimed by it.", pooled...),
		drops:        desc("bufpool_drops_total", "Buffers released or detached and not kept, by reason.", append(pooled, "reason")...),
		evictions:    desc("bufpool_evictions_total", "Idle buffers reclaimed by the garbage collector.", pooled...),
		decays:       desc("bufpool_decays_total", "Idle buffers let go after IdleTimeout unused.", pooled...),
		lends:        desc("bufpool_lends_total", "Hits served with an idle buffer of a larger class, lent to a smaller one.", pooled...),
		idleBuffers:  desc("bufpool_idle_buffers", "Buffers kept idle.", pooled...),

		oversizeGets: desc("bufpool_oversize_gets_total", "Gets beyond the largest size class, served by exact allocations never kept."),
		inUseBytes:   desc("bufpool_in_use_bytes", "Capacity of the buffers checked out of the pool."),
		idleBytes:    desc("bufpool_idle_bytes", "Capacity of the buffers the pool keeps idle."),
		maxIdleBytes: desc("bufpool_max_idle_bytes", "Bound on the capacity the pool keeps idle (MaxIdleBytes)."),

		weakIdleBytes:     desc("bufpool_idle_weak_bytes", "Capacity of the idle buffers kept weakly, beyond MaxIdleBytes: part of bufpool_idle_bytes that the next collection reclaims unless reused."),
		letGoBytes:        desc("bufpool_let_go_bytes", "Capacity dropped or decayed since the pool last forced a collection: garbage not necessarily collected yet."),
		forcedCollections: desc("bufpool_forced_collections_total", "Collections the pool forced to return memory it let go to the operating system."),

		budgetWaits:      desc("bufpool_budget_waits_total", "Acquire and Reserve calls that waited for the in-use budget."),
		budgetRejections: desc("bufpool_budget_rejections_total", "Acquire and Reserve calls that failed with ErrBudgetExceeded."),
		budgetBytes:      desc("bufpool_budget_bytes", "The in-use budget (MaxInUseBytes); reported only for a pool with a budget."),
		budgetUsedBytes:  desc("bufpool_budget_used_bytes", "Bytes of the in-use budget taken now, including reservations."),
		budgetWaiters:    desc("bufpool_budget_waiters", "Callers waiting for the in-use budget now."),
	}
	c.descs = descs
	return c
}

// band returns the band label of a class of size bytes: the smallest power
// of two at or above size, in decimal, or "+Inf" for size 0, the oversize
// pseudo-class of bufpool.Stats.
func band(size int) string {
	if size <= 0 {
		return oversizeBand
	}
	return strconv.FormatUint(1<<bits.Len(uint(size-1)), 10)
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
	if c.perClass {
		for _, cs := range st.Classes {
			c.collectClass(ch, &cs, band(cs.Size), strconv.Itoa(cs.Size))
		}
		c.collectClass(ch, &st.Oversize, oversizeBand, oversizeBand)
	} else {
		c.collectBands(ch, &st)
		c.collectPooled(ch, &st.Total)
	}

	counter(ch, c.oversizeGets, st.Oversize.Gets)
	gauge(ch, c.inUseBytes, st.Total.InUseBytes)
	gauge(ch, c.idleBytes, st.Total.IdleBytes)
	gauge(ch, c.maxIdleBytes, st.MaxIdleBytes)
	gauge(ch, c.weakIdleBytes, st.Total.WeakIdleBytes)
	gauge(ch, c.letGoBytes, st.LetGoBytes)
	counter(ch, c.forcedCollections, st.ForcedCollections)
	counter(ch, c.budgetWaits, st.BudgetWaits)
	counter(ch, c.budgetRejections, st.BudgetRejections)
	if st.MaxInUseBytes > 0 {
		gauge(ch, c.budgetBytes, st.MaxInUseBytes)
		gauge(ch, c.budgetUsedBytes, st.BudgetUsedBytes)
		gauge(ch, c.budgetWaiters, int64(st.BudgetWaiting))
	}
}

// collectBands sends gets, hits and misses summed over the classes of each
// band. Classes come in increasing size, so a band's classes are adjacent.
func (c *poolCollector) collectBands(ch chan<- prometheus.Metric, st *bufpool.Stats) {
	var gets, hits, misses uint64
	for i, cs := range st.Classes {
		gets, hits, misses = gets+cs.Gets, hits+cs.Hits, misses+cs.Misses
		b := band(cs.Size)
		if i+1 < len(st.Classes) && band(st.Classes[i+1].Size) == b {
			continue
		}
		c.collectHits(ch, gets, hits, misses, b)
		gets, hits, misses = 0, 0, 0
	}
	o := &st.Oversize
	c.collectHits(ch, o.Gets, o.Hits, o.Misses, oversizeBand)
}

func (c *poolCollector) collectHits(ch chan<- prometheus.Metric, gets, hits, misses uint64, labels ...string) {
	counter(ch, c.gets, gets, labels...)
	counter(ch, c.hits, hits, labels...)
	counter(ch, c.misses, misses, labels...)
}

// collectPooled sends the releases, weak releases, drops, evictions, decays, lends and idle
// buffers of cs (a class, or the pool's total) with the given labels.
func (c *poolCollector) collectPooled(ch chan<- prometheus.Metric, cs *bufpool.ClassStats, labels ...string) {
	counter(ch, c.releases, cs.Releases, labels...)
	counter(ch, c.weakReleases, cs.WeakReleases, labels...)
	for _, d := range []struct {
		reason string
		n      uint64
	}{
		{dropOversize, cs.Drops.Oversize},
		{dropUndersize, cs.Drops.Undersize},
		{dropDetached, cs.Drops.Detached},
	} {
		counter(ch, c.drops, d.n, append(labels[:len(labels):len(labels)], d.reason)...)
	}
	counter(ch, c.evictions, cs.Evicted, labels...)
	counter(ch, c.decays, cs.Decayed, labels...)
	counter(ch, c.lends, cs.Lent, labels...)
	gauge(ch, c.idleBuffers, cs.Idle, labels...)
}

func (c *poolCollector) collectClass(ch chan<- prometheus.Metric, cs *bufpool.ClassStats, band, class string) {
	c.collectHits(ch, cs.Gets, cs.Hits, cs.Misses, band, class)
	c.collectPooled(ch, cs, band, class)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v int64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
}
