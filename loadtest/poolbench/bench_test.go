package poolbench

import (
	"runtime"
	"testing"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/bodypool/bodypool/internal/pooltest/contenders"
	"github.com/bytedance/gopkg/lang/mcache"
	"github.com/gobwas/pool/pbytes"
	p2pool "github.com/libp2p/go-buffer-pool"
	"github.com/oxtoacart/bpool"
	vmbufpool "github.com/vmihailenco/bufpool"
	"google.golang.org/grpc/mem"
)

// pools are the pools under test: bufpool, the other Go buffer pools, and
// the common contenders. Pools that exist only as package state (mcache,
// vmihailenco/bufpool) are shared between benchmarks; the double
// collection before each baseline empties them.
var pools = append([]contenders.Contender{
	{Name: "bufpool", Make: func(int) func(int) {
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
	{Name: "grpc-mem-tiered", Make: func(int) func(int) {
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
	{Name: "libp2p-buffer-pool", Make: func(int) func(int) {
		// One sync.Pool per power of two.
		p := new(p2pool.BufferPool)
		return func(n int) {
			b := p.Get(n)
			b[n-1] = 'x'
			p.Put(b)
		}
	}},
	{Name: "gobwas-pbytes", Make: func(int) func(int) {
		// Powers of two; the default pool keeps only 128 B to 64 KiB, so
		// this one is configured for bufpool's range.
		p := pbytes.New(512, 4<<20)
		return func(n int) {
			b := p.GetLen(n)
			b[n-1] = 'x'
			p.Put(b)
		}
	}},
	{Name: "bytedance-mcache", Make: func(int) func(int) {
		// Package-level sync.Pools, one per power of two.
		return func(n int) {
			b := mcache.Malloc(n)
			b[n-1] = 'x'
			mcache.Free(b)
		}
	}},
	{Name: "vmihailenco-bufpool", Make: func(int) func(int) {
		// The package-level pool: sync.Pools by size step.
		return func(n int) {
			b := vmbufpool.Get(n)
			b.Bytes()[n-1] = 'x'
			vmbufpool.Put(b)
		}
	}},
	{Name: "oxtoacart-bpool", Make: func(largest int) func(int) {
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
}, contenders.Common...)

// baseline is the heap in use once what earlier benchmarks pooled is gone:
// a sync.Pool drops its idle memory over two collections.
func baseline() uint64 {
	runtime.GC()
	return contenders.HeapInUse()
}

// benchContenders runs loop as a sub-benchmark per workload and contender
// (BenchmarkX/size=4KiB/bufpool), with the contender's step and the
// workload's sizes, and reports the heap the contender kept as retained-B.
func benchContenders(b *testing.B, loop func(b *testing.B, step func(int), sizes []int)) {
	for _, w := range contenders.Workloads {
		for _, c := range pools {
			b.Run(w.Name+"/"+c.Name, func(b *testing.B) {
				base := baseline()
				step := c.Make(w.Largest)
				b.ReportAllocs()
				loop(b, step, w.Sizes)
				b.StopTimer()
				b.ReportMetric(float64(int64(contenders.HeapInUse())-int64(base)), "retained-B")
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
	benchContenders(b, contenders.StepParallel)
}

// TestContenders runs every contender over the first sizes of every
// workload: a step that got memory shorter than asked for panics on its
// write of byte n-1.
func TestContenders(t *testing.T) {
	for _, c := range pools {
		t.Run(c.Name, func(t *testing.T) {
			for _, w := range contenders.Workloads {
				step := c.Make(w.Largest)
				for _, n := range w.Sizes[:min(len(w.Sizes), 64)] {
					step(n)
				}
			}
		})
	}
}
