package bufpool

import (
	"runtime"
	"sync"
	"testing"

	"github.com/bodypool/bodypool/internal/pooltest/contenders"
)

// benchContenders are the pools of the pool benchmarks: bufpool, with
// its default bound and a large one, the floor of one sync.Pool of one
// size (the workload's largest), and the common contenders. No state is
// shared between benchmarks.
var benchContenders = append([]contenders.Contender{
	bufpoolContender("bufpool", Config{}),
	// The same with a bound large enough for one buffer of every class on
	// each of 8 processors: the trade the bound makes, measured.
	bufpoolContender("bufpool-idle256MiB", Config{MaxIdleBytes: 256 << 20}),
	{Name: "syncpool-fixed", Make: func(fixed int) func(int) {
		// The floor: one size, no classes, no accounting.
		p := sync.Pool{New: func() any { b := make([]byte, 0, fixed); return &b }}
		return func(int) {
			b := p.Get().(*[]byte)
			*b = append((*b)[:fixed-1], 'x')
			p.Put(b)
		}
	}},
}, contenders.Common...)

// bufpoolContender is a contender that runs a new Pool of cfg, which it
// makes benchPool.
func bufpoolContender(name string, cfg Config) contenders.Contender {
	return contenders.Contender{Name: name, Make: func(int) func(int) {
		p, _ := New(cfg)
		benchPool = p
		return func(n int) {
			b := p.Get(n)
			b.B = append(b.B[:n-1], 'x')
			b.Release()
		}
	}}
}

// benchPool is the bufpool of the contender being measured, set by its
// Make, so that benchEach can report how its releases went; nil for the
// other contenders. Benchmarks run one at a time.
var benchPool *Pool

// heapInUse is the heap in use after one collection, as the benchmarks
// of this package measure what a pool retains.
var heapInUse = contenders.HeapInUse

// warmUp runs every size of a workload through a contender twice, so that
// the benchmarks measure the steady state rather than the first misses.
func warmUp(b *testing.B, name string, step func(int), sizes []int) {
	defer b.ResetTimer()
	if name == "nopool" {
		return // nothing to warm, and slow
	}
	for range 2 {
		for _, n := range sizes {
			step(n)
		}
	}
}

// benchEach runs loop as a sub-benchmark per workload and contender
// (BenchmarkX/size=4KiB/pool=bufpool) with the contender's step, warmed
// up, and the workload's sizes, and reports the heap the contender kept as
// retained-B. For bufpool it also reports the share of releases kept
// weakly, past MaxIdleBytes (weak-rel/op), and the misses (misses/op),
// which explain most of its spread on the mixed workload.
func benchEach(b *testing.B, loop func(b *testing.B, step func(int), sizes []int)) {
	for _, w := range contenders.Workloads {
		for _, c := range benchContenders {
			b.Run(w.Name+"/pool="+c.Name, func(b *testing.B) {
				base := heapInUse()
				benchPool = nil
				step := c.Make(w.Largest)
				warmUp(b, c.Name, step, w.Sizes)
				b.ReportAllocs()
				loop(b, step, w.Sizes)
				b.StopTimer()
				b.ReportMetric(float64(int64(heapInUse())-int64(base)), "retained-B")
				if p := benchPool; p != nil {
					st := p.Stats().Total
					b.ReportMetric(float64(st.WeakReleases)/float64(st.Gets), "weak-rel/op")
					b.ReportMetric(float64(st.Misses)/float64(st.Gets), "misses/op")
				}
				runtime.KeepAlive(step)
			})
		}
	}
}

// BenchmarkGetRelease compares the contenders sequentially, with the CPU
// time per operation beside the wall time.
func BenchmarkGetRelease(b *testing.B) {
	benchEach(b, func(b *testing.B, step func(int), sizes []int) {
		i := 0
		cpu := processCPU()
		for b.Loop() {
			step(sizes[i%len(sizes)])
			i++
		}
		b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
	})
}

// BenchmarkGetReleaseParallel compares the contenders from GOMAXPROCS
// goroutines at once; run it with -cpu 1,2,8 to see how each scales.
func BenchmarkGetReleaseParallel(b *testing.B) {
	benchEach(b, contenders.StepParallel)
}
