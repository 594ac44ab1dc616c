package bufpool

import (
	"context"
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
	"weak"

	"github.com/valyala/bytebufferpool"
)

// Pool is a set of size-classed pools of byte buffers with bounds on the
// memory it keeps idle and, optionally, on the memory checked out of it.
//
// Get(n) returns a buffer from the smallest class that holds n bytes;
// Release files it back under the largest class its capacity covers. When
// the class of n holds no idle buffer, Get takes one from the next
// ClassesPerDoubling-1 classes, all under twice its size, and when none
// has one it allocates a buffer of the top of its doubling, MinSize times
// a power of two (a pool with a budget does neither): the caller sees only
// the class size of it, and Release gives the whole buffer back to its
// class. Idle memory thus gathers in one class per doubling, while what a
// Get returns keeps the bound of its own class.
//
// Each class is a sync.Pool, so idle buffers live in per-processor caches
// and are reclaimed by the garbage collector after about two cycles
// without use; they also decay by time: a buffer unused for IdleTimeout is
// let go (see Config.IdleTimeout). Up to MaxIdleBytes, idle buffers are
// kept strongly; a buffer released beyond that is kept weakly, through a
// weak pointer, so that a Get may still reuse it until the next collection
// reclaims it (see Config.MaxIdleBytes). A class never receives a buffer
// smaller than its size, and buffers larger than MaxSize are never
// retained, so a stream of small requests cannot pin giant buffers.
//
// A Pool is safe for concurrent use by multiple goroutines. A Buffer it
// hands out belongs to the caller until Release or Detach, and must not be
// used, nor its bytes read, after Release.
type Pool struct {
	cfg     Config
	cls     classes
	classes []class
	led     *ledger
	budget  *budget
	tracker *tracker
	// plain is set when released buffers need no pass over their bytes
	// (neither Poison nor ZeroOnRelease): the fast release path applies.
	plain bool
	// checked is set when a Get has more to do than take a buffer: a
	// budget to charge or a checkout to track.
	checked bool
	// borrow is the number of larger classes a Get whose class is empty
	// may take an idle buffer from: ClassesPerDoubling-1, or 0 with a
	// budget, which must count every byte checked out.
	borrow int

	decay decay
}

// class is one size class: a sync.Pool of idle buffers, each a *Buffer
// kept strongly or a weak.Pointer[Buffer], and a hint that it was found
// empty, so that a Get can go past it without a probe of every processor's
// cache. The hint is set by a Get that found nothing, cleared by the next
// Put; a stale hint costs at most one miss, whose Release clears it.
// Padded so that classes do not share cache lines.
type class struct {
	pool  sync.Pool
	empty atomic.Bool
	_     [128 - unsafe.Sizeof(sync.Pool{}) - 4]byte
}

// put files an idle buffer: strongly when its memory holds its idle
// tokens, else weakly.
func (cl *class) put(b *Buffer) {
	if cl.empty.Load() {
		cl.empty.Store(false)
	}
	if b.s.weak {
		if b.self == (weak.Pointer[Buffer]{}) {
			b.self = weak.Make(b)
		}
		//lint:ignore SA6002 weak.Pointer is stored in an interface without allocating.
		cl.pool.Put(b.self)
		return
	}
	cl.pool.Put(b)
}

// get takes an idle buffer, skipping weak pointers whose buffer the
// garbage collector reclaimed (their cleanup accounts for them), or
// returns nil when the class has none.
func (cl *class) get() *Buffer {
	return cl.resolve(cl.pool.Get())
}

// resolve returns the buffer of v, an entry taken from cl.pool (nil when
// it had none): v itself, or what v points to weakly, or, when the
// collector reclaimed that, the buffer of the next entry.
func (cl *class) resolve(v any) *Buffer {
	for ; v != nil; v = cl.pool.Get() {
		switch v := v.(type) {
		case *Buffer:
			return v
		case weak.Pointer[Buffer]:
			if b := v.Value(); b != nil {
				return b
			}
		}
	}
	return nil
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
	// fast is set while the capacity is the size of its class: Get and
	// Release then take their fast paths.
	fast bool
	// weak is set while the memory holds no tokens: it was last released
	// while the idle bound was reached, and is kept weakly while idle. It
	// stays set while a Get has the buffer out, so that its next Release
	// keeps it weakly again at once while the bound is still reached.
	weak bool
	// row is the counters of class in the home shard, kept by setClass,
	// to spare the hot paths a lookup.
	row *[nCounters]atomic.Int64
	// idleSince is the pool's decay epoch when the buffer was last
	// released: the time decay lets it go after IdleTimeout unused.
	idleSince uint32

	// held is the idle-bound tokens this memory holds: taken when it was
	// first retained, kept while it cycles between users and the pool,
	// given back when it leaves (dropped, detached, or reclaimed by the
	// garbage collector). Swapped atomically on the rare paths that give
	// it back, because the cleanup of a replaced array may race with them.
	held atomic.Int64
}

// setClass sets s's class and the counters its fast paths move.
func (s *slab) setClass(c int) {
	s.class = int32(c)
	s.row = s.led.row(s.home, c)
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
	p.classes = make([]class, len(p.cls.sizes))
	p.led = newLedger(p.cls.sizes, cfg.MaxIdleBytes)
	p.plain = !cfg.Poison && !cfg.ZeroOnRelease
	p.borrow = cfg.ClassesPerDoubling - 1
	if cfg.MaxInUseBytes > 0 {
		p.budget = newBudget(cfg.MaxInUseBytes)
		p.borrow = 0
	}
	if cfg.Track {
		p.tracker = newTracker()
	}
	p.checked = p.budget != nil || p.tracker != nil
	p.decay.init(p)
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

// Get returns an empty buffer with a capacity of at least n bytes:
// ClassSize(n), or more for a buffer whose B was replaced by a larger one
// before it was released. It never blocks: with a budget (MaxInUseBytes)
// its capacity is counted as in use even when that exceeds the budget; use
// Acquire to wait for room instead. The caller owns the buffer until it
// calls Release or Detach.
func (p *Pool) Get(n int) *Buffer {
	var b *Buffer
	if uint(n) <= uint(p.cfg.MaxSize) {
		// p.cls.of(n), by hand: the compiler does not inline it.
		c := 0
		if n > p.cls.sizes[0] {
			if p.cls.pow2 {
				m := uint(n - 1)
				l := bits.Len(m)
				c = l<<p.cls.lk + int(m>>(l-1-p.cls.lk)) + p.cls.off
			} else {
				c = p.cls.lookup(n)
			}
		}
		b = p.getClass(c)
	} else {
		b = p.get(n)
	}
	if p.checked {
		if p.budget != nil {
			b.charged = int64(cap(b.B))
			p.budget.force(b.charged)
		}
		if p.tracker != nil {
			b = p.tracker.checkout(b)
		}
	}
	return b
}

// Acquire is like Get, but with a budget it first waits, in the order the
// callers arrived and without spinning, until the capacity of the buffer
// fits within MaxInUseBytes. Growing the buffer later must also fit: the
// methods that grow it return an error wrapping ErrBudgetExceeded when it
// does not. When ctx ends first, or when n alone exceeds the budget,
// Acquire returns an error that wraps both ErrBudgetExceeded and the cause.
// With a ctx that has already ended, Acquire still succeeds if the budget
// has room at once and nobody waits ahead, as
// golang.org/x/sync/semaphore.Weighted.Acquire does; a failure then counts
// as a budget rejection in Stats. To ask without it counting, use
// TryAcquire.
func (p *Pool) Acquire(ctx context.Context, n int) (*Buffer, error) {
	if p.budget == nil {
		return p.Get(n), nil
	}
	size := int64(p.ClassSize(n))
	if err := p.budget.acquire(ctx, size); err != nil {
		return nil, err
	}
	return p.admitted(n, size), nil
}

func (p *Pool) get(n int) *Buffer {
	if uint(n) > uint(p.cfg.MaxSize) {
		if n > 0 {
			return p.getOversize(n)
		}
		n = 0
	}
	return p.getClass(p.cls.of(n))
}

// getClass serves a Get of class c: from an idle buffer of c, or, when c
// has none, of one of the next p.borrow classes, whose sizes are all below
// twice c's, or else from new memory of missClass(c)'s size, lent the same
// way.
//
// A buffer of a larger class f is lent: its B is cut to c's size, so that
// what Get returns keeps c's bound; it is counted as taken from f, whose
// capacity it keeps, and Release restores its whole capacity. Either way,
// one atomic write.
func (p *Pool) getClass(c int) *Buffer {
	last := min(c+p.borrow, len(p.classes)-1)
	for f := c; f <= last; f++ {
		cl := &p.classes[f]
		if cl.empty.Load() {
			continue
		}
		// cl.get(), with its common case by hand: the compiler does not
		// inline it.
		v := cl.pool.Get()
		b, strong := v.(*Buffer)
		if !strong {
			if b = cl.resolve(v); b == nil {
				cl.empty.Store(true)
				continue
			}
		}
		s := b.s
		if !s.fast || p.cfg.Poison {
			p.hitSlow(b, f)
		} else if s.weak {
			s.row[cWeakIdle].Add(-1)
		}
		if f == c {
			s.row[cHits].Add(1)
		} else {
			s.row[cLent].Add(1)
			p.lend(b, c)
		}
		s.state = slabInUse
		return b
	}
	f := p.missClass(c)
	b := p.newBuffer(make([]byte, 0, p.cls.sizes[f]), f)
	p.led.add(b.s.home, f, cMisses, 1)
	if f != c {
		p.lend(b, c)
	}
	return b
}

// lend cuts b, a buffer of a larger class than c, to c's size for a Get of
// class c, keeping the whole array in full for Release.
func (p *Pool) lend(b *Buffer, c int) {
	b.full = b.B
	b.B = b.B[:0:p.cls.sizes[c]]
}

// missClass returns the class whose size a miss of class c allocates: the
// top of c's doubling, whose buffer is then lent to the Get as the loop of
// getClass would have lent an idle one. Idle memory thus gathers in one
// class per doubling, where a Get of any class of the doubling finds it,
// rather than spreading over all of them. Without lending (a pool with a
// budget), it is c itself.
func (p *Pool) missClass(c int) int {
	if p.borrow == 0 {
		return c
	}
	return int(p.cls.top[c])
}

// hitSlow completes a hit on an idle buffer of class f whose capacity is
// not the class size, or of a pool in Poison mode.
func (p *Pool) hitSlow(b *Buffer, f int) {
	s := b.s
	if s.weak {
		p.led.weakIdle(s.home, f, -1, int64(s.capacity))
	}
	if extra := int64(s.capacity - p.cls.sizes[f]); extra != 0 {
		p.led.add(s.home, f, cExtraIdle, -extra)
		p.led.add(s.home, f, cExtraInUse, extra)
	}
	if p.cfg.Poison {
		checkPoison(b.B[:cap(b.B)])
	}
}

func (p *Pool) getOversize(n int) *Buffer {
	o := len(p.cls.sizes)
	b := &Buffer{ByteBuffer: bytebufferpool.ByteBuffer{B: make([]byte, 0, n)}, pool: p}
	// No cleanup: an oversize buffer is never retained, so it is never
	// idle. base stays zero so that a Release never mistakes it for one.
	home := p.led.home()
	b.s = &slab{led: p.led, capacity: n, home: home}
	b.s.setClass(o)
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
	s.capacity, s.fast = n, false
	b.B = b.B[:0:n]
}

// newBuffer wraps freshly allocated memory in a Buffer of class c, in use.
func (p *Pool) newBuffer(mem []byte, c int) *Buffer {
	s := &slab{
		led:      p.led,
		base:     uintptr(unsafe.Pointer(unsafe.SliceData(mem))),
		capacity: cap(mem),
	}
	s.home = p.led.home()
	s.setClass(c)
	runtime.AddCleanup(unsafe.SliceData(mem), reclaimed, s)
	return &Buffer{ByteBuffer: bytebufferpool.ByteBuffer{B: mem}, pool: p, s: s}
}

// put takes back a buffer whose budget and tracking were settled: it files
// it under the largest class its capacity covers, or drops it.
func (p *Pool) put(b *Buffer) {
	if b.full != nil {
		// Lent, and cut: unless B was replaced, the whole array comes back.
		if unsafe.SliceData(b.B) == unsafe.SliceData(b.full) {
			b.B = b.full
		}
		b.full = nil
	}
	s := b.s
	if s.fast && p.plain && cap(b.B) == s.capacity && s.base == uintptr(unsafe.Pointer(unsafe.SliceData(b.B))) {
		// A buffer of its class's size, cycling through the pool.
		if s.held.Load() >= int64(s.capacity) {
			// It holds its idle tokens already: the common case, one
			// atomic write.
			s.row[cReleases].Add(1)
			b.B = b.B[:0]
			s.idleSince = p.decay.epoch.Load()
			s.state = slabIdle
			// p.classes[s.class].put(b), by hand: the compiler does not
			// inline it.
			cl := &p.classes[s.class]
			if cl.empty.Load() {
				cl.empty.Store(false)
			}
			cl.pool.Put(b)
			return
		}
		if s.weak && p.led.short(s.home, int64(s.capacity)) {
			// It holds none, and the idle bound is still reached: it is
			// kept weakly again, for two atomic writes.
			s.row[cWeakReleases].Add(1)
			s.row[cWeakIdle].Add(1)
			b.B = b.B[:0]
			s.idleSince = p.decay.epoch.Load()
			s.state = slabIdle
			p.decay.arm()
			p.classes[s.class].put(b)
			return
		}
	}
	p.putSlow(b, b.B[:0])
}

func (p *Pool) putSlow(b *Buffer, mem []byte) {
	s := b.s
	origin := int(s.class)
	if extra := int64(s.capacity - p.led.sizes[origin]); extra != 0 {
		p.led.add(s.home, origin, cExtraInUse, -extra)
	}
	sameArray := s.base != 0 && uintptr(unsafe.Pointer(unsafe.SliceData(mem))) == s.base
	c := cap(mem)
	switch {
	case c > p.cfg.MaxSize:
		p.drop(b, cDropOversize)
		return
	case c < p.cfg.MinSize:
		p.drop(b, cDropUndersize)
		return
	}
	if !sameArray {
		// B was replaced (by append, or by hand): the old array's cleanup
		// must stay inert, so this array gets a slab of its own.
		s.giveBack()
		nb := p.newBuffer(mem, origin)
		nb.s.home = s.home
		nb.s.setClass(origin)
		b.s, s = nb.s, nb.s
	}
	f := origin
	// An oversize buffer (origin past the last class) whose B was replaced
	// by a smaller array is filed like any other.
	if origin == len(p.cls.sizes) || c != p.cls.sizes[origin] {
		f = p.cls.filing(c)
	}
	// Memory that was retained before holds its tokens already: the
	// common path, a buffer cycling through the pool, takes none. Memory
	// that finds the idle bound reached is kept weakly, without tokens.
	if held := s.held.Load(); held < int64(c) {
		if p.led.take(s.home, int64(c)-held) {
			s.held.Store(int64(c))
			s.weak = false
		} else {
			s.giveBack()
			s.weak = true
		}
		p.decay.arm()
	}
	if s.weak {
		p.led.add(s.home, origin, cWeakReleases, 1)
		p.led.weakIdle(s.home, f, 1, int64(c))
	} else {
		p.led.add(s.home, origin, cReleases, 1)
	}
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
	s.capacity, s.state = c, slabIdle
	s.setClass(f)
	s.fast = c == p.cls.sizes[f]
	s.idleSince = p.decay.epoch.Load()
	b.B = mem
	p.classes[f].put(b)
}

func (p *Pool) drop(b *Buffer, reason int) {
	s := b.s
	mem := b.B
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
	p.decay.letGo(int64(cap(mem)))
}

// Prefill allocates count buffers of the class holding size bytes and keeps
// them idle, so that a server starts warm. It stops early when MaxIdleBytes
// is reached and returns the number of buffers added. Like all idle
// buffers, prefilled ones are let go after IdleTimeout unused, and
// reclaimed after about two GC cycles unused.
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
		s.fast = true
		p.led.add(s.home, c, cPrefilled, 1)
		if p.cfg.Poison {
			poison(b.B[:cap(b.B)])
		}
		s.state = slabIdle
		s.idleSince = p.decay.epoch.Load()
		p.classes[c].put(b)
		p.decay.arm()
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
