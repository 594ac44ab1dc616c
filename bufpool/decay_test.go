package bufpool

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
)

// Under the race detector sync.Pool drops a quarter of Puts at random, and
// two garbage collections (from any test's allocations) drop its idle
// buffers: such a buffer stays counted idle until its cleanup runs. The
// tests below check the invariants always, and exact counts only when
// exact says so; those that check counts are not parallel, so that other
// tests' allocations seldom cause a collection.

// oneProc runs the rest of a test that is not parallel on one processor,
// so that sync.Pool's per-processor caches do not hide a buffer released on
// one processor from a Get or a trim on another.
func oneProc(t *testing.T) {
	t.Helper()
	prev := runtime.GOMAXPROCS(1)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
}

// exact reports whether counts of idle buffers can be checked exactly: not
// under the race detector, and no collection since gcs was read.
func exact(gcs uint32) bool { return !raceEnabled && gcCount() == gcs }

// quietPool returns a pool of cfg without its decay timer, on one
// processor for the rest of the test, and the collection count that
// exact compares with.
func quietPool(t *testing.T, cfg Config) (*Pool, uint32) {
	oneProc(t)
	cfg.IdleTimeout = noTimer
	gcs := gcCount()
	return newPool(t, cfg), gcs
}

// noTimer is an IdleTimeout long enough that the trim timer never fires
// during a test: tests that count trims call trim themselves.
const noTimer = time.Hour

// releaseAll releases every buffer of bufs.
func releaseAll(bufs []*Buffer) {
	for _, b := range bufs {
		b.Release()
	}
}

// getEach gets one buffer of each size.
func getEach(p *Pool, sizes ...int) []*Buffer {
	var bufs []*Buffer
	for _, n := range sizes {
		bufs = append(bufs, p.Get(n))
	}
	return bufs
}

func TestDecayLetsGoUnusedBuffers(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"default", Config{}},
		{"poison", Config{Poison: true}},
		{"zero", Config{ZeroOnRelease: true}},
		{"one per doubling", Config{ClassesPerDoubling: 1}},
		{"track", Config{Track: true}},
	}
	sizes := []int{1000, 5000, 70 << 10, 1 << 20}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oneProc(t)
			tt.cfg.IdleTimeout = noTimer
			tt.cfg.FreeOSMemoryInterval = -1
			gcs := gcCount()
			p := newPool(t, tt.cfg)
			var want int64
			for _, n := range sizes {
				// A miss allocates at the top of the doubling.
				want += int64(p.cls.sizes[p.missClass(p.cls.of(n))])
			}
			releaseAll(getEach(p, sizes...))
			// Released before trim 1: kept by trims 1 and 2, let go by 3.
			for trim := 1; trim <= decayTicks; trim++ {
				freed := p.decay.trim()
				st := checkInvariants(t, p)
				checkTokensExact(t, p)
				if !exact(gcs) {
					continue
				}
				if trim < decayTicks {
					if freed != 0 || st.Total.Decayed != 0 || st.Total.IdleBytes != want {
						t.Fatalf("trim %d: freed %d, decayed %d, idle %d bytes; want all %d bytes kept", trim, freed, st.Total.Decayed, st.Total.IdleBytes, want)
					}
					continue
				}
				if freed != want || st.Total.Decayed != uint64(len(sizes)) || st.Total.Idle != 0 || st.Total.IdleBytes != 0 {
					t.Fatalf("trim %d: freed %d, decayed %d, idle %d (%d bytes); want %d bytes of %d buffers let go",
						trim, freed, st.Total.Decayed, st.Total.Idle, st.Total.IdleBytes, want, len(sizes))
				}
				if st.LetGoBytes != want {
					t.Errorf("LetGoBytes %d, want %d", st.LetGoBytes, want)
				}
			}
			// The pool still works, from new memory.
			b := p.Get(5000)
			b.B = append(b.B, "after decay"...)
			b.Release()
			checkInvariants(t, p)
		})
	}
}

// TestDecayLetsGoWeakBuffersSooner: a buffer kept weakly, past the idle
// bound, is let go a trim before a buffer kept strongly, both released
// before the same trim.
func TestDecayLetsGoWeakBuffersSooner(t *testing.T) {
	if weakDecayTicks != 2 || decayTicks != 3 {
		t.Fatalf("the table assumes weakDecayTicks 2 and decayTicks 3, not %d and %d", weakDecayTicks, decayTicks)
	}
	const strong, weak = 64 << 10, 256 << 10
	p, gcs := quietPool(t, Config{MaxIdleBytes: strong, FreeOSMemoryInterval: -1})
	bufs := getEach(p, strong, weak)
	bufs[0].Release() // takes the whole bound
	bufs[1].Release() // finds it reached: kept weakly
	if st := checkInvariants(t, p); exact(gcs) && (st.Total.WeakIdleBytes != weak || st.Total.IdleBytes != strong+weak) {
		t.Fatalf("idle %d bytes, %d of them weakly; want %d, %d weakly", st.Total.IdleBytes, st.Total.WeakIdleBytes, strong+weak, weak)
	}
	tests := []struct {
		freed, idle, weakIdle int64
	}{
		{0, strong + weak, weak}, // trim 1: both kept
		{weak, strong, 0},        // trim weakDecayTicks: the weak one goes
		{strong, 0, 0},           // trim decayTicks: the strong one goes
	}
	for i, tt := range tests {
		freed := p.decay.trim()
		st := checkInvariants(t, p)
		checkTokensExact(t, p)
		if !exact(gcs) {
			return // a collection may have taken the weak buffer first
		}
		if freed != tt.freed || st.Total.IdleBytes != tt.idle || st.Total.WeakIdleBytes != tt.weakIdle {
			t.Fatalf("trim %d: freed %d, idle %d bytes (%d weakly); want freed %d, idle %d (%d weakly)",
				i+1, freed, st.Total.IdleBytes, st.Total.WeakIdleBytes, tt.freed, tt.idle, tt.weakIdle)
		}
	}
}

func TestDecayKeepsBuffersInUse(t *testing.T) {
	oneProc(t)
	gcs := gcCount()
	p := newPool(t, Config{IdleTimeout: noTimer, FreeOSMemoryInterval: -1})
	const hot, cold = 64 << 10, 512 << 10
	releaseAll(getEach(p, hot, cold))
	for range 2 * decayTicks {
		p.decay.trim()
		// The hot class is used between every two trims.
		p.Get(hot).Release()
	}
	st := checkInvariants(t, p)
	checkTokensExact(t, p)
	hotStats := st.Classes[p.cls.of(hot)]
	coldStats := st.Classes[p.cls.of(cold)]
	if !exact(gcs) {
		return
	}
	if hotStats.Decayed != 0 || hotStats.Idle != 1 {
		t.Errorf("hot class: decayed %d, idle %d; want 0 and 1", hotStats.Decayed, hotStats.Idle)
	}
	if coldStats.Decayed != 1 || coldStats.Idle != 0 {
		t.Errorf("cold class: decayed %d, idle %d; want 1 and 0", coldStats.Decayed, coldStats.Idle)
	}
}

// TestDecayTimer lets the real timer trim a pool until it holds nothing,
// and checks that the timer then stops: no goroutine or timer outlives the
// memory it looks after (goleak checks goroutines when the binary ends).
func TestDecayTimer(t *testing.T) {
	// On one processor: a buffer in another processor's private cache is
	// out of the trim's reach, left to the garbage collector.
	oneProc(t)
	p := newPool(t, Config{IdleTimeout: 20 * time.Millisecond, FreeOSMemoryInterval: -1})
	releaseAll(getEach(p, 1000, 100<<10, 3<<20))
	if !p.decay.armed.Load() {
		t.Fatal("timer not armed while the pool holds idle memory")
	}
	// Three trims of 10 ms let everything go; allow for a loaded machine.
	// The timer stops for good once the pool retains nothing: until a new
	// retention, armed then stays false.
	deadline := time.Now().Add(30 * time.Second)
	for p.decay.armed.Load() || p.led.tokens() != p.cfg.MaxIdleBytes {
		if time.Now().After(deadline) {
			t.Fatalf("timer still armed; stats %+v", p.Stats().Total)
		}
		if raceEnabled {
			runtime.GC() // reclaims the buffers whose Put sync.Pool dropped
		}
		time.Sleep(5 * time.Millisecond)
	}
	st := checkInvariants(t, p)
	checkTokensExact(t, p)
	if st.Total.Idle != 0 || st.Total.Decayed+st.Total.Evicted != 3 {
		t.Errorf("after the timer stopped: idle %d, decayed %d, evicted %d; want 0 idle, 3 gone",
			st.Total.Idle, st.Total.Decayed, st.Total.Evicted)
	}
	// A new retention arms it again.
	p.Get(1000).Release()
	if !p.decay.armed.Load() {
		t.Error("timer not armed again by a new retention")
	}
}

func TestDecayOff(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{IdleTimeout: -1})
	releaseAll(getEach(p, 1000, 100<<10))
	if p.decay.armed.Load() {
		t.Error("timer armed with IdleTimeout < 0")
	}
	if p.decay.timer != nil {
		t.Error("timer made with IdleTimeout < 0")
	}
}

// TestForcedCollection checks when a trim forces a collection: once the
// bytes let go reach max(MaxIdleBytes/4, 4 MiB) in a process that did not
// collect since the previous trim, never when FreeOSMemoryInterval is
// negative, and not again before the interval.
func TestForcedCollection(t *testing.T) {
	// Not parallel: forced collections are rate-limited process-wide.
	tests := []struct {
		name     string
		interval time.Duration
		spike    int  // 1 MiB buffers let go
		busy     bool // a collection runs between the last two trims
		want     uint64
	}{
		{"below the threshold", time.Nanosecond, 3, false, 0},
		{"at the threshold", time.Nanosecond, 4, false, 1},
		{"busy process", time.Nanosecond, 8, true, 0},
		{"never", -1, 8, false, 0},
		{"rate-limited", time.Hour, 8, false, 0}, // the previous case's collection is recent
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oneProc(t)
			p := newPool(t, Config{MaxIdleBytes: 16 << 20, IdleTimeout: noTimer, FreeOSMemoryInterval: tt.interval})
			if tt.name == "rate-limited" {
				lastForced.Store(int64(time.Since(processStart)))
			}
			gcs := gcCount()
			bufs := make([]*Buffer, tt.spike)
			for i := range bufs {
				bufs[i] = p.Get(1 << 20)
			}
			releaseAll(bufs)
			for range decayTicks - 1 {
				p.decay.trim()
			}
			ok := exact(gcs) // the forced collection is one
			if tt.busy {
				runtime.GC()
			}
			p.decay.trim()
			st := checkInvariants(t, p)
			if !ok {
				return
			}
			if st.ForcedCollections != tt.want {
				t.Errorf("forced collections %d, want %d", st.ForcedCollections, tt.want)
			}
			wantPending := int64(tt.spike) << 20
			if tt.want > 0 {
				wantPending = 0
			}
			if st.LetGoBytes != wantPending {
				t.Errorf("LetGoBytes %d, want %d", st.LetGoBytes, wantPending)
			}
		})
	}
}

// TestDropsCountAsLetGo checks that dropped buffers, garbage the pool made,
// count towards a forced collection and arm the timer, and that a buffer
// kept weakly beyond the idle bound is not garbage yet.
func TestDropsCountAsLetGo(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{MaxSize: 1 << 20, MaxIdleBytes: 1 << 20, IdleTimeout: noTimer})
	p.Get(3 << 20).Release()             // oversize
	releaseAll(getEach(p, 1<<20, 1<<20)) // the second finds the idle bound reached
	st := checkInvariants(t, p)
	if st.Total.Drops.Total() != 1 || st.Total.Drops.Oversize != 1 || st.Total.WeakReleases != 1 {
		t.Fatalf("drops %+v, weak releases %d; want one oversize drop and one weak release", st.Total.Drops, st.Total.WeakReleases)
	}
	if want := int64(3 << 20); st.LetGoBytes != want {
		t.Errorf("LetGoBytes %d, want %d", st.LetGoBytes, want)
	}
	if !p.decay.armed.Load() {
		t.Error("timer not armed after drops")
	}
}

func TestLend(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		wantLent bool
	}{
		{"default", Config{}, true},
		{"poison", Config{Poison: true}, true},
		{"zero", Config{ZeroOnRelease: true}, true},
		{"track", Config{Track: true}, true},
		{"one per doubling", Config{ClassesPerDoubling: 1}, false},
		{"budget", Config{MaxInUseBytes: 1 << 30}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, gcs := quietPool(t, tt.cfg)
			sizes := p.cls.sizes
			c := p.cls.of(10000)
			big := c + p.cfg.ClassesPerDoubling - 1
			if big == c {
				big = c + 1
			}
			p.Get(sizes[big]).Release()
			b := p.Get(10000)
			if cap(b.B) != sizes[c] {
				t.Fatalf("cap %d, want class size %d", cap(b.B), sizes[c])
			}
			b.B = append(b.B[:0], pattern(10000)...)
			st := checkInvariants(t, p)
			lent := st.Classes[big].Lent == 1
			if !exact(gcs) && !lent {
				b.Release()
				return
			}
			if lent != tt.wantLent {
				t.Fatalf("lent %v, want %v; stats %+v", lent, tt.wantLent, st.Classes[big])
			}
			if lent && (st.Classes[big].InUseBytes != int64(sizes[big]) || st.Classes[big].Idle != 0 || st.Classes[c].Gets != 0) {
				t.Errorf("lent buffer counted wrong: class %d %+v, class %d %+v", sizes[big], st.Classes[big], sizes[c], st.Classes[c])
			}
			b.Release()
			st = checkInvariants(t, p)
			checkTokensExact(t, p)
			if lent && exact(gcs) && (st.Classes[big].Idle != 1 || st.Classes[big].IdleBytes != int64(sizes[big])) {
				t.Errorf("lent buffer not back whole: %+v", st.Classes[big])
			}
			// The whole buffer comes back: a Get of its own class sees all
			// of it.
			b = p.Get(sizes[big])
			if lent && cap(b.B) != sizes[big] {
				t.Errorf("cap %d after lending, want %d", cap(b.B), sizes[big])
			}
			b.Release()
			if lent && st.Total.Misses != 1 {
				t.Errorf("misses %d, want 1", st.Total.Misses)
			}
		})
	}
}

// TestLendReachesNoFurther checks that a Get takes an idle buffer only from
// the next ClassesPerDoubling-1 classes: all under twice its class size.
func TestLendReachesNoFurther(t *testing.T) {
	oneProc(t)
	gcs := gcCount()
	p := newPool(t, Config{IdleTimeout: noTimer})
	sizes := p.cls.sizes
	c := p.cls.of(10000)
	if p.Prefill(sizes[c+p.cfg.ClassesPerDoubling], 1) != 1 {
		t.Fatal("Prefill added nothing")
	}
	b := p.Get(10000)
	defer b.Release()
	if st := p.Stats(); st.Total.Lent != 0 || exact(gcs) && st.Total.Misses != 1 {
		t.Errorf("lent %d, misses %d; want a miss, as the idle buffer is twice the class size", st.Total.Lent, st.Total.Misses)
	}
}

// BenchmarkForcedCollection measures what the forced collection of
// FreeOSMemoryInterval costs, at most once per interval: a full collection
// and the return of free pages, here after a pool let go of 64 MiB while
// 16 MiB of buffers are in use. It reports the bytes returned to the
// operating system per collection.
func BenchmarkForcedCollection(b *testing.B) {
	// Trims never force here: the benchmark times the forced collection
	// itself.
	p, _ := New(Config{IdleTimeout: noTimer, FreeOSMemoryInterval: -1})
	inUse := getEach(p, make([]int, 16)...)
	for i := range inUse {
		inUse[i].Release()
		inUse[i] = p.Get(1 << 20)
	}
	var returned uint64
	for b.Loop() {
		b.StopTimer()
		spike := make([]*Buffer, 64)
		for i := range spike {
			spike[i] = p.Get(1 << 20)
		}
		releaseAll(spike)
		for range decayTicks {
			p.decay.trim() // lets the spike go
		}
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		was := m.HeapReleased
		b.StartTimer()
		p.decay.free()
		b.StopTimer()
		runtime.ReadMemStats(&m)
		returned += m.HeapReleased - min(was, m.HeapReleased)
		b.StartTimer()
	}
	b.ReportMetric(float64(returned)/float64(b.N), "returned-B/op")
	releaseAll(inUse)
}

// TestLentBuffer checks that a lent buffer, cut to the class of its Get,
// goes back whole, or leaves the pool's accounts cleanly, whatever its user
// does with it.
func TestLentBuffer(t *testing.T) {
	actions := []struct {
		name string
		do   func(b *Buffer) // ends with b released or detached
	}{
		{"release", func(b *Buffer) { b.Release() }},
		{"grow then release", func(b *Buffer) {
			b.Write(pattern(100 << 10))
			b.Release()
		}},
		{"detach", func(b *Buffer) {
			if mem := b.Detach(); len(mem) != 10000 {
				panic("detached bytes lost")
			}
		}},
		{"replace B then release", func(b *Buffer) {
			b.B = append(b.B[:cap(b.B)], 'x') // a new array, from append
			b.Release()
		}},
		{"reslice then release", func(b *Buffer) {
			b.B = b.B[:0:100]
			b.Release()
		}},
	}
	for _, cfg := range []Config{{}, {Track: true}, {Poison: true}} {
		for _, a := range actions {
			t.Run(fmt.Sprintf("%s/track=%v/poison=%v", a.name, cfg.Track, cfg.Poison), func(t *testing.T) {
				oneProc(t)
				cfg.IdleTimeout = noTimer
				gcs := gcCount()
				p := newPool(t, cfg)
				c := p.cls.of(10000)
				// An idle buffer of the next class (a miss would allocate
				// at the top of the doubling).
				if p.Prefill(p.cls.sizes[c+1], 1) != 1 {
					t.Fatal("Prefill added nothing")
				}
				b := p.Get(10000)
				b.B = append(b.B, pattern(10000)...)
				lent := p.Stats().Total.Lent == 1
				a.do(b)
				checkInvariants(t, p)
				checkTokensExact(t, p)
				if !lent || !exact(gcs) {
					return
				}
				// Nothing of the array is lost: its class counts it idle
				// whole (or the larger array that replaced it), unless it
				// left the pool.
				st := p.Stats()
				if st.Total.Drops.Detached == 0 && st.Classes[c+1].IdleBytes < int64(p.cls.sizes[c+1]) {
					t.Errorf("lent buffer back as %d idle bytes, want at least %d", st.Classes[c+1].IdleBytes, p.cls.sizes[c+1])
				}
			})
		}
	}
}

// TestWeakWithConcurrentTrims runs Gets and Releases whose demand stays
// above a small pool's idle bound while trims run concurrently, then checks
// that buffers were kept weakly, that the strongly kept memory never
// exceeded the bound (checkInvariants), that no token was lost or made up,
// and that trims let every idle buffer, weak or strong, decay.
func TestWeakWithConcurrentTrims(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"default", Config{}},
		{"budget", Config{MaxInUseBytes: 64 << 20}},
		{"track", Config{Track: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.MaxIdleBytes = 256 << 10
			tt.cfg.IdleTimeout = noTimer
			tt.cfg.FreeOSMemoryInterval = -1
			p := newPool(t, tt.cfg)
			const workers = 8
			ops := 2000
			if raceEnabled {
				ops = 300
			}
			stop := make(chan struct{})
			var trims sync.WaitGroup
			trims.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
						p.decay.trim()
						runtime.Gosched()
					}
				}
			})
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					r := rand.New(rand.NewPCG(uint64(w), 2))
					held := make([]*Buffer, 0, 4)
					for range ops {
						// Up to four buffers of up to 128 KiB each per
						// worker: demand well above the 256 KiB bound.
						held = append(held, p.Get(1<<(10+r.IntN(8))))
						if len(held) == cap(held) {
							releaseAll(held)
							held = held[:0]
						}
					}
					releaseAll(held)
				})
			}
			wg.Wait()
			close(stop)
			trims.Wait()
			st := checkInvariants(t, p)
			checkTokensExact(t, p)
			if st.Total.WeakReleases == 0 {
				t.Error("no release found the idle bound reached: nothing kept weakly to test")
			}

			oneProc(t)
			gcs := gcCount()
			for range decayTicks {
				p.decay.trim()
			}
			st = checkInvariants(t, p)
			checkTokensExact(t, p)
			// Idle buffers out of the trims' reach (another processor's
			// private cache, during the load) stay until the collector
			// takes them: at most one per class and processor.
			if reach := int64(len(st.Classes) * runtime.NumCPU()); exact(gcs) && st.Total.Idle > reach {
				t.Errorf("after the trims: %d idle buffers (%d weak), want at most %d", st.Total.Idle, st.Total.WeakIdle, reach)
			}
		})
	}
}
