package metrics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/bodypool/bodypool/metrics"
)

// BenchmarkBodyCollector measures what the middleware pays per request.
func BenchmarkBodyCollector(b *testing.B) {
	h := metrics.NewBodyCollector()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.RequestBody(16 << 10)
			h.ResponseBody(16<<10, false)
		}
	})
}

// BenchmarkPoolCollectorGather measures one scrape of a pool with the
// default 53 classes.
func BenchmarkPoolCollectorGather(b *testing.B) {
	p, err := bufpool.New(bufpool.Config{})
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewPoolCollector("p", p.Stats))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
