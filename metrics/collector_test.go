package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/bodypool/bodypool/metrics"
)

// tiny has three classes, 1024, 2048 and 4096 bytes, and the default
// MaxIdleBytes.
var tiny = bufpool.Config{MinSize: 1024, MaxSize: 4096, ClassesPerDoubling: 1}

// Series keys of the pool named "p", as samples writes them; perClass and
// dropped are those of a per-class collector.
func perPool(name string) string { return name + `{pool="p"}` }
func perClass(name, class string) string {
	return fmt.Sprintf(`%s{band=%q,class=%q,pool="p"}`, name, bandOf(class), class)
}
func dropped(class, reason string) string {
	return fmt.Sprintf(`bufpool_drops_total{band=%q,class=%q,pool="p",reason=%q}`, bandOf(class), class, reason)
}

// bandOf returns the band label of a class label: the smallest power of two
// at or above it, or +Inf for +Inf.
func bandOf(class string) string {
	if class == "+Inf" {
		return class
	}
	size, err := strconv.Atoi(class)
	if err != nil {
		panic(err)
	}
	b := 1
	for b < size {
		b *= 2
	}
	return strconv.Itoa(b)
}

// seriesPerClass is the number of series a per-class collector reports for
// a pool of n classes: twelve per class and the oversize pseudo-class (gets,
// hits, misses, releases, evictions, decays, lends, idle buffers and four
// drop reasons), nine per pool, and three more with a budget.
func seriesPerClass(n int, budget bool) int {
	s := 12*(n+1) + 9
	if budget {
		s += 3
	}
	return s
}

// seriesPerBand is the number of series a default collector reports for a
// pool of n bands: three per band and the oversize band (gets, hits,
// misses), eighteen per pool (releases, weak releases, evictions, decays,
// lends, idle buffers, three drop reasons, oversize gets, in-use, idle,
// weak idle, max idle and let-go bytes, forced collections, budget waits
// and rejections), and
// three more with a budget.
func seriesPerBand(n int, budget bool) int {
	s := 3*(n+1) + 18
	if budget {
		s += 3
	}
	return s
}

// perClassCollector returns the per-class collector of the pool named name.
func perClassCollector(name string, stats func() bufpool.Stats) prometheus.Collector {
	return metrics.NewPoolCollectorWithConfig(name, stats, metrics.PoolCollectorConfig{PerClass: true})
}

func newPool(t testing.TB, cfg bufpool.Config) *bufpool.Pool {
	t.Helper()
	p, err := bufpool.New(cfg)
	if err != nil {
		t.Fatalf("bufpool.New(%+v): %v", cfg, err)
	}
	return p
}

func newRegistry(t testing.TB, cs ...prometheus.Collector) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			t.Fatalf("Register: %v", err)
		}
	}
	return reg
}

// TestPoolCollectorValues checks every series after known operations on a
// real pool. It does not run in parallel with other tests, so that a
// buffer released is there for the next Get of its class (except that,
// under the race detector, sync.Pool drops some on purpose).
func TestPoolCollectorValues(t *testing.T) {
	const maxIdle = bufpool.DefaultMaxIdleBytes
	budgeted := tiny
	budgeted.MaxInUseBytes = 4096
	smallIdle := tiny
	smallIdle.MaxIdleBytes = 1024
	smallIdle.IdleTimeout = time.Hour // no trim during the test
	// twoMisses gets two buffers of one class, both misses, and releases
	// them: the second finds the idle bound of smallIdle reached.
	twoMisses := func(_ *testing.T, p *bufpool.Pool, _ prometheus.Gatherer) {
		a, b := p.Get(1000), p.Get(1000)
		a.Release()
		b.Release()
	}

	tests := []struct {
		name string
		cfg  bufpool.Config
		do   func(t *testing.T, p *bufpool.Pool, g prometheus.Gatherer)
		want map[string]float64 // every series not listed must be zero
	}{
		{
			name: "fresh",
			cfg:  tiny,
			do:   func(*testing.T, *bufpool.Pool, prometheus.Gatherer) {},
			want: map[string]float64{perPool("bufpool_max_idle_bytes"): maxIdle},
		},
		{
			name: "get and release",
			cfg:  tiny,
			do: func(_ *testing.T, p *bufpool.Pool, _ prometheus.Gatherer) {
				p.Get(1000).Release()
				p.Get(1000).Release()
				p.Get(3000).Release()
			},
			want: map[string]float64{
				perClass("bufpool_gets_total", "1024"):     2,
				perClass("bufpool_hits_total", "1024"):     1,
				perClass("bufpool_misses_total", "1024"):   1,
				perClass("bufpool_releases_total", "1024"): 2,
				perClass("bufpool_gets_total", "4096"):     1,
				perClass("bufpool_misses_total", "4096"):   1,
				perClass("bufpool_releases_total", "4096"): 1,
				perPool("bufpool_max_idle_bytes"):          maxIdle,
			},
		},
		{
			name: "in use",
			cfg:  tiny,
			do: func(t *testing.T, p *bufpool.Pool, _ prometheus.Gatherer) {
				t.Cleanup(p.Get(1500).Release)
			},
			want: map[string]float64{
				perClass("bufpool_gets_total", "2048"):   1,
				perClass("bufpool_misses_total", "2048"): 1,
				perPool("bufpool_in_use_bytes"):          2048,
				perPool("bufpool_max_idle_bytes"):        maxIdle,
			},
		},
		{
			name: "oversize",
			cfg:  tiny,
			do: func(_ *testing.T, p *bufpool.Pool, _ prometheus.Gatherer) {
				p.Get(10000).Release()
			},
			want: map[string]float64{
				perClass("bufpool_gets_total", "+Inf"):   1,
				perClass("bufpool_misses_total", "+Inf"): 1,
				dropped("+Inf", "oversize"):              1,
				perPool("bufpool_oversize_gets_total"):   1,
				perPool("bufpool_max_idle_bytes"):        maxIdle,
				perPool("bufpool_let_go_bytes"):          10000, // dropped, not yet collected
			},
		},
		{
			name: "detached",
			cfg:  tiny,
			do: func(_ *testing.T, p *bufpool.Pool, _ prometheus.Gatherer) {
				_ = p.Get(2000).Detach()
			},
			want: map[string]float64{
				perClass("bufpool_gets_total", "2048"):   1,
				perClass("bufpool_misses_total", "2048"): 1,
				dropped("2048", "detached"):              1,
				perPool("bufpool_max_idle_bytes"):        maxIdle,
			},
		},
		{
			name: "undersize",
			cfg:  tiny,
			do: func(_ *testing.T, p *bufpool.Pool, _ prometheus.Gatherer) {
				b := p.Get(1000)
				b.B = make([]byte, 10)
				b.Release()
			},
			want: map[string]float64{
				perClass("bufpool_gets_total", "1024"):   1,
				perClass("bufpool_misses_total", "1024"): 1,
				dropped("1024", "undersize"):             1,
				perPool("bufpool_max_idle_bytes"):        maxIdle,
				perPool("bufpool_let_go_bytes"):          10,
			},
		},
		{
			// The second release finds the idle bound reached: its buffer
			// is kept weakly.
			name: "idle full",
			cfg:  smallIdle,
			do:   twoMisses,
			want: map[string]float64{
				perClass("bufpool_gets_total", "1024"):          2,
				perClass("bufpool_misses_total", "1024"):        2,
				perClass("bufpool_releases_total", "1024"):      2,
				perClass("bufpool_weak_releases_total", "1024"): 1,
				perClass("bufpool_idle_buffers", "1024"):        2,
				perPool("bufpool_idle_bytes"):                   2048,
				perPool("bufpool_idle_weak_bytes"):              1024,
				perPool("bufpool_max_idle_bytes"):               1024,
			},
		},
		{
			name: "budget rejection",
			cfg:  budgeted,
			do: func(t *testing.T, p *bufpool.Pool, _ prometheus.Gatherer) {
				if _, err := p.Acquire(context.Background(), 8192); !errors.Is(err, bufpool.ErrBudgetExceeded) {
					t.Fatalf("Acquire beyond the budget: error %v, want ErrBudgetExceeded", err)
				}
			},
			want: map[string]float64{
				perPool("bufpool_budget_rejections_total"): 1,
				perPool("bufpool_budget_bytes"):            4096,
				perPool("bufpool_max_idle_bytes"):          maxIdle,
			},
		},
		{
			name: "budget wait",
			cfg:  budgeted,
			do: func(t *testing.T, p *bufpool.Pool, g prometheus.Gatherer) {
				ctx := context.Background()
				held, err := p.Acquire(ctx, 4096)
				if err != nil {
					t.Fatalf("Acquire: %v", err)
				}
				done := make(chan error)
				go func() {
					b, err := p.Acquire(ctx, 1000)
					if err == nil {
						b.Release()
					}
					done <- err
				}()
				waitFor(t, func() bool { return p.Stats().BudgetWaiting == 1 })
				got := samples(t, g)
				for key, want := range map[string]float64{
					perPool("bufpool_budget_waiters"):    1,
					perPool("bufpool_budget_used_bytes"): 4096,
					perPool("bufpool_in_use_bytes"):      4096,
				} {
					if got[key] != want {
						t.Errorf("while waiting: %s = %v, want %v", key, got[key], want)
					}
				}
				held.Release()
				if err := <-done; err != nil {
					t.Fatalf("waiting Acquire: %v", err)
				}
			},
			want: map[string]float64{
				perClass("bufpool_gets_total", "1024"):     1,
				perClass("bufpool_misses_total", "1024"):   1,
				perClass("bufpool_releases_total", "1024"): 1,
				perClass("bufpool_gets_total", "4096"):     1,
				perClass("bufpool_misses_total", "4096"):   1,
				perClass("bufpool_releases_total", "4096"): 1,
				perPool("bufpool_budget_waits_total"):      1,
				perPool("bufpool_budget_bytes"):            4096,
				perPool("bufpool_max_idle_bytes"):          maxIdle,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPool(t, tt.cfg)
			reg := newRegistry(t, perClassCollector("p", p.Stats))
			tt.do(t, p, reg)
			got := samples(t, reg)

			if n, want := len(got), seriesPerClass(3, tt.cfg.MaxInUseBytes > 0); n != want {
				t.Errorf("%d series, want %d", n, want)
			}
			for key := range tt.want {
				if _, ok := got[key]; !ok {
					t.Errorf("series %s missing", key)
				}
			}
			for key, v := range got {
				switch metricName(key) {
				case "bufpool_evictions_total", "bufpool_idle_buffers", "bufpool_idle_bytes":
					continue // they move when the garbage collector runs
				case "bufpool_hits_total", "bufpool_misses_total":
					if raceEnabled {
						continue // checked below, as hits + misses
					}
				}
				if v != tt.want[key] {
					t.Errorf("%s = %v, want %v", key, v, tt.want[key])
				}
			}
			checkHitsAndMisses(t, got)
		})
	}
}

// checkHitsAndMisses verifies that hits + misses == gets for every class.
func checkHitsAndMisses(t *testing.T, got map[string]float64) {
	t.Helper()
	for key, gets := range got {
		if metricName(key) != "bufpool_gets_total" {
			continue
		}
		labels := strings.TrimPrefix(key, "bufpool_gets_total")
		hits, okh := got["bufpool_hits_total"+labels]
		misses, okm := got["bufpool_misses_total"+labels]
		if !okh || !okm || hits+misses != gets {
			t.Errorf("%s: hits %v + misses %v != gets %v", labels, hits, misses, gets)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPoolCollectorMatchesStats checks, for the default pool configuration,
// that a per-class collector reports every class under its size and agrees
// with Stats.
func TestPoolCollectorMatchesStats(t *testing.T) {
	t.Parallel()
	p := newPool(t, bufpool.Config{})
	for _, n := range []int{0, 100, 600, 5000, 70 << 10, 1 << 20, 4 << 20, 5 << 20} {
		for range 3 {
			p.Get(n).Release()
		}
	}
	_ = p.Get(3000).Detach()
	c := perClassCollector("p", p.Stats)
	got := samples(t, newRegistry(t, c))
	st := p.Stats()

	if n, want := testutil.CollectAndCount(c), seriesPerClass(len(st.Classes), false); n != want {
		t.Errorf("CollectAndCount = %d, want %d", n, want)
	}
	for _, name := range []string{"bufpool_gets_total", "bufpool_hits_total", "bufpool_misses_total", "bufpool_releases_total", "bufpool_evictions_total", "bufpool_idle_buffers"} {
		if n := testutil.CollectAndCount(c, name); n != len(st.Classes)+1 {
			t.Errorf("CollectAndCount(%s) = %d, want one per class and +Inf, %d", name, n, len(st.Classes)+1)
		}
	}
	if n := testutil.CollectAndCount(c, "bufpool_drops_total"); n != 3*(len(st.Classes)+1) {
		t.Errorf("CollectAndCount(bufpool_drops_total) = %d, want 3 per class and +Inf, %d", n, 3*(len(st.Classes)+1))
	}

	check := func(key string, want uint64) {
		t.Helper()
		if v, ok := got[key]; !ok || v != float64(want) {
			t.Errorf("%s = %v (present %v), want %d from Stats", key, v, ok, want)
		}
	}
	classes := append(st.Classes, st.Oversize)
	for i, cs := range classes {
		class := strconv.Itoa(cs.Size)
		if i == len(classes)-1 {
			class = "+Inf"
		}
		check(perClass("bufpool_gets_total", class), cs.Gets)
		check(perClass("bufpool_hits_total", class), cs.Hits)
		check(perClass("bufpool_misses_total", class), cs.Misses)
		check(perClass("bufpool_releases_total", class), cs.Releases)
		check(perClass("bufpool_weak_releases_total", class), cs.WeakReleases)
		check(dropped(class, "oversize"), cs.Drops.Oversize)
		check(dropped(class, "undersize"), cs.Drops.Undersize)
		check(dropped(class, "detached"), cs.Drops.Detached)
	}
	check(perPool("bufpool_oversize_gets_total"), 3)
	check(perClass("bufpool_gets_total", "+Inf"), 3)
	check(dropped("+Inf", "oversize"), 3)
	check(perClass("bufpool_gets_total", "4194304"), 3)
	check(dropped("4096", "detached"), 1) // Get(3000) took a 4 KiB buffer cut to 3 KiB
	checkHitsAndMisses(t, got)
}

func TestPoolCollectorLint(t *testing.T) {
	t.Parallel()
	for _, perClass := range []bool{false, true} {
		for _, cfg := range []bufpool.Config{{}, {MaxInUseBytes: 1 << 20}} {
			t.Run(fmt.Sprintf("perClass=%v/budget=%d", perClass, cfg.MaxInUseBytes), func(t *testing.T) {
				t.Parallel()
				p := newPool(t, cfg)
				p.Get(1000).Release()
				c := metrics.NewPoolCollectorWithConfig("p", p.Stats, metrics.PoolCollectorConfig{PerClass: perClass})
				problems, err := testutil.CollectAndLint(c)
				if err != nil {
					t.Fatalf("CollectAndLint: %v", err)
				}
				for _, pr := range problems {
					t.Errorf("lint: %s: %s", pr.Metric, pr.Text)
				}
			})
		}
	}
}

func TestPoolCollectorRegistration(t *testing.T) {
	t.Parallel()
	a, b := newPool(t, tiny), newPool(t, tiny)
	ca := metrics.NewPoolCollector("a", a.Stats)

	// One collector on two registries.
	reg1, reg2 := prometheus.NewRegistry(), prometheus.NewRegistry()
	for _, reg := range []*prometheus.Registry{reg1, reg2} {
		if err := reg.Register(ca); err != nil {
			t.Fatalf("Register on a fresh registry: %v", err)
		}
	}
	a.Get(1000).Release()
	for i, reg := range []*prometheus.Registry{reg1, reg2} {
		if v := samples(t, reg)[`bufpool_releases_total{pool="a"}`]; v != 1 {
			t.Errorf("registry %d: releases = %v, want 1", i+1, v)
		}
	}

	// Two pools on one registry.
	if err := reg1.Register(metrics.NewPoolCollector("b", b.Stats)); err != nil {
		t.Fatalf("Register a second pool: %v", err)
	}
	b.Get(2000).Release()
	b.Get(2000).Release()
	n, err := testutil.GatherAndCount(reg1)
	if err != nil {
		t.Fatalf("GatherAndCount: %v", err)
	}
	if want := 2 * seriesPerBand(3, false); n != want {
		t.Errorf("two pools: %d series, want %d", n, want)
	}
	got := samples(t, reg1)
	if got[`bufpool_releases_total{pool="a"}`] != 1 || got[`bufpool_releases_total{pool="b"}`] != 2 ||
		got[`bufpool_gets_total{band="2048",pool="a"}`] != 0 || got[`bufpool_gets_total{band="1024",pool="b"}`] != 0 {
		t.Errorf("two pools mixed up: releases a %v, b %v; gets a/2048 %v, b/1024 %v",
			got[`bufpool_releases_total{pool="a"}`], got[`bufpool_releases_total{pool="b"}`],
			got[`bufpool_gets_total{band="2048",pool="a"}`], got[`bufpool_gets_total{band="1024",pool="b"}`])
	}

	// A second collector for the same pool name is a duplicate.
	err = reg1.Register(metrics.NewPoolCollector("a", b.Stats))
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) {
		t.Errorf("Register of a second collector named a: error %v, want AlreadyRegisteredError", err)
	}
}

func TestNewPoolCollectorNilStats(t *testing.T) {
	t.Parallel()
	defer func() {
		if r := recover(); r == nil || !strings.HasPrefix(fmt.Sprint(r), "metrics: ") {
			t.Errorf("NewPoolCollector(nil stats): recovered %v, want a panic naming the package", r)
		}
	}()
	metrics.NewPoolCollector("p", nil)
}

// TestPoolCollectorConcurrentScrape scrapes a pool while it is in use, for
// the race detector, and checks the totals once it is at rest.
func TestPoolCollectorConcurrentScrape(t *testing.T) {
	t.Parallel()
	const workers, rounds = 4, 500
	p := newPool(t, bufpool.Config{})
	reg := newRegistry(t, metrics.NewPoolCollector("p", p.Stats))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				b := p.Get((w*rounds + i) % (64 << 10))
				_, _ = b.WriteString("body")
				b.Release()
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for scraping := true; scraping; {
		select {
		case <-done:
			scraping = false
		default:
		}
		if _, err := reg.Gather(); err != nil {
			t.Fatalf("Gather under load: %v", err)
		}
	}
	got := samples(t, reg)
	var gets float64
	for key, v := range got {
		if metricName(key) == "bufpool_gets_total" {
			gets += v
		}
	}
	if gets != workers*rounds {
		t.Errorf("gets over all classes = %v, want %d", gets, workers*rounds)
	}
	if v := got[perPool("bufpool_in_use_bytes")]; v != 0 {
		t.Errorf("in use bytes at rest = %v, want 0", v)
	}
	checkHitsAndMisses(t, got)
}
