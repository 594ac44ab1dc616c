package metrics_test

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bodypool/bodypool/metrics"
	"github.com/bodypool/bodypool/middleware"
)

type observer = middleware.Observer

var _ prometheus.Collector = (*metrics.BodyCollector)(nil)

// httpSeries returns every series of a fresh BodyCollector, at zero, plus want.
func httpSeries(want map[string]float64) map[string]float64 {
	all := map[string]float64{
		"bufpool_http_request_body_bytes_count":             0,
		"bufpool_http_request_body_bytes_sum":               0,
		"bufpool_http_response_body_bytes_count":            0,
		"bufpool_http_response_body_bytes_sum":              0,
		`bufpool_http_responses_total{mode="buffered"}`:     0,
		`bufpool_http_responses_total{mode="streamed"}`:     0,
		`bufpool_http_rejections_total{reason="too_large"}`: 0,
		`bufpool_http_rejections_total{reason="truncated"}`: 0,
		`bufpool_http_rejections_total{reason="budget"}`:    0,
		`bufpool_http_rejections_total{reason="other"}`:     0,
	}
	maps.Copy(all, want)
	return all
}

func checkSamples(t *testing.T, got, want map[string]float64) {
	t.Helper()
	for _, key := range slices.Sorted(maps.Keys(want)) {
		if v, ok := got[key]; !ok || v != want[key] {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want[key])
		}
	}
	for _, key := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[key]; !ok {
			t.Errorf("unexpected series %s = %v", key, got[key])
		}
	}
}

func TestBodyCollector(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		do   func(h *metrics.BodyCollector)
		want map[string]float64
	}{
		{"fresh", func(*metrics.BodyCollector) {}, nil},
		{"request bodies", func(h *metrics.BodyCollector) {
			h.RequestBody(100)
			h.RequestBody(5000)
			h.RequestBody(0)
			h.RequestBody(-1) // counted as 0
		}, map[string]float64{
			"bufpool_http_request_body_bytes_count": 4,
			"bufpool_http_request_body_bytes_sum":   5100,
		}},
		{"response bodies", func(h *metrics.BodyCollector) {
			h.ResponseBody(64, false)
			h.ResponseBody(1<<20, true)
			h.ResponseBody(70<<20, true)
		}, map[string]float64{
			"bufpool_http_response_body_bytes_count":        3,
			"bufpool_http_response_body_bytes_sum":          64 + 1<<20 + 70<<20,
			`bufpool_http_responses_total{mode="buffered"}`: 1,
			`bufpool_http_responses_total{mode="streamed"}`: 2,
		}},
		{"rejections", func(h *metrics.BodyCollector) {
			h.Rejected(middleware.ReasonTooLarge)
			h.Rejected(middleware.ReasonTooLarge)
			h.Rejected(middleware.ReasonTruncated)
			h.Rejected(middleware.ReasonBudget)
			h.Rejected("Too_Large")
			h.Rejected("")
			h.Rejected("other")
		}, map[string]float64{
			`bufpool_http_rejections_total{reason="too_large"}`: 2,
			`bufpool_http_rejections_total{reason="truncated"}`: 1,
			`bufpool_http_rejections_total{reason="budget"}`:    1,
			`bufpool_http_rejections_total{reason="other"}`:     3,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewPedanticRegistry()
			h := metrics.NewBodyCollector()
			reg.MustRegister(h)
			tt.do(h)
			checkSamples(t, samples(t, reg), httpSeries(tt.want))
		})
	}
}

func TestBodyCollectorBuckets(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	h := metrics.NewBodyCollector()
	reg.MustRegister(h)
	for _, n := range []int{0, 64, 65, 64 << 20, 64<<20 + 1} {
		h.RequestBody(n)
		h.ResponseBody(n, false)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	var wantBounds []float64
	for b := 64.0; b <= 64<<20; b *= 4 {
		wantBounds = append(wantBounds, b)
	}
	histograms := 0
	for _, mf := range mfs {
		if !strings.HasSuffix(mf.GetName(), "_body_bytes") {
			continue
		}
		histograms++
		var bounds []float64
		counts := map[float64]uint64{}
		for _, b := range mf.GetMetric()[0].GetHistogram().GetBucket() {
			bounds = append(bounds, b.GetUpperBound())
			counts[b.GetUpperBound()] = b.GetCumulativeCount()
		}
		if !slices.Equal(bounds, wantBounds) {
			t.Errorf("%s: buckets %v, want %v", mf.GetName(), bounds, wantBounds)
		}
		// 0 and 64 fall in le=64, 65 in le=256, 64 MiB in the last bucket
		// and 64 MiB + 1 only in +Inf.
		if counts[64] != 2 || counts[256] != 3 || counts[64<<20] != 4 {
			t.Errorf("%s: cumulative counts le=64 %d, le=256 %d, le=64MiB %d, want 2, 3, 4",
				mf.GetName(), counts[64], counts[256], counts[64<<20])
		}
	}
	if histograms != 2 {
		t.Errorf("found %d body size histograms, want 2", histograms)
	}
}

func TestBodyCollectorLint(t *testing.T) {
	t.Parallel()
	h := metrics.NewBodyCollector()
	h.RequestBody(1000)
	h.ResponseBody(1000, true)
	h.Rejected(middleware.ReasonBudget)
	problems, err := testutil.CollectAndLint(h)
	if err != nil {
		t.Fatalf("CollectAndLint: %v", err)
	}
	for _, pr := range problems {
		t.Errorf("lint: %s: %s", pr.Metric, pr.Text)
	}
	// Two histograms, two modes and four reasons.
	if n := testutil.CollectAndCount(h); n != 8 {
		t.Errorf("CollectAndCount = %d, want 8", n)
	}
}

func TestBodyCollectorRegistration(t *testing.T) {
	t.Parallel()

	t.Run("twice on one registry", func(t *testing.T) {
		t.Parallel()
		reg := prometheus.NewRegistry()
		first := metrics.NewBodyCollector()
		reg.MustRegister(first)
		err := reg.Register(metrics.NewBodyCollector())
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			t.Fatalf("second Register = %v; want an AlreadyRegisteredError", err)
		}
		if are.ExistingCollector != first {
			t.Errorf("ExistingCollector = %v, want the first BodyCollector", are.ExistingCollector)
		}
	})

	t.Run("two servers", func(t *testing.T) {
		t.Parallel()
		reg := prometheus.NewPedanticRegistry()
		a, b := metrics.NewBodyCollector(), metrics.NewBodyCollector()
		prometheus.WrapRegistererWith(prometheus.Labels{"server": "a"}, reg).MustRegister(a)
		prometheus.WrapRegistererWith(prometheus.Labels{"server": "b"}, reg).MustRegister(b)
		a.ResponseBody(10, true)
		b.ResponseBody(10, false)
		got := samples(t, reg)
		if got[`bufpool_http_responses_total{mode="streamed",server="a"}`] != 1 ||
			got[`bufpool_http_responses_total{mode="buffered",server="b"}`] != 1 ||
			got[`bufpool_http_responses_total{mode="buffered",server="a"}`] != 0 {
			t.Errorf("servers mixed up: %v", got)
		}
		if len(got) != 2*len(httpSeries(nil)) {
			t.Errorf("%d series, want %d", len(got), 2*len(httpSeries(nil)))
		}
	})
}

// TestBodyCollectorAllocs checks that the per-request methods allocate nothing,
// including for an unknown reason. AllocsPerRun cannot run in parallel.
func TestBodyCollectorAllocs(t *testing.T) {
	h := metrics.NewBodyCollector()
	var o observer = h
	unknown := strings.Repeat("x", 3)
	allocs := testing.AllocsPerRun(1000, func() {
		o.RequestBody(4096)
		o.ResponseBody(1<<20, true)
		o.ResponseBody(100, false)
		o.Rejected(middleware.ReasonTooLarge)
		o.Rejected(middleware.ReasonTruncated)
		o.Rejected(middleware.ReasonBudget)
		o.Rejected(unknown)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per request, want 0", allocs)
	}
}

func TestBodyCollectorConcurrent(t *testing.T) {
	t.Parallel()
	const workers, rounds = 8, 1000
	reg := prometheus.NewRegistry()
	h := metrics.NewBodyCollector()
	reg.MustRegister(h)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				h.RequestBody(10)
				h.ResponseBody(20, (w+i)%2 == 0)
				h.Rejected(middleware.ReasonBudget)
			}
		})
	}
	wg.Wait()
	checkSamples(t, samples(t, reg), httpSeries(map[string]float64{
		"bufpool_http_request_body_bytes_count":          workers * rounds,
		"bufpool_http_request_body_bytes_sum":            10 * workers * rounds,
		"bufpool_http_response_body_bytes_count":         workers * rounds,
		"bufpool_http_response_body_bytes_sum":           20 * workers * rounds,
		`bufpool_http_responses_total{mode="buffered"}`:  workers * rounds / 2,
		`bufpool_http_responses_total{mode="streamed"}`:  workers * rounds / 2,
		`bufpool_http_rejections_total{reason="budget"}`: workers * rounds,
	}))
}
