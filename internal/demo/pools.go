package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/bodypool/bodypool/bufpool"
	"github.com/bodypool/bodypool/internal/seam"
	"github.com/valyala/bytebufferpool"
)

// pool is the body memory of one mode: what the middleware takes buffers
// from, and what /metrics reports about it.
type pool struct {
	buffers seam.Pool
	stats   func() bufpool.Stats
	sized   *bufpool.Pool // the bufpool.Pool of the sized mode, else nil
}

func newPool(o Options) (*pool, error) {
	if o.Pool == ModeSized {
		p, err := bufpool.New(bufpool.Config{
			MaxInUseBytes: int64(o.Budget), MaxIdleBytes: int64(o.MaxIdle), ClassesPerDoubling: o.ClassesPerDoubling,
			IdleTimeout: o.PoolIdleTimeout, FreeOSMemoryInterval: o.FreeOSInterval,
			Poison: o.Poison, Track: o.Track,
		})
		if err != nil {
			return nil, err
		}
		return &pool{buffers: seam.Pooled(p), stats: p.Stats, sized: p}, nil
	}
	// The other modes report through the classes of bufpool's default
	// configuration, so that a dashboard compares like with like.
	c := &plainPool{sizes: bufpool.Default().ClassSizes()}
	c.counts = make([]classCounts, len(c.sizes)+1)
	switch o.Pool {
	case ModeCalibrated:
		c.source = &calibratedSource{}
	case ModeSyncPool:
		c.source = &syncPoolSource{}
	case ModeNone:
		c.source = noneSource{}
	default:
		return nil, fmt.Errorf("demo: no pool for mode %q", o.Pool)
	}
	return &pool{buffers: c, stats: c.Stats}, nil
}

// memorySource is where a comparison mode takes memory from.
type memorySource interface {
	// take returns memory for n bytes and whether it came from idle memory
	// large enough (a hit) rather than a new allocation.
	take(n int) (mem []byte, handle any, hit bool)
	// give returns memory; it may keep it.
	give(mem []byte, handle any)
}

// calibratedSource is bytebufferpool.Pool, which calibrates its default
// buffer size and its drop threshold from the lengths released to it.
type calibratedSource struct{ p bytebufferpool.Pool }

func (s *calibratedSource) take(n int) ([]byte, any, bool) {
	bb := s.p.Get()
	hit := cap(bb.B) >= n
	if !hit {
		bb.B = make([]byte, 0, n)
	}
	return bb.B[:0], bb, hit
}

func (s *calibratedSource) give(mem []byte, h any) {
	bb := h.(*bytebufferpool.ByteBuffer)
	bb.B = mem // Put calibrates on the length
	s.p.Put(bb)
}

// syncPoolSource is the naive pattern: one sync.Pool of bytes.Buffer for
// every size, which keeps whatever capacity a buffer grew to.
type syncPoolSource struct{ p sync.Pool }

func (s *syncPoolSource) take(n int) ([]byte, any, bool) {
	v := s.p.Get()
	if v == nil {
		v = new(bytes.Buffer)
	}
	bb := v.(*bytes.Buffer)
	bb.Reset()
	hit := bb.Cap() >= n
	bb.Grow(n)
	return bb.Bytes()[:0], bb, hit
}

func (s *syncPoolSource) give(mem []byte, h any) {
	bb := h.(*bytes.Buffer)
	*bb = *bytes.NewBuffer(mem[:0]) // keep the memory the buffer grew to
	s.p.Put(bb)
}

// noneSource allocates every buffer afresh and lets the GC have it back.
type noneSource struct{}

func (noneSource) take(n int) ([]byte, any, bool) { return make([]byte, 0, n), nil, false }
func (noneSource) give([]byte, any)               {}

type classCounts struct {
	gets, hits, releases, detached atomic.Uint64
	_                              [32]byte
}

// plainPool serves the comparison modes: the same middleware, with buffers
// that grow by append, from the memory of a memorySource.
type plainPool struct {
	source   memorySource
	sizes    []int
	counts   []classCounts // by bufpool class of the requested size; last is oversize
	inUse    atomic.Int64  // capacity checked out
	wrappers sync.Pool
}

func (p *plainPool) class(n int) int {
	return sort.SearchInts(p.sizes, n)
}

// TryAcquire is Acquire: the comparison modes have no budget.
func (p *plainPool) TryAcquire(n int) (seam.Buffer, bool) {
	b, _ := p.Acquire(context.Background(), n)
	return b, true
}

func (p *plainPool) Acquire(_ context.Context, n int) (seam.Buffer, error) {
	mem, h, hit := p.source.take(n)
	b, _ := p.wrappers.Get().(*plainBuffer)
	if b == nil {
		b = new(plainBuffer)
	}
	*b = plainBuffer{buf: *bytes.NewBuffer(mem), handle: h, pool: p, class: p.class(n), out: cap(mem)}
	c := &p.counts[b.class]
	c.gets.Add(1)
	if hit {
		c.hits.Add(1)
	}
	p.inUse.Add(int64(cap(mem)))
	return b, nil
}

// Stats reports what a comparison mode can know: gets, hits, misses,
// releases and detaches per class of requested size, and the capacity in
// use. Idle memory is inside sync.Pool or bytebufferpool, out of sight.
func (p *plainPool) Stats() bufpool.Stats {
	var st bufpool.Stats
	for i := range p.counts {
		c := &p.counts[i]
		cs := bufpool.ClassStats{Gets: c.gets.Load(), Hits: c.hits.Load(), Releases: c.releases.Load()}
		cs.Misses = cs.Gets - cs.Hits
		cs.Drops.Detached = c.detached.Load()
		cs.InUse = int64(cs.Gets) - int64(cs.Releases) - int64(cs.Drops.Detached)
		if i < len(p.sizes) {
			cs.Size = p.sizes[i]
			st.Classes = append(st.Classes, cs)
		} else {
			st.Oversize = cs
		}
		st.Total.Gets += cs.Gets
		st.Total.Hits += cs.Hits
		st.Total.Misses += cs.Misses
		st.Total.Releases += cs.Releases
		st.Total.Drops.Detached += cs.Drops.Detached
		st.Total.InUse += cs.InUse
	}
	st.Total.InUseBytes = p.inUse.Load()
	return st
}

// plainBuffer implements seam.Buffer over a bytes.Buffer that grows as
// bytes.Buffer does, as code without a size-classed pool does.
type plainBuffer struct {
	buf    bytes.Buffer
	lr     io.LimitedReader // ReadFromLimit's, kept here so that it is not allocated per read
	handle any
	pool   *plainPool
	class  int
	out    int // capacity counted in use
}

func (b *plainBuffer) Bytes() []byte                      { return b.buf.Bytes() }
func (b *plainBuffer) Len() int                           { return b.buf.Len() }
func (b *plainBuffer) Write(p []byte) (int, error)        { return b.buf.Write(p) }
func (b *plainBuffer) Grow(n int) error                   { b.buf.Grow(n); return nil }
func (b *plainBuffer) SizeHint(int)                       {}
func (b *plainBuffer) Reserve(context.Context, int) error { return nil }

var errTooLarge = fmt.Errorf("demo: %w", bufpool.ErrTooLarge)

// ReadFromLimit reads r to its end, or to the byte beyond limit and then
// fails with an error wrapping bufpool.ErrTooLarge, as bufpool does.
func (b *plainBuffer) ReadFromLimit(r io.Reader, limit int64) (int64, error) {
	b.lr = io.LimitedReader{R: r, N: limit + 1}
	n, err := b.buf.ReadFrom(&b.lr)
	b.lr.R = nil
	if n > limit {
		return n, errTooLarge
	}
	return n, err
}

func (b *plainBuffer) Release() {
	p := b.pool
	p.counts[b.class].releases.Add(1)
	p.inUse.Add(-int64(b.out))
	p.source.give(b.buf.Bytes(), b.handle)
	*b = plainBuffer{}
	p.wrappers.Put(b)
}

func (b *plainBuffer) Detach() []byte {
	p, mem := b.pool, b.buf.Bytes()
	p.counts[b.class].detached.Add(1)
	p.inUse.Add(-int64(b.out))
	*b = plainBuffer{}
	p.wrappers.Put(b)
	return mem
}
