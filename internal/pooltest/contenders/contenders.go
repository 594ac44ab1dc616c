// Package contenders holds what the pool benchmarks of bufpool
// (bufpool/bench_test.go) and of loadtest/poolbench share: the workloads
// of request sizes, the pools that are not bufpool but are compared with
// it in both, and the measure of the memory a pool retains. bufpool's
// own contenders stay beside each benchmark, since bufpool's in-package
// tests cannot import a package that imports bufpool.
//
// Each contender's step takes memory for n bytes, sets its length to n,
// writes a byte and gives the memory back.
package contenders

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/valyala/bytebufferpool"
)

// A Contender is one pool under test. Make returns the step of a fresh
// pool; largest is the largest size of the workload, for the pools that
// need one size.
type Contender struct {
	Name string
	Make func(largest int) func(n int)
}

// A Workload is a sequence of sizes that a benchmark cycles through, and
// the largest of them.
type Workload struct {
	Name    string // size=4KiB, size=256KiB, size=mixed
	Largest int
	Sizes   []int
}

// Workloads are one size of 4 KiB, one of 256 KiB, and a log-uniform mix
// from 512 B to 4 MiB: as many requests between 512 B and 1 KiB as
// between 2 MiB and 4 MiB, from a fixed seed.
var Workloads = []Workload{
	{"size=4KiB", 4 << 10, []int{4 << 10}},
	{"size=256KiB", 256 << 10, []int{256 << 10}},
	{"size=mixed", 4 << 20, mixedSizes()},
}

func mixedSizes() []int {
	r := rand.New(rand.NewPCG(1, 2))
	sizes := make([]int, 4096)
	for i := range sizes {
		sizes[i] = 512 << r.IntN(13)
		sizes[i] = min(sizes[i]+r.IntN(sizes[i]), 4<<20)
	}
	return sizes
}

// Common are the contenders of both benchmarks besides bufpool: the
// naive sync.Pool of bytes.Buffer, valyala/bytebufferpool, and no pool.
var Common = []Contender{
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

// HeapInUse reports the heap in use after one collection: pools built on
// sync.Pool still hold their idle memory then (in the victim cache), so
// its growth over a benchmark is what the pool retains.
func HeapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// StepParallel runs step over sizes, in turn, from GOMAXPROCS goroutines
// until b has run b.N steps, each goroutine starting at another size.
func StepParallel(b *testing.B, step func(int), sizes []int) {
	var seed atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(7919))
		for pb.Next() {
			step(sizes[i%len(sizes)])
			i++
		}
	})
}
