package bufpool

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/valyala/bytebufferpool"
)

// Pool is a set of size-classed pools of byte buffers with bounds on the
// memory it keeps idle and, optionally, on the memory checked out of it.
//
// Get(n) returns a buffer from the smallest class that holds n bytes;
// Release files it back under the largest class its capacity covers. Each
// class is a sync.Pool, so idle buffers live in per-processor caches and are
// reclaimed by the garbage collector after about two cycles without use. A
// class never receives a buffer smaller than its size, and buffers larger
// than MaxSize are never retained, so a stream of small requests cannot pin
// giant buffers.
//
// A Pool is safe for concurrent use by multiple goroutines. A Buffer it
// hands out belongs to the caller until Release or Detach, and must not be
// used, nor its bytes read, after Release.
type Pool struct {
	cfg     Config
	cls     classes
	pools   []sync.Pool
	led     *ledger
	budget  *budget
	tracker *tracker
}

// Buffer states, kept in its slab.
const (
	slabInUse = iota
	slabIdle
	slabGone // dropped or detached: the pool no longer accounts for it
)

// slab describes the memory of one pooled buffer: the array a Buffer's B
// refers to. It moves between Buffer handles together with that array. The
// cleanup that accounts for the array when the garbage collector reclaims it
// takes the slab as its argument, so a slab must never refer to the array.
type slab struct {
	led      *ledger
	base     uintptr // address of the array, to notice a B replaced by append
	capacity int     // capacity counted while checked out or idle
	class    int32   // origin class while in use, filing class while idle
	home     uint32
	state    uint8

	// held is the idle-bound tokens this memory holds: taken when it was
	// first retained, kept while it cycles between users and the pool,
	// given back when it leaves (dropped, detached, or reclaimed by the
	// garbage collector). Swapped atomically on the rare paths that give
	// it back, because the cleanup of a replaced array may race with them.
	held atomic.Int64
}

// giveBack returns the tokens s holds.
func (s *slab) giveBack() {
	if t := s.held.Swap(0); t != 0 {
		s.led.give(s.home, t)
	}
}

// New returns a Pool configured by cfg, or an error wrapping
// ErrInvalidConfig that names the offending field.
func New(cfg Config) (*Pool, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Pool{cfg: cfg, cls: newClasses(cfg.MinSize, cfg.MaxSize, cfg.ClassesPerDoubling)}
	p.pools = make([]sync.Pool, len(p.cls.sizes))
	p.led = newLedger(p.cls.sizes, cfg.MaxIdleBytes)
	if cfg.MaxInUseBytes > 0 {
		p.budget = newBudget(cfg.MaxInUseBytes)
	}
	if cfg.Track {
		p.tracker = newTracker()
	}
	return p, nil
}

// Config returns the configuration of p with its defaults filled in.
func (p *Pool) Config() Config { return p.cfg }

// ClassSizes returns the sizes of p's classes in increasing order.
func (p *Pool) ClassSizes() []int { return append([]int(nil), p.cls.sizes...) }

// ClassSize returns the capacity of the buffer Get(n) returns: the size of
// the smallest class holding n bytes, or n itself when n exceeds MaxSize.
func (p *Pool) ClassSize(n int) int {
	if n > p.cfg.MaxSize {
		return n
	}
	return p.cls.sizes[p.cls.of(max(n, 0))]
}

// Get returns an empty buffer with a capacity of at least n bytes. It never
// blocks: with a budget (MaxInUseBytes) its capacity is counted as in use
// even when that exceeds the budget; use Acquire to wait for room instead.
// The caller owns the buffer until it calls Release or Detach.
func (p *Pool) Get(n int) *Buffer {
	b := p.get(n)
	if p.budget != nil {
		b.charged = int64(cap(b.B))
		p.budget.force(b.charged)
	}
	if p.tracker != nil {
		b = p.tracker.checkout(b)
	}
	return b
}

// Acquire is like Get, but with a budget it first waits, in the order the
// callers arrived and without spinning, until the capacity of the buffer
// fits within MaxInUseBytes. Growing the buffer later must also fit: the
// methods that grow it return an error wrapping ErrBudgetExceeded when it
// does not. When ctx ends first, or when n alone exceeds the budget,
// Acquire returns an error that wraps both ErrBudgetExceeded and the cause.
func (p *Pool) Acquire(ctx context.Context, n int) (*Buffer, error) {
	if p.budget == nil {
		return p.Get(n), nil
	}
	size := int64(p.ClassSize(n))
	if err := p.budget.acquire(ctx, size); err != nil {
		return nil, err
	}
	b := p.get(n)
	if cap(b.B) > int(size) {
		p.trim(b, int(size))
	}
	b.charged = size
	b.budgeted = true
	if p.tracker != nil {
		b = p.tracker.checkout(b)
	}
	return b, nil
}

func (p *Pool) get(n int) *Buffer {
	if n > p.cfg.MaxSize {
		return p.getOversize(n)
	}
	return p.getClass(p.cls.of(max(n, 0)))
}

func (p *Pool) getClass(c int) *Buffer {
	if v := p.pools[c].Get(); v != nil {
		b := v.(*Buffer)
		s := b.s
		p.led.add(s.home, c, cHits, 1)
		if extra := int64(s.capacity - p.cls.sizes[c]); extra != 0 {
			p.led.add(s.home, c, cExtraIdle, -extra)
			p.led.add(s.home, c, cExtraInUse, extra)
		}
		if p.cfg.Poison {
			checkPoison(b.B[:cap(b.B)])
		}
		s.state = slabInUse
		return b
	}
	b := p.newBuffer(make([]byte, 0, p.cls.sizes[c]), c)
	p.led.add(b.s.home, c, cMisses, 1)
	return b
}

func (p *Pool) getOversize(n int) *Buffer {
	o := len(p.cls.sizes)
	b := &Buffer{ByteBuffer: bytebufferpool.ByteBuffer{B: make([]byte, 0, n)}, pool: p}
	// No cleanup: an oversize buffer is never retained, so it is never
	// idle. base stays zero so that a Release never mistakes it for one.
	b.s = &slab{led: p.led, capacity: n, class: int32(o), home: p.led.home()}
	p.led.add(b.s.home, o, cMisses, 1)
	p.led.add(b.s.home, o, cExtraInUse, int64(n))
	return b
}

// trim hands out only n bytes of a buffer fresh from get whose capacity is
// larger: an idle buffer filed in its class with more capacity than the
// class size (its B had been replaced). The budget then counts all the
// capacity handed out; the rest of the array stays unused, and out of the
// accounts, for as long as the array lives.
func (p *Pool) trim(b *Buffer, n int) {
	s := b.s
	p.led.add(s.home, int(s.class), cExtraInUse, int64(n-s.capacity))
	s.capacity = n
	b.B = b.B[:0:n]
}

// newBuffer wraps freshly allocated memory in a Buffer of class c, in use.
func (p *Pool) newBuffer(mem []byte, c int) *Buffer {
	s := &slab{
		led:      p.led,
		base:     uintptr(unsafe.Pointer(unsafe.SliceData(mem))),
		capacity: cap(mem),
		class:    int32(c),
		home:     p.led.home(),
	}
	runtime.AddCleanup(unsafe.SliceData(mem), reclaimed, s)
	return &Buffer{ByteBuffer: bytebufferpool.ByteBuffer{B: mem}, pool: p, s: s}
}

// put takes back a buffer whose budget and tracking were settled: it files
// it under the largest class its capacity covers, or drops it.
func (p *Pool) put(b *Buffer) {
	s := b.s
	origin := int(s.class)
	if extra := int64(s.capacity - p.led.sizes[origin]); extra != 0 {
		p.led.add(s.home, origin, cExtraInUse, -extra)
	}
	mem := b.B[:0]
	c := cap(mem)
	switch {
	case c > p.cfg.MaxSize:
		p.drop(b, cDropOversize)
		return
	case c < p.cfg.MinSize:
		p.drop(b, cDropUndersize)
		return
	}
	if uintptr(unsafe.Pointer(unsafe.SliceData(mem))) != s.base {
		// B was replaced (by append, or by hand): the old array's cleanup
		// must stay inert, so this array gets a slab of its own.
		s.giveBack()
		nb := p.newBuffer(mem, origin)
		nb.s.home = s.home
		b.s, s = nb.s, nb.s
	}
	f := origin
	// An oversize buffer (origin past the last class) whose B was replaced
	// by a smaller array is filed like any other.
	if origin == len(p.cls.sizes) || c != p.cls.sizes[origin] {
		f = p.cls.filing(c)
	}
	// Memory that was retained before holds its tokens already: the
	// common path, a buffer cycling through the pool, takes none.
	if held := s.held.Load(); held < int64(c) {
		if !p.led.take(s.home, int64(c)-held) {
			p.drop(b, cDropIdleFull)
			return
		}
		s.held.Store(int64(c))
	}
	p.led.add(s.home, origin, cReleases, 1)
	if f != origin {
		p.led.add(s.home, origin, cMovedOut, 1)
		p.led.add(s.home, f, cMovedIn, 1)
	}
	if extra := int64(c - p.cls.sizes[f]); extra != 0 {
		p.led.add(s.home, f, cExtraIdle, extra)
	}
	switch {
	case p.cfg.Poison:
		poison(mem[:c])
	case p.cfg.ZeroOnRelease:
		clear(mem[:c])
	}
	s.capacity, s.class, s.state = c, int32(f), slabIdle
	b.B = mem
	p.pools[f].Put(b)
}

func (p *Pool) drop(b *Buffer, reason int) {
	s := b.s
	p.led.add(s.home, int(s.class), reason, 1)
	s.giveBack()
	// A dropped buffer is released all the same: a use after release must
	// read poison, or nothing of the body, here too.
	switch {
	case p.cfg.Poison:
		poison(b.B[:cap(b.B)])
	case p.cfg.ZeroOnRelease:
		clear(b.B[:cap(b.B)])
	}
	s.state = slabGone
	b.B, b.s = nil, nil
}

// Prefill allocates count buffers of the class holding size bytes and keeps
// them idle, so that a server starts warm. It stops early when MaxIdleBytes
// is reached and returns the number of buffers added. Like all idle
// buffers, prefilled ones are reclaimed after about two GC cycles unused.
func (p *Pool) Prefill(size, count int) int {
	if size > p.cfg.MaxSize {
		return 0
	}
	c := p.cls.of(max(size, 0))
	for i := range count {
		b := p.newBuffer(make([]byte, 0, p.cls.sizes[c]), c)
		s := b.s
		if !p.led.take(s.home, int64(s.capacity)) {
			s.state = slabGone
			return i
		}
		s.held.Store(int64(s.capacity))
		p.led.add(s.home, c, cPrefilled, 1)
		if p.cfg.Poison {
			poison(b.B[:cap(b.B)])
		}
		s.state = slabIdle
		p.pools[c].Put(b)
	}
	return count
}

func poison(b []byte) {
	for i := range b {
		b[i] = PoisonByte
	}
}

func checkPoison(b []byte) {
	for i, v := range b {
		if v != PoisonByte {
			panic(fmt.Sprintf("bufpool: released buffer was written after Release (byte %d of %d is %#x, not the poison %#x)", i, len(b), v, PoisonByte))
		}
	}
}
