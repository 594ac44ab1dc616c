package metrics_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/bodypool/bodypool/internal/demo"
	"github.com/bodypool/bodypool/metrics"
)

// The series bounds the issue "fleet-ready" sets: one default pool, and the
// whole /metrics of the demo server (a pool, the HTTP metrics, and the Go
// and process collectors, whose share depends on the Go version: about 80
// of the 200).
const (
	maxSeriesPerPool    = 80
	maxSeriesDemoServer = 200
)

// exercise takes and releases buffers of many sizes, some beyond MaxSize,
// and detaches one, so that most series are non-zero.
func exercise(p *bufpool.Pool) {
	for _, n := range []int{0, 100, 600, 700, 900, 1500, 5000, 9000, 70 << 10, 1 << 20, 3 << 20, 4 << 20, 5 << 20} {
		for range 3 {
			p.Get(n).Release()
		}
	}
	_ = p.Get(3000).Detach()
}

// TestPoolCollectorSeriesBound counts the series of a default collector for
// pools of the default configuration, with and without a budget, and fails
// past maxSeriesPerPool.
func TestPoolCollectorSeriesBound(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  bufpool.Config
		want int // the exact count, 15 bands
	}{
		{"default", bufpool.Config{}, seriesPerBand(14, false)},
		{"budget", bufpool.Config{MaxInUseBytes: 64 << 20}, seriesPerBand(14, true)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPool(t, tt.cfg)
			exercise(p)
			n := testutil.CollectAndCount(metrics.NewPoolCollector("p", p.Stats))
			if n > maxSeriesPerPool {
				t.Errorf("a default pool exposes %d series, more than the bound %d", n, maxSeriesPerPool)
			}
			if n != tt.want {
				t.Errorf("a default pool exposes %d series, want %d", n, tt.want)
			}
		})
	}
}

// TestPoolCollectorBandsSumClasses checks that the default exposition is
// the per-class one summed: each band's gets, hits and misses are the sums
// over the classes of the band, and the per-pool releases, weak releases, evictions,
// decays, lends, idle buffers and drops by reason the sums over all classes. This is what lets
// a dashboard read both with sum by (pool, band) and sum by (pool, reason).
func TestPoolCollectorBandsSumClasses(t *testing.T) {
	t.Parallel()
	for _, cfg := range []bufpool.Config{{}, tiny, {MinSize: 1000, MaxSize: 100000, ClassesPerDoubling: 2}} {
		t.Run(fmt.Sprintf("%d-%d/%d", cfg.MinSize, cfg.MaxSize, cfg.ClassesPerDoubling), func(t *testing.T) {
			t.Parallel()
			p := newPool(t, cfg)
			exercise(p)
			t.Cleanup(p.Get(2000).Release) // one in use
			// One snapshot for both, as the garbage collector may evict
			// idle buffers between two.
			st := p.Stats()
			snapshot := func() bufpool.Stats { return st }
			classes := samples(t, newRegistry(t, perClassCollector("p", snapshot)))
			bands := samples(t, newRegistry(t, metrics.NewPoolCollector("p", snapshot)))

			// Sum the per-class series, dropping the class label.
			classLabel := regexp.MustCompile(`class="[^"]*",`)
			summed := make(map[string]float64)
			for key, v := range classes {
				switch metricName(key) {
				case "bufpool_gets_total", "bufpool_hits_total", "bufpool_misses_total":
					summed[classLabel.ReplaceAllString(key, "")] += v
				case "bufpool_releases_total", "bufpool_weak_releases_total", "bufpool_evictions_total", "bufpool_decays_total", "bufpool_lends_total", "bufpool_idle_buffers":
					summed[metricName(key)+`{pool="p"}`] += v
				case "bufpool_drops_total":
					reason := key[strings.Index(key, `reason=`):]
					summed[`bufpool_drops_total{pool="p",`+reason] += v
				default:
					summed[key] = v
				}
			}
			if len(summed) != len(bands) {
				t.Errorf("%d series summed from the classes, %d in the default exposition", len(summed), len(bands))
			}
			for key, want := range summed {
				if got, ok := bands[key]; !ok || got != want {
					t.Errorf("%s = %v (present %v), want %v summed over its classes", key, got, ok, want)
				}
			}
			checkHitsAndMisses(t, bands)
		})
	}
}

// TestDemoServerSeriesBound scrapes the demo server's /metrics, as
// Prometheus would, after requests of several sizes, and counts its series
// with the text parser Prometheus uses.
func TestDemoServerSeriesBound(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{demo.ModeSized, demo.ModeCalibrated} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			o, err := demo.ParseOptions([]string{"-pool", mode, "-budget", "64MiB"}, func(string) string { return "" }, nil)
			if err != nil {
				t.Fatalf("ParseOptions: %v", err)
			}
			app, err := demo.NewApp(o)
			if err != nil {
				t.Fatalf("NewApp: %v", err)
			}
			srv := httptest.NewServer(app.Echo)
			t.Cleanup(srv.Close)
			for _, n := range []int{10, 1000, 20000, 300000} {
				resp, err := srv.Client().Post(srv.URL+"/echo", "application/octet-stream", strings.NewReader(strings.Repeat("x", n)))
				if err != nil {
					t.Fatalf("POST /echo of %d bytes: %v", n, err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("POST /echo of %d bytes: status %d", n, resp.StatusCode)
				}
			}
			resp, err := srv.Client().Get(srv.URL + "/metrics")
			if err != nil {
				t.Fatalf("GET /metrics: %v", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /metrics: status %d", resp.StatusCode)
			}
			parser := expfmt.NewTextParser(model.UTF8Validation)
			families, err := parser.TextToMetricFamilies(resp.Body)
			if err != nil {
				t.Fatalf("parsing /metrics: %v", err)
			}
			var total, pool int
			for name, mf := range families {
				n := 0
				for _, m := range mf.GetMetric() {
					n++
					if h := m.GetHistogram(); h != nil {
						n += len(h.GetBucket()) + 1 // _bucket per bound and +Inf, _sum, _count
					}
					if s := m.GetSummary(); s != nil {
						n += len(s.GetQuantile()) + 1
					}
				}
				total += n
				if strings.HasPrefix(name, "bufpool_") && !strings.HasPrefix(name, "bufpool_http_") {
					pool += n
				}
			}
			t.Logf("%s: %d series in /metrics, %d of them the pool's", mode, total, pool)
			if pool == 0 || pool > maxSeriesPerPool {
				t.Errorf("the pool exposes %d series, want 1 to %d", pool, maxSeriesPerPool)
			}
			if total > maxSeriesDemoServer {
				t.Errorf("/metrics exposes %d series, more than the bound %d", total, maxSeriesDemoServer)
			}
		})
	}
}
