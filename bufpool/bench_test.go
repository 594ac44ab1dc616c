package bufpool

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/valyala/bytebufferpool"
)

// The contenders of the pool benchmarks: each takes memory for n bytes,
// writes a byte, and gives the memory back.
type contender struct {
	name string
	// make returns the get-and-release step of a fresh pool, the size used
	// for the fixed-size floor, and nothing else: no state is shared
	// between benchmarks.
	make func(fixed int) func(n int)
}

var contenders = []contender{
	{"bufpool", func(int) func(int) {
		p, _ := New(Config{})
		return func(n int) {
			b := p.Get(n)
			b.B = append(b.B[:n-1], 'x')
			b.Release()
		}
	}},
	{"bufpool-idle256MiB", func(int) func(int) {
		// The same with a bound large enough for one buffer of every class
		// on each of 8 processors: the trade the bound makes, measured.
		p, _ := New(Config{MaxIdleBytes: 256 << 20})
		return func(n int) {
			b := p.Get(n)
			b.B = append(b.B[:n-1], 'x')
			b.Release()
		}
	}},
	{"syncpool-fixed", func(fixed int) func(int) {
		// The floor: one size, no classes, no accounting.
		p := sync.Pool{New: func() any { b := make([]byte, 0, fixed); return &b }}
		return func(int) {
			b := p.Get().(*[]byte)
			*b = append((*b)[:fixed-1], 'x')
			p.Put(b)
		}
	}},
	{"syncpool-bytes.Buffer", func(int) func(int) {
		// The naive pattern of Go issue 23199: any buffer for any size.
		p := sync.Pool{New: func() any { return new(bytes.Buffer) }}
		return func(n int) {
			b := p.Get().(*bytes.Buffer)
			b.Reset()
			b.Grow(n)
			b.WriteByte('x')
			p.Put(b)
		}
	}},
	{"bytebufferpool", func(int) func(int) {
		var p bytebufferpool.Pool
		return func(n int) {
			b := p.Get()
			// bytebufferpool calibrates on the length of released buffers.
			if cap(b.B) < n {
				b.B = make([]byte, n)
			}
			b.B = append(b.B[:n-1], 'x')
			p.Put(b)
		}
	}},
	{"nopool", func(int) func(int) {
		return func(n int) {
			b := make([]byte, n)
			b[n-1] = 'x'
		}
	}},
}

type workload struct {
	name  string
	fixed int
	sizes []int
}

// mixedSizes is a log-uniform mix from 512 B to 4 MiB: as many requests
// between 512 B and 1 KiB as between 2 MiB and 4 MiB.
func mixedSizes() []int {
	r := rand.New(rand.NewPCG(1, 2))
	sizes := make([]int, 4096)
	for i := range sizes {
		sizes[i] = 512 << r.IntN(13)
		sizes[i] += r.IntN(sizes[i])
		sizes[i] = min(sizes[i], 4<<20)
	}
	return sizes
}

var workloads = []workload{
	{"size=4KiB", 4 << 10, []int{4 << 10}},
	{"size=256KiB", 256 << 10, []int{256 << 10}},
	{"size=mixed", 4 << 20, mixedSizes()},
}

// heapInUse reports the heap after one collection: pools built on
// sync.Pool still hold their idle memory then (in the victim cache), so the
// difference to a baseline is what the pool retains.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

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

// BenchmarkGetRelease compares the contenders sequentially.
func BenchmarkGetRelease(b *testing.B) {
	for _, w := range workloads {
		for _, c := range contenders {
			b.Run(w.name+"/pool="+c.name, func(b *testing.B) {
				base := heapInUse()
				step := c.make(w.fixed)
				warmUp(b, c.name, step, w.sizes)
				b.ReportAllocs()
				i := 0
				cpu := processCPU()
				for b.Loop() {
					step(w.sizes[i%len(w.sizes)])
					i++
				}
				b.StopTimer()
				b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
				b.ReportMetric(float64(int64(heapInUse())-int64(base)), "retained-B")
				runtime.KeepAlive(step)
			})
		}
	}
}

// BenchmarkGetReleaseParallel compares the contenders from GOMAXPROCS
// goroutines at once; run it with -cpu 1,2,8 to see how each scales.
func BenchmarkGetReleaseParallel(b *testing.B) {
	for _, w := range workloads {
		for _, c := range contenders {
			b.Run(w.name+"/pool="+c.name, func(b *testing.B) {
				base := heapInUse()
				step := c.make(w.fixed)
				warmUp(b, c.name, step, w.sizes)
				var seed atomic.Uint64
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					i := int(seed.Add(7919))
					for pb.Next() {
						step(w.sizes[i%len(w.sizes)])
						i++
					}
				})
				b.StopTimer()
				b.ReportMetric(float64(int64(heapInUse())-int64(base)), "retained-B")
				runtime.KeepAlive(step)
			})
		}
	}
}
