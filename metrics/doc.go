// Package metrics exports the statistics of bufpool pools and of the
// bodypool HTTP middleware as Prometheus metrics.
//
// Package bufpool counts everything a Pool does (gets, hits, misses,
// releases, drops by reason, bytes in use and idle) but depends on nothing:
// this package is the bridge, so that only programs that import it depend on
// the Prometheus client. NewPoolCollector reads a pool's Stats once per
// scrape and reports it as const metrics, so observing a pool costs its Get
// and Release nothing; a BodyCollector counts the bodies the middleware handles with
// metrics resolved up front, so that recording a request allocates nothing.
//
// Typical use, one collector per pool, told apart by the pool label:
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(metrics.NewPoolCollector("uploads", pool.Stats))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// and, for the middleware, a BodyCollector registered the same way:
//
//	obs := metrics.NewBodyCollector()
//	reg.MustRegister(obs) // and middleware.Config{Observer: obs}
//
// The exposition is sized for fleets: a pool with the default configuration
// is 63 series (66 with a budget), its hit/miss picture kept per size band
// (a doubling of sizes) and its drops per reason; the per-class detail is
// the option PoolCollectorConfig.PerClass, for tuning one instance.
//
// All metric names begin with bufpool_; the names and labels documented on
// NewPoolCollector and BodyCollector are stable, for dashboards and alerts to rely on.
// The recording and alerting rules in the repository's dashboard/rules.yml
// are written against them.
package metrics
