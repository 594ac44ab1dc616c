package bufpool

import (
	"bytes"
	"testing"
)

// allocRuns is the number of runs testing.AllocsPerRun averages over.
var allocRuns = map[bool]int{false: 1000, true: 200}[raceEnabled]

// allocsPerMiss measures what a Get that finds no idle buffer allocates:
// the memory, its Buffer and its slab.
func allocsPerMiss(t *testing.T) float64 {
	t.Helper()
	p := newPool(t, Config{})
	n := testing.AllocsPerRun(100, func() { p.Get(4096).Detach() })
	if n == 0 {
		t.Fatal("a miss allocates nothing: the measurement is broken")
	}
	t.Logf("a miss costs %v allocations", n)
	return n
}

// checkSteadyAllocs checks the allocations per run of f on the warm pool
// p: nothing beyond the misses Stats counts during the measurement. Without
// the race detector a warm pool allocates nothing. With it, sync.Pool
// drops a quarter of Puts on purpose and each drop costs a later miss;
// any allocation on top of those still fails, because AllocsPerRun rounds
// the average down by less than one.
func checkSteadyAllocs(t *testing.T, p *Pool, perMiss float64, f func()) {
	t.Helper()
	before := p.Stats().Total
	got := testing.AllocsPerRun(allocRuns, f)
	after := p.Stats().Total
	misses, weak := after.Misses-before.Misses, after.WeakReleases-before.WeakReleases
	// AllocsPerRun sets GOMAXPROCS, which empties sync.Pool's per-P
	// caches: its first, unmeasured, run may miss even without the race
	// detector.
	if !raceEnabled && got != 0 {
		t.Errorf("%v allocations per run in steady state, want 0", got)
	}
	// A buffer a miss allocated may cost one allocation more: the handle
	// of its weak pointer, once, if it is ever kept weakly (under the race
	// detector, buffers sync.Pool dropped hold their idle tokens until a
	// collection, so releases can find the bound reached), or sync.Pool's
	// per-processor array of its class, made again after a collection
	// that the misses' memory brought about. A memory profile of this test
	// under -race shows both (weak.runtime_registerWeakPointer,
	// sync.(*Pool).pinSlow).
	if allowed := float64(misses) * (perMiss + 1); got*float64(allocRuns) > allowed {
		t.Errorf("%v allocations per run: %v in %d runs, but the %d misses account for only %v",
			got, got*float64(allocRuns), allocRuns, misses, allowed)
	}
	t.Logf("%v allocations per run, %d misses and %d releases kept weakly in %d runs", got, misses, weak, allocRuns)
}

func TestSteadyStateAllocs(t *testing.T) {
	// Not parallel: AllocsPerRun counts the allocations of the whole
	// process.
	perMiss := allocsPerMiss(t)
	body := pattern(24 << 10)
	tests := []struct {
		name string
		cfg  Config
		// run returns the step to measure; setup happens outside it.
		run func(p *Pool) func()
	}{
		{"Get 4KiB+Release", Config{}, func(p *Pool) func() {
			return func() { p.Get(4096).Release() }
		}},
		// Past the idle bound the buffer is kept weakly: storing its weak
		// pointer, pointer-shaped, in sync.Pool allocates nothing either.
		{"Get 4KiB+Release past MaxIdleBytes", Config{MaxIdleBytes: 1}, func(p *Pool) func() {
			return func() { p.Get(4096).Release() }
		}},
		{"Get 256KiB+Write+Release", Config{}, func(p *Pool) func() {
			data := pattern(4 << 10)
			return func() {
				b := p.Get(256 << 10)
				b.Write(data)
				b.Release()
			}
		}},
		{"Acquire+Release with a budget", Config{MaxInUseBytes: 1 << 20}, func(p *Pool) func() {
			return func() {
				b, err := p.Acquire(cancelled, 16<<10)
				if err != nil {
					panic(err)
				}
				b.Release()
			}
		}},
		{"Get+ReadFromLimit with growth+Release", Config{}, func(p *Pool) func() {
			r := bytes.NewReader(body)
			return func() {
				r.Reset(body)
				b := p.Get(512)
				if _, err := b.ReadFromLimit(r, 1<<20); err != nil {
					panic(err)
				}
				b.Release()
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPool(t, tt.cfg)
			f := tt.run(p)
			for range 100 {
				f() // warm: every class the step uses holds a buffer
			}
			checkSteadyAllocs(t, p, perMiss, f)
			checkInvariants(t, p)
		})
	}
}

// TestReadFromLimitWarmAllocs reads a body into a buffer that already has
// room for it: no pool operation is involved, so nothing may allocate even
// under the race detector.
func TestReadFromLimitWarmAllocs(t *testing.T) {
	p := newPool(t, Config{})
	body := pattern(10_000)
	r := bytes.NewReader(body)
	b := p.Get(16 << 10)
	defer b.Release()
	got := testing.AllocsPerRun(allocRuns, func() {
		r.Reset(body)
		b.Reset()
		if n, err := b.ReadFromLimit(r, 1<<20); err != nil || n != int64(len(body)) {
			panic(err)
		}
	})
	if got != 0 {
		t.Errorf("%v allocations per ReadFromLimit into a warm buffer, want 0", got)
	}
	if !bytes.Equal(b.B, body) {
		t.Error("body read incorrectly")
	}
}
