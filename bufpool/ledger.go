package bufpool

import (
	"math/rand/v2"
	"runtime"
	"sync/atomic"
)

// Counter kinds kept per class and shard. Gets, in-use and idle figures are
// derived from these when Stats is called, so that the hot path performs
// the fewest atomic writes possible.
const (
	cHits       = iota // checkouts served from the pool, but for cLent (origin class)
	cMisses            // checkouts that allocated (origin class)
	cReleases          // buffers returned and retained strongly (origin class)
	cMovedOut          // retained buffers filed in another class (origin class)
	cMovedIn           // retained buffers filed here from another class (filing class)
	cPrefilled         // buffers allocated idle by Prefill (filing class)
	cEvicted           // idle buffers reclaimed by the garbage collector (filing class)
	cDecayed           // idle buffers let go after IdleTimeout unused (filing class)
	cLent              // hits by a Get of a smaller class (origin and filing class)
	cExtraInUse        // capacity checked out beyond the class size (origin class)
	cExtraIdle         // idle capacity beyond the class size (filing class)
	cDropOversize
	cDropUndersize
	cDropDetached
	cWeakReleases  // releases that found the idle bound reached (origin class)
	cWeakIdle      // idle buffers kept weakly (filing class)
	cWeakIdleExtra // their capacity beyond the class size (filing class)
	nCounters
)

// ledger holds a pool's counters and its idle-byte tokens. It never refers
// to a buffer, so that it can be reached from the cleanups that account for
// buffers the garbage collector reclaims.
//
// Counters are sharded: every buffer has a home shard, chosen at random when
// its memory is allocated, and every counter a buffer moves is in its home
// shard. Goroutines working with different buffers thus write different
// cache lines, and no single line is written by every Get.
//
// The idle bound is kept with tokens: the shards together hold
// MaxIdleBytes minus the capacity the pool retains. Retaining memory for
// the first time takes tokens from its home shard (stealing from the others
// when it runs short, which is rare); the memory then holds them while it
// cycles between users and the pool, so the common Get and Release touch
// no tokens at all, and gives them back when it leaves the pool for good.
type ledger struct {
	sizes  []int // class sizes; the oversize pseudo-class has size 0
	shards []*shard
	mask   uint32
	// full is set when a steal found too few tokens in all the shards, and
	// cleared by the next give: while the bound stays reached, a release
	// that finds its home shard short fails at once instead of sweeping
	// every shard again.
	full atomic.Bool
}

type shard struct {
	_      [64]byte
	tokens atomic.Int64
	_      [56]byte
	c      []atomic.Int64
}

func newLedger(sizes []int, maxIdle int64) *ledger {
	n := 8
	for n < 4*runtime.GOMAXPROCS(0) && n < 64 {
		n *= 2
	}
	l := &ledger{sizes: append(sizes[:len(sizes):len(sizes)], 0), mask: uint32(n - 1)}
	per := maxIdle / int64(n)
	for i := range n {
		// Padding on both sides keeps shards off each other's cache lines.
		counters := make([]atomic.Int64, len(l.sizes)*nCounters+16)
		s := &shard{c: counters[8 : len(counters)-8]}
		s.tokens.Store(per)
		if i == 0 {
			s.tokens.Add(maxIdle - per*int64(n))
		}
		l.shards = append(l.shards, s)
	}
	return l
}

func (l *ledger) home() uint32 { return rand.Uint32() & l.mask }

// row returns the counters of a class in shard home.
func (l *ledger) row(home uint32, class int) *[nCounters]atomic.Int64 {
	return (*[nCounters]atomic.Int64)(l.shards[home].c[class*nCounters:])
}

func (l *ledger) add(home uint32, class, kind int, delta int64) {
	l.shards[home].c[class*nCounters+kind].Add(delta)
}

// weakIdle counts n more idle buffers of the given capacity kept weakly in
// class (n is -1 when one stops being so).
func (l *ledger) weakIdle(home uint32, class int, n, capacity int64) {
	l.add(home, class, cWeakIdle, n)
	if extra := capacity - int64(l.sizes[class]); extra != 0 {
		l.add(home, class, cWeakIdleExtra, n*extra)
	}
}

// take takes n idle tokens for a buffer of the given home shard, reporting
// whether the idle bound leaves room for it.
func (l *ledger) take(home uint32, n int64) bool {
	t := &l.shards[home].tokens
	if t.Add(-n) >= 0 {
		return true
	}
	t.Add(n)
	if l.full.Load() {
		return false
	}
	if l.steal(home, n) {
		return true
	}
	l.full.Store(true)
	return false
}

// short reports, without taking any, that a take of n tokens for home
// would fail now: the bound was found reached and no token came back since,
// and home's shard holds fewer than n. It may be wrong the instant after;
// like a failed take, that only keeps a buffer weakly.
func (l *ledger) short(home uint32, n int64) bool {
	return l.full.Load() && l.shards[home].tokens.Load() < n
}

// steal gathers tokens from the other shards into home and takes n of them.
// Tokens in transit may make a concurrent take fail spuriously, which only
// keeps a buffer weakly; the bound itself always holds.
func (l *ledger) steal(home uint32, n int64) bool {
	var got int64
	for i := 1; i < len(l.shards) && got < n; i++ {
		got += l.shards[(home+uint32(i))&l.mask].tokens.Swap(0)
	}
	t := &l.shards[home].tokens
	got += t.Swap(0)
	if got >= n {
		t.Add(got - n)
		return true
	}
	t.Add(got)
	return false
}

func (l *ledger) give(home uint32, n int64) {
	l.shards[home].tokens.Add(n)
	if l.full.Load() {
		l.full.Store(false)
	}
}

func (l *ledger) tokens() int64 {
	var sum int64
	for _, s := range l.shards {
		sum += s.tokens.Load()
	}
	return sum
}

// counters sums one class's counters over all shards.
func (l *ledger) counters(class int) (sum [nCounters]int64) {
	for _, s := range l.shards {
		for k := range sum {
			sum[k] += s.c[class*nCounters+k].Load()
		}
	}
	return sum
}

// reclaimed is the cleanup run when the memory of a buffer is no longer
// reachable: idle memory the garbage collector took from a sync.Pool or
// from behind a weak pointer, or the old array of a buffer whose B was
// replaced. Its tokens go back to the idle bound; idle memory is also
// counted as evicted.
func reclaimed(s *slab) {
	s.giveBack()
	if s.state != slabIdle {
		return
	}
	l := s.led
	l.add(s.home, int(s.class), cEvicted, 1)
	if s.weak {
		l.weakIdle(s.home, int(s.class), -1, int64(s.capacity))
	}
	if extra := s.capacity - l.sizes[s.class]; extra != 0 {
		l.add(s.home, int(s.class), cExtraIdle, -int64(extra))
	}
}
