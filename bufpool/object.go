package bufpool

import (
	"sync"
	"sync/atomic"
)

// DefaultMaxIdleObjects is the number of idle objects an ObjectPool keeps
// when its MaxIdle is zero.
const DefaultMaxIdleObjects = 256

// ObjectPool is a pool of reusable values of type T, such as gzip writers,
// encoders or per-request wrappers. Unlike sync.Pool it keeps at most
// MaxIdle idle values, does not lose them to the garbage collector, and
// counts hits and misses exactly.
//
// Set New (required) and optionally Reset and MaxIdle before first use;
// they must not change afterwards. An ObjectPool must not be copied after
// first use. Its methods are safe for concurrent use by multiple goroutines.
type ObjectPool[T any] struct {
	// New makes a value when no idle one is available.
	New func() T
	// Reset, if set, is called by Put before a value is kept idle, to clear
	// its state so that nothing of one user reaches the next.
	Reset func(T)
	// MaxIdle bounds the idle values kept: zero means
	// DefaultMaxIdleObjects, a negative value keeps none.
	MaxIdle int

	mu   sync.Mutex
	idle []T

	gets, hits, puts, drops atomic.Uint64
}

// ObjectStats is a snapshot of an ObjectPool's counters. At rest, Gets ==
// Hits + Misses.
type ObjectStats struct {
	Gets, Hits, Misses uint64
	// Puts counts values kept idle by Put, Drops those Put discarded
	// because MaxIdle idle values were kept already.
	Puts, Drops uint64
	// Idle is the number of idle values now.
	Idle int
}

func (p *ObjectPool[T]) maxIdle() int {
	switch {
	case p.MaxIdle == 0:
		return DefaultMaxIdleObjects
	case p.MaxIdle < 0:
		return 0
	}
	return p.MaxIdle
}

// Get returns an idle value, or a new one from New. The caller owns it
// until it passes it to Put.
func (p *ObjectPool[T]) Get() T {
	p.gets.Add(1)
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		v := p.idle[n-1]
		var zero T
		p.idle[n-1] = zero
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		p.hits.Add(1)
		return v
	}
	p.mu.Unlock()
	return p.New()
}

// Put resets v with Reset and keeps it idle, or drops it when MaxIdle
// values are idle already. v must not be used after Put.
func (p *ObjectPool[T]) Put(v T) {
	if p.Reset != nil {
		p.Reset(v)
	}
	p.mu.Lock()
	if len(p.idle) >= p.maxIdle() {
		p.mu.Unlock()
		p.drops.Add(1)
		return
	}
	p.idle = append(p.idle, v)
	p.mu.Unlock()
	p.puts.Add(1)
}

// Prefill adds up to n new values, from New, to the idle ones, stopping at
// MaxIdle, and returns how many it added.
func (p *ObjectPool[T]) Prefill(n int) int {
	added := 0
	for ; added < n; added++ {
		if p.Idle() >= p.maxIdle() {
			break // before New: a value made only to be dropped is waste
		}
		v := p.New()
		p.mu.Lock()
		if len(p.idle) >= p.maxIdle() {
			p.mu.Unlock()
			break
		}
		p.idle = append(p.idle, v)
		p.mu.Unlock()
	}
	return added
}

// Idle returns the number of idle values.
func (p *ObjectPool[T]) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// Stats returns a snapshot of p's counters.
func (p *ObjectPool[T]) Stats() ObjectStats {
	// Get counts a get before its hit, so hits read first never exceed
	// the gets read after them, and Misses never wraps around under load.
	hits := p.hits.Load()
	s := ObjectStats{Gets: p.gets.Load(), Hits: hits, Puts: p.puts.Load(), Drops: p.drops.Load(), Idle: p.Idle()}
	s.Misses = s.Gets - s.Hits
	return s
}
