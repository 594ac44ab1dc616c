package poolbench

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/bytedance/gopkg/lang/mcache"
	"github.com/gobwas/pool/pbytes"
	p2pool "github.com/libp2p/go-buffer-pool"
	"github.com/oxtoacart/bpool"
	"github.com/valyala/bytebufferpool"
	vmbufpool "github.com/vmihailenco/bufpool"
	"google.golang.org/grpc/mem"
)

// contender is one pool under test.
type contender struct {
	name string
	// make returns the get-and-give-back step of a fresh pool; largest is
	// the largest size of the workload, for the pools that need one size.
	// Pools that exist only as package state (mcache, vmihailenco/bufpool)
	// are shared between benchmarks; the double collection before each
	// baseline empties them.
	make func(largest int) func(n int)
}

var contenders = []contender{
	{"bufpool", func(int) func(int) {
		p, err := bufpool.New(bufpool.Config{})
		if err != nil {
			panic(err)
		}
		return func(n int) {
			b := p.Get(n)
			b.B = append(b.B[:n-1], 'x')
			b.Release()
		}
	}},
	{"grpc-mem-tiered", func(int) func(int) {
		// The tiers of mem.DefaultBufferPool (256 B, 4 KiB, 16 KiB, 32 KiB,
		// 1 MiB, then a fallback sync.Pool), in a pool of this benchmark's
		// own. Like the default, it zeroes every buffer it hands out.
		p, err := mem.NewBinaryTieredBufferPool(8, 12, 14, 15, 20)
		if err != nil {
			panic(err)
		}
		return func(n int) {
			b := p.Get(n)
			(*b)[n-1] = 'x'
			p.Put(b)
		}
	}},
	{"libp2p-buffer-pool", func(int) func(int) {
		// One sync.Pool per power of two.
		p := new(p2pool.BufferPool)
		return func(n int) {
			b := p.Get(n)
			b[n-1] = 'x'
			p.Put(b)
		}
	}},
	{"gobwas-pbytes", func(int) func(int) {
		// Powers of two; the default pool keeps only 128 B to 64 KiB, so
		// this one is configured for bufpool's range.
		p := pbytes.New(512, 4<<20)
		return func(n int) {
			b := p.GetLen(n)
			b[n-1] = 'x'
			p.Put(b)
		}
	}},
	{"bytedance-mcache", func(int) func(int) {
		// Package-level sync.Pools, one per power of two.
		return func(n int) {
			b := mcache.Malloc(n)
			b[n-1] = 'x'
			mcache.Free(b)
		}
	}},
	{"vmihailenco-bufpool", func(int) func(int) {
		// The package-level pool: sync.Pools by size step.
		return func(n int) {
			b := vmbufpool.Get(n)
			b.Bytes()[n-1] = 'x'
			vmbufpool.Put(b)
		}
	}},
	{"oxtoacart-bpool", func(largest int) func(int) {
		// A bounded channel of buffers of one width: the workload's largest
		// size, so that every request fits.
		p := bpool.NewBytePool(16, largest)
		return func(n int) {
			b := p.Get()
			b = b[:n]
			b[n-1] = 'x'
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
	{"nopool", func(int) func(int) {
		return func(n int) {
			b := make([]byte, n)
			b[n-1] = 'x'
		}
	}},
}

type workload struct {
	name    string
	largest int
	sizes   []int
}

// mixedSizes is bufpool's mixed workload: log-uniform from 512 B to 4 MiB,
// as many requests between 512 B and 1 KiB as between 2 MiB and 4 MiB,
// from the same seed.
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
// sync.Pool still hold their idle memory then (in the victim cache).
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// baseline is the heap in use once what earlier benchmarks pooled is gone:
// a sync.Pool drops its idle memory over two collections.
func baseline() uint64 {
	runtime.GC()
	return heapInUse()
}

// benchContenders runs loop as a sub-benchmark per workload and contender
// (BenchmarkX/size=4KiB/bufpool), with the contender's step and the
// workload's sizes, and reports the heap the contender kept as retained-B.
func benchContenders(b *testing.B, loop func(b *testing.B, step func(int), sizes []int)) {
	for _, w := range workloads {
		for _, c := range contenders {
			b.Run(w.name+"/"+c.name, func(b *testing.B) {
				base := baseline()
				step := c.make(w.largest)
				b.ReportAllocs()
				loop(b, step, w.sizes)
				b.StopTimer()
				b.ReportMetric(float64(int64(heapInUse())-int64(base)), "retained-B")
				runtime.KeepAlive(step)
			})
		}
	}
}

// BenchmarkGetRelease compares the contenders sequentially.
func BenchmarkGetRelease(b *testing.B) {
	benchContenders(b, func(b *testing.B, step func(int), sizes []int) {
		i := 0
		for b.Loop() {
			step(sizes[i%len(sizes)])
			i++
		}
	})
}

// BenchmarkGetReleaseParallel compares the contenders from GOMAXPROCS
// goroutines at once; run it with -cpu 1,2,8 to see how each scales.
func BenchmarkGetReleaseParallel(b *testing.B) {
	benchContenders(b, func(b *testing.B, step func(int), sizes []int) {
		var seed atomic.Uint64
		b.RunParallel(func(pb *testing.PB) {
			i := int(seed.Add(7919))
			for pb.Next() {
				step(sizes[i%len(sizes)])
				i++
			}
		})
	})
}

// TestContenders runs every contender over the first sizes of every
// workload: a step that got memory shorter than asked for panics on its
// write of byte n-1.
func TestContenders(t *testing.T) {
	for _, c := range contenders {
		t.Run(c.name, func(t *testing.T) {
			for _, w := range workloads {
				step := c.make(w.largest)
				for _, n := range w.sizes[:min(len(w.sizes), 64)] {
					step(n)
				}
			}
		})
	}
}
