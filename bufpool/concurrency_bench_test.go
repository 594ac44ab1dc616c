package bufpool

import (
	"bytes"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/bytebufferpool"
)

// The contenders of BenchmarkConcurrentMix: each takes memory for a body of
// n bytes, fills it from src, and, after hold, gives it back.
var concurrentContenders = []struct {
	name string
	make func() (step func(n int, src []byte, hold func()), pool *Pool)
}{
	{"bufpool", func() (func(int, []byte, func()), *Pool) {
		p, _ := New(Config{})
		return bufpoolStep(p), p
	}},
	{"bufpool-nolend", func() (func(int, []byte, func()), *Pool) {
		// The pool as it was before lending and decay by time: every
		// class keeps its own idle buffers.
		p, _ := New(Config{IdleTimeout: -1})
		p.borrow = 0
		return bufpoolStep(p), p
	}},
	{"bufpool-k1", func() (func(int, []byte, func()), *Pool) {
		// Power-of-two classes: fewest classes, up to 2x waste.
		p, _ := New(Config{ClassesPerDoubling: 1})
		return bufpoolStep(p), p
	}},
	{"syncpool-bytes.Buffer", func() (func(int, []byte, func()), *Pool) {
		var p sync.Pool
		return func(n int, src []byte, hold func()) {
			b, _ := p.Get().(*bytes.Buffer)
			if b == nil {
				b = new(bytes.Buffer)
			}
			b.Reset()
			b.Write(src[:n])
			hold()
			p.Put(b)
		}, nil
	}},
	{"bytebufferpool", func() (func(int, []byte, func()), *Pool) {
		var p bytebufferpool.Pool
		return func(n int, src []byte, hold func()) {
			b := p.Get()
			b.Write(src[:n])
			hold()
			p.Put(b)
		}, nil
	}},
}

func bufpoolStep(p *Pool) func(int, []byte, func()) {
	return func(n int, src []byte, hold func()) {
		b := p.Get(n)
		b.B = append(b.B, src[:n]...)
		hold()
		b.Release()
	}
}

// logUniformSizes is a log-uniform mix from lo to hi bytes, the same for
// every contender.
func logUniformSizes(lo, hi, count int) []int {
	r := rand.New(rand.NewPCG(3, 4))
	sizes := make([]int, count)
	for i := range sizes {
		sizes[i] = int(float64(lo) * math.Exp2(r.Float64()*math.Log2(float64(hi)/float64(lo))))
	}
	return sizes
}

// heapObjects reads the bytes of heap objects after a collection.
func heapObjects() uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}

// heapPeak samples the bytes of live and unswept heap objects every
// millisecond until stop is called, and returns the largest.
func heapPeak() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

// BenchmarkConcurrentMix runs the contenders side by side on the same
// input, as a server at 64 connections sees it: 32 goroutines per
// processor (64 at -cpu 2) each take a buffer for a body from a
// log-uniform mix of 1 KiB to 1 MiB, fill it, yield while holding it (as a
// handler waits on the network), and give it back. It reports the peak of
// the heap's objects during the run (peak-heap-B), what the contender
// still holds after a collection (retained-B, its idle memory), for
// bufpool the idle bytes its Stats count (idle-B), and B/op: memory the
// contender failed to reuse. Run with -cpu 2.
func BenchmarkConcurrentMix(b *testing.B) {
	sizes := logUniformSizes(1<<10, 1<<20, 8192)
	src := bytes.Repeat([]byte("bodypool"), 1<<17)
	for _, c := range concurrentContenders {
		b.Run("pool="+c.name, func(b *testing.B) {
			base := heapInUse()
			baseObjects := heapObjects()
			step, p := c.make()
			var seed atomic.Uint64
			b.SetParallelism(32)
			b.ReportAllocs()
			stopPeak := heapPeak()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(seed.Add(7919))
				for pb.Next() {
					step(sizes[i%len(sizes)], src, runtime.Gosched)
					i++
				}
			})
			b.StopTimer()
			peak := stopPeak()
			b.ReportMetric(float64(int64(peak)-int64(baseObjects)), "peak-heap-B")
			b.ReportMetric(float64(int64(heapInUse())-int64(base)), "retained-B")
			if p != nil {
				st := p.Stats()
				b.ReportMetric(float64(st.Total.IdleBytes), "idle-B")
				b.ReportMetric(float64(st.Total.Misses)/float64(b.N), "misses/op")
			}
			runtime.KeepAlive(step)
		})
	}
}
