package metrics_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/bodypool/bodypool/metrics"
	"github.com/bodypool/bodypool/middleware"
)

// scrape serves one request to h, as Prometheus would, and prints the
// sample lines that contain all of the given fragments.
func scrape(h http.Handler, fragments ...string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	lines := bufio.NewScanner(rec.Body)
next:
	for lines.Scan() {
		line := lines.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		for _, f := range fragments {
			if !strings.Contains(line, f) {
				continue next
			}
		}
		fmt.Println(line)
	}
}

func ExampleNewPoolCollector() {
	pool, err := bufpool.New(bufpool.Config{})
	if err != nil {
		panic(err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewPoolCollector("uploads", pool.Stats))
	handler := promhttp.HandlerFor(reg, promhttp.HandlerOpts{}) // serve it at /metrics

	pool.Get(9000).Release()    // rounded up to the class of 10240 bytes
	pool.Get(8 << 20).Release() // beyond MaxSize (4 MiB): never kept

	// The class of 10240 bytes is in the band of 16384: (8192, 16384].
	for _, name := range []string{"bufpool_gets_total", "bufpool_misses_total"} {
		scrape(handler, name, `band="16384"`)
	}
	scrape(handler, "bufpool_releases_total")
	scrape(handler, "bufpool_drops_total", "oversize")
	scrape(handler, "bufpool_oversize_gets_total")
	// Output:
	// bufpool_gets_total{band="16384",pool="uploads"} 1
	// bufpool_misses_total{band="16384",pool="uploads"} 1
	// bufpool_releases_total{pool="uploads"} 1
	// bufpool_drops_total{pool="uploads",reason="oversize"} 1
	// bufpool_oversize_gets_total{pool="uploads"} 1
}

func ExampleNewPoolCollectorWithConfig() {
	pool, err := bufpool.New(bufpool.Config{})
	if err != nil {
		panic(err)
	}

	// Per class: about ten times the series, for tuning one instance.
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewPoolCollectorWithConfig("uploads", pool.Stats, metrics.PoolCollectorConfig{PerClass: true}))
	handler := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})

	pool.Get(12000).Release() // a 16 KiB buffer, cut to the 12 KiB class
	scrape(handler, "bufpool_gets_total", `class="16384"`)
	scrape(handler, "bufpool_releases_total", `class="16384"`)
	// Output:
	// bufpool_gets_total{band="16384",class="16384",pool="uploads"} 1
	// bufpool_releases_total{band="16384",class="16384",pool="uploads"} 1
}

func ExampleNewBodyCollector() {
	reg := prometheus.NewRegistry()
	obs := metrics.NewBodyCollector() // the middleware's Observer
	reg.MustRegister(obs)

	// What the middleware reports for three requests.
	obs.RequestBody(3000)
	obs.ResponseBody(200, false)
	obs.RequestBody(5 << 20)
	obs.ResponseBody(64<<10, true)
	obs.Rejected(middleware.ReasonTooLarge)

	handler := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	scrape(handler, "bufpool_http_request_body_bytes_sum")
	scrape(handler, "bufpool_http_request_body_bytes_count")
	scrape(handler, "bufpool_http_responses_total")
	scrape(handler, "bufpool_http_rejections_total")
	// Output:
	// bufpool_http_request_body_bytes_sum 5.24588e+06
	// bufpool_http_request_body_bytes_count 2
	// bufpool_http_responses_total{mode="buffered"} 1
	// bufpool_http_responses_total{mode="streamed"} 1
	// bufpool_http_rejections_total{reason="budget"} 0
	// bufpool_http_rejections_total{reason="other"} 0
	// bufpool_http_rejections_total{reason="too_large"} 1
	// bufpool_http_rejections_total{reason="truncated"} 0
}
