package bufpool

import (
	"sync"
	"sync/atomic"
	"testing"
)

// object is a pooled value that knows whether it is checked out, so that a
// value handed to two users at once, or reset while in use, is caught.
type object struct {
	id    int
	inUse atomic.Bool
	state []byte // what a user left behind; Reset clears it
}

// objectPool returns a pool of *object whose New and Reset calls are
// counted in news and resets.
func objectPool(maxIdle int, news, resets *atomic.Int64) *ObjectPool[*object] {
	return &ObjectPool[*object]{
		New: func() *object {
			return &object{id: int(news.Add(1))}
		},
		Reset: func(o *object) {
			resets.Add(1)
			o.state = o.state[:0]
		},
		MaxIdle: maxIdle,
	}
}

func checkObjectStats(t *testing.T, got ObjectStats, want ObjectStats) {
	t.Helper()
	if got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	if got.Gets != got.Hits+got.Misses {
		t.Errorf("gets %d != hits %d + misses %d", got.Gets, got.Hits, got.Misses)
	}
}

func TestObjectPoolNewAndReset(t *testing.T) {
	t.Parallel()
	var news, resets atomic.Int64
	p := objectPool(0, &news, &resets)

	a := p.Get() // miss: New
	if news.Load() != 1 || resets.Load() != 0 {
		t.Fatalf("first Get: %d New, %d Reset calls; want 1 and 0", news.Load(), resets.Load())
	}
	a.state = append(a.state, "user data"...)
	p.Put(a) // Reset before it is kept
	if resets.Load() != 1 {
		t.Fatalf("Put: %d Reset calls, want 1", resets.Load())
	}
	b := p.Get() // hit: neither New nor Reset
	if b != a || len(b.state) != 0 {
		t.Fatalf("Get after Put: %p with state %q, want the reset %p", b, b.state, a)
	}
	if news.Load() != 1 || resets.Load() != 1 {
		t.Errorf("hit: %d New, %d Reset calls; want 1 and 1", news.Load(), resets.Load())
	}
	c := p.Get() // miss while b is out
	if c == b || news.Load() != 2 {
		t.Errorf("Get while the only value is out: %d New calls, same value %v", news.Load(), c == b)
	}
	p.Put(b)
	p.Put(c)
	checkObjectStats(t, p.Stats(), ObjectStats{Gets: 3, Hits: 1, Misses: 2, Puts: 3, Idle: 2})

	// Reset is optional.
	q := &ObjectPool[[]byte]{New: func() []byte { return make([]byte, 0, 64) }}
	v := q.Get()
	q.Put(append(v, 'x'))
	if w := q.Get(); len(w) != 1 {
		t.Errorf("without Reset a value comes back as it was put, got %q", w)
	}
}

func TestObjectPoolMaxIdle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		maxIdle  int
		wantIdle int
	}{
		{"zero is the default", 0, DefaultMaxIdleObjects},
		{"bounded", 3, 3},
		{"one", 1, 1},
		{"negative keeps none", -1, 0},
		{"above the puts", 1000, 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var news, resets atomic.Int64
			p := objectPool(tt.maxIdle, &news, &resets)
			const n = 300
			vals := make([]*object, n)
			for i := range vals {
				vals[i] = p.Get()
			}
			for _, v := range vals {
				p.Put(v)
			}
			if got := p.Idle(); got != tt.wantIdle {
				t.Errorf("Idle() = %d after %d Puts, want %d", got, n, tt.wantIdle)
			}
			checkObjectStats(t, p.Stats(), ObjectStats{
				Gets: n, Misses: n, Puts: uint64(tt.wantIdle), Drops: uint64(n - tt.wantIdle), Idle: tt.wantIdle,
			})
			// Every idle value serves one Get; then New takes over.
			for range tt.wantIdle + 2 {
				p.Get()
			}
			if news.Load() != n+2 {
				t.Errorf("%d New calls, want %d", news.Load(), n+2)
			}
			checkObjectStats(t, p.Stats(), ObjectStats{
				Gets: uint64(n + tt.wantIdle + 2), Hits: uint64(tt.wantIdle), Misses: n + 2,
				Puts: uint64(tt.wantIdle), Drops: uint64(n - tt.wantIdle),
			})
		})
	}
}

func TestObjectPoolPrefill(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		maxIdle   int
		idle      int // values Put before Prefill
		prefill   int
		wantAdded int
	}{
		{"under the bound", 10, 0, 4, 4},
		{"stops at MaxIdle", 10, 0, 50, 10},
		{"counts idle values", 10, 7, 50, 3},
		{"full already", 5, 5, 3, 0},
		{"default bound", 0, 0, 1000, DefaultMaxIdleObjects},
		{"negative keeps none", -1, 0, 5, 0},
		{"nothing asked", 10, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var news, resets atomic.Int64
			p := objectPool(tt.maxIdle, &news, &resets)
			var vals []*object
			for range tt.idle {
				vals = append(vals, p.Get())
			}
			for _, v := range vals {
				p.Put(v)
			}
			before := news.Load()
			if got := p.Prefill(tt.prefill); got != tt.wantAdded {
				t.Errorf("Prefill(%d) added %d, want %d", tt.prefill, got, tt.wantAdded)
			}
			// New makes only the values Prefill keeps.
			if got := news.Load() - before; got != int64(tt.wantAdded) {
				t.Errorf("Prefill called New %d times to add %d values", got, tt.wantAdded)
			}
			if got := p.Idle(); got != tt.idle+tt.wantAdded {
				t.Errorf("Idle() = %d, want %d", got, tt.idle+tt.wantAdded)
			}
			// Prefilled values are hits, not counted as Puts.
			st := p.Stats()
			if st.Puts != uint64(tt.idle) || st.Gets != uint64(tt.idle) || st.Drops != 0 {
				t.Errorf("stats after Prefill %+v", st)
			}
			for range tt.idle + tt.wantAdded {
				p.Get()
			}
			if st := p.Stats(); st.Hits != uint64(tt.idle+tt.wantAdded) || st.Idle != 0 {
				t.Errorf("after taking the idle values: %+v", st)
			}
		})
	}
}

// TestObjectPoolConcurrent hammers one pool from many goroutines while
// another reads its statistics: no value is ever handed to two users, and
// at rest every counter balances exactly. Run it with -race.
func TestObjectPoolConcurrent(t *testing.T) {
	t.Parallel()
	var news, resets atomic.Int64
	const maxIdle = 4
	p := objectPool(maxIdle, &news, &resets)
	p.Prefill(2)
	workers, ops := 8, 5000
	if raceEnabled {
		ops = 1000
	}
	stop := make(chan struct{})
	var polled sync.WaitGroup
	polled.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			// Read under load: figures may lag each other, but Misses
			// must never wrap around below zero.
			if st := p.Stats(); st.Misses > st.Gets {
				t.Errorf("misses %d above gets %d under load", st.Misses, st.Gets)
				return
			}
		}
	})
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			held := make([]*object, 0, 3)
			for i := range ops {
				o := p.Get()
				if !o.inUse.CompareAndSwap(false, true) {
					t.Errorf("object %d handed out twice", o.id)
					return
				}
				if len(o.state) != 0 {
					t.Errorf("object %d handed out with state %q", o.id, o.state)
				}
				o.state = append(o.state, byte(i))
				held = append(held, o)
				if len(held) == cap(held) || i%2 == 0 {
					for _, h := range held {
						h.inUse.Store(false)
						p.Put(h)
					}
					held = held[:0]
				}
			}
			for _, h := range held {
				h.inUse.Store(false)
				p.Put(h)
			}
		})
	}
	wg.Wait()
	close(stop)
	polled.Wait()

	st := p.Stats()
	gets := uint64(workers * ops)
	if st.Gets != gets || st.Hits+st.Misses != gets {
		t.Errorf("gets %d (hits %d + misses %d), want %d", st.Gets, st.Hits, st.Misses, gets)
	}
	if st.Misses != uint64(news.Load()-2) {
		t.Errorf("misses %d, New called %d times after prefilling 2", st.Misses, news.Load()-2)
	}
	if st.Puts+st.Drops != gets {
		t.Errorf("puts %d + drops %d, want %d", st.Puts, st.Drops, gets)
	}
	if r := uint64(resets.Load()); r < st.Puts || r > gets {
		t.Errorf("%d resets for %d values kept of %d put", r, st.Puts, gets)
	}
	if want := 2 + int(st.Puts) - int(st.Hits); st.Idle != want || st.Idle > maxIdle {
		t.Errorf("idle %d, want prefilled 2 + puts %d - hits %d = %d, at most %d", st.Idle, st.Puts, st.Hits, want, maxIdle)
	}
}
