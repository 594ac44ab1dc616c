package bufpool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
)

func TestNewConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring naming the field; empty for success
	}{
		{"zero", Config{}, ""},
		{"custom", Config{MinSize: 1024, MaxSize: 1 << 20, ClassesPerDoubling: 2, MaxIdleBytes: 1 << 20}, ""},
		{"one class", Config{MinSize: 4096, MaxSize: 4096}, ""},
		{"min above max", Config{MinSize: 8192, MaxSize: 4096}, "MinSize 8192 is larger than MaxSize 4096"},
		{"negative min", Config{MinSize: -1}, "MinSize -1"},
		{"negative max", Config{MaxSize: -5}, "MaxSize -5"},
		{"huge max", Config{MaxSize: 1 << 41}, "MaxSize"},
		{"three per doubling", Config{ClassesPerDoubling: 3}, "ClassesPerDoubling 3"},
		{"negative per doubling", Config{ClassesPerDoubling: -1}, "ClassesPerDoubling -1"},
		{"negative idle", Config{MaxIdleBytes: -1}, "MaxIdleBytes -1"},
		{"negative budget", Config{MaxInUseBytes: -1}, "MaxInUseBytes -1"},
		{"idle timeout below 10ms", Config{IdleTimeout: time.Millisecond}, "IdleTimeout 1ms"},
		{"no decay", Config{IdleTimeout: -1, FreeOSMemoryInterval: -1}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				cfg := p.Config()
				if cfg.MinSize == 0 || cfg.MaxSize == 0 || cfg.ClassesPerDoubling == 0 || cfg.MaxIdleBytes == 0 {
					t.Errorf("defaults not filled in: %+v", cfg)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("New: error %v does not wrap ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New: error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	cfg := Default().Config()
	want := Config{MinSize: 512, MaxSize: 4 << 20, ClassesPerDoubling: 4, MaxIdleBytes: 8 << 20,
		IdleTimeout: 4 * time.Second, FreeOSMemoryInterval: 2 * time.Second}
	if cfg != want {
		t.Errorf("Default().Config() = %+v, want %+v", cfg, want)
	}
}

func TestClassSizes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		k         int
		wantCount int
	}{
		{1, 14}, // 512 B .. 4 MiB: 13 doublings
		{2, 27},
		{4, 53},
	}
	for _, tt := range tests {
		t.Run("k="+string(rune('0'+tt.k)), func(t *testing.T) {
			p := newPool(t, Config{ClassesPerDoubling: tt.k})
			sizes := p.ClassSizes()
			if len(sizes) != tt.wantCount {
				t.Errorf("%d classes, want %d: %v", len(sizes), tt.wantCount, sizes)
			}
			if sizes[0] != 512 || sizes[len(sizes)-1] != 4<<20 {
				t.Errorf("classes span %d..%d, want 512..4 MiB", sizes[0], sizes[len(sizes)-1])
			}
			for i := 1; i < len(sizes); i++ {
				// Consecutive classes differ by at most (k+1)/k.
				if sizes[i] <= sizes[i-1] || sizes[i]*tt.k > sizes[i-1]*(tt.k+1) {
					t.Errorf("classes %d and %d are not within a factor (k+1)/k", sizes[i-1], sizes[i])
				}
			}
		})
	}
}

func TestGetCapacity(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{})
	tests := []struct {
		n       int
		wantCap int
	}{
		{-1, 512}, {0, 512}, {1, 512}, {512, 512}, {513, 640}, {1000, 1024},
		{4096, 4096}, {4097, 5120}, {64 << 10, 64 << 10}, {100_000, 114688},
		{4 << 20, 4 << 20}, {4<<20 + 1, 4<<20 + 1}, {10 << 20, 10 << 20},
	}
	for _, tt := range tests {
		b := p.Get(tt.n)
		if cap(b.B) != tt.wantCap || b.Len() != 0 {
			t.Errorf("Get(%d): cap %d len %d, want cap %d len 0", tt.n, cap(b.B), b.Len(), tt.wantCap)
		}
		if got := p.ClassSize(tt.n); got != tt.wantCap {
			t.Errorf("ClassSize(%d) = %d, want %d", tt.n, got, tt.wantCap)
		}
		b.Release()
	}
	checkInvariants(t, p)
}

// TestWasteBound measures the capacity wasted by rounding up to a class,
// over every request size in a range, for each choice of classes per
// doubling; the bound documented on Config.ClassesPerDoubling must hold.
func TestWasteBound(t *testing.T) {
	t.Parallel()
	for _, k := range []int{1, 2, 4} {
		p := newPool(t, Config{ClassesPerDoubling: k})
		var worst float64
		var total, wasted float64
		for n := 513; n <= 1<<20; n += 97 {
			c := p.ClassSize(n)
			w := float64(c-n) / float64(n)
			worst = max(worst, w)
			total += float64(n)
			wasted += float64(c - n)
		}
		if bound := 1 / float64(k); worst >= bound {
			t.Errorf("k=%d: worst waste %.3f of the request, bound %.3f", k, worst, bound)
		}
		t.Logf("k=%d: worst waste %.1f%%, mean %.1f%% of requested bytes", k, 100*worst, 100*wasted/total)
	}
}

func TestReleaseFiling(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		mutate     func(b *Buffer)
		wantFiled  int // class size the memory is filed under; 0 when dropped
		wantReason func(Drops) uint64
	}{
		{"untouched", func(b *Buffer) {}, 4096, nil},
		{"appended past capacity", func(b *Buffer) {
			b.B = append(b.B[:cap(b.B)], make([]byte, 3000)...)
		}, 0 /* checked below */, nil},
		{"replaced by a small slice", func(b *Buffer) { b.B = make([]byte, 10) }, 0, func(d Drops) uint64 { return d.Undersize }},
		{"replaced by nil", func(b *Buffer) { b.B = nil }, 0, func(d Drops) uint64 { return d.Undersize }},
		{"grown beyond MaxSize", func(b *Buffer) { b.B = make([]byte, 0, 5<<20) }, 0, func(d Drops) uint64 { return d.Oversize }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPool(t, Config{})
			b := p.Get(4096)
			tt.mutate(b)
			c := cap(b.B)
			b.Release()
			st := checkInvariants(t, p)
			if tt.wantReason != nil {
				if got := tt.wantReason(st.Total.Drops); got != 1 {
					t.Errorf("drops %+v, want one for the reason", st.Total.Drops)
				}
				if st.Total.Idle != 0 {
					t.Errorf("%d idle buffers, want none", st.Total.Idle)
				}
				return
			}
			want := tt.wantFiled
			if want == 0 {
				want = p.cls.sizes[p.cls.filing(c)]
			}
			for _, cs := range st.Classes {
				if cs.Idle != 0 && cs.Size != want {
					t.Errorf("buffer of cap %d filed under %d, want %d", c, cs.Size, want)
				}
				if cs.Size > c && cs.Idle != 0 {
					t.Errorf("class %d holds a buffer of cap %d", cs.Size, c)
				}
			}
			if st.Total.Idle != 1 || st.Total.IdleBytes != int64(c) {
				t.Errorf("idle %d (%d bytes), want 1 (%d bytes)", st.Total.Idle, st.Total.IdleBytes, c)
			}
			// The filed buffer serves its class (unless the race detector
			// made sync.Pool drop it).
			nb := p.Get(want)
			if cap(nb.B) != c && !raceEnabled {
				t.Errorf("Get(%d) after filing: cap %d, want the filed %d", want, cap(nb.B), c)
			}
			nb.Release()
			checkInvariants(t, p)
		})
	}
}

func TestOversizeNeverRetained(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{MaxSize: 1 << 20})
	for range 10 {
		b := p.Get(3 << 20)
		if cap(b.B) != 3<<20 {
			t.Fatalf("oversize Get: cap %d, want exactly %d", cap(b.B), 3<<20)
		}
		b.Release()
	}
	st := checkInvariants(t, p)
	if st.Oversize.Gets != 10 || st.Oversize.Misses != 10 || st.Oversize.Drops.Oversize != 10 {
		t.Errorf("oversize stats %+v, want 10 gets, misses and oversize drops", st.Oversize)
	}
	if st.Total.IdleBytes != 0 {
		t.Errorf("%d bytes idle after oversize buffers, want 0", st.Total.IdleBytes)
	}
	// Small classes never receive the giant buffers.
	small := p.Get(1000)
	if cap(small.B) != 1024 {
		t.Errorf("Get(1000) cap %d, want 1024", cap(small.B))
	}
	small.Release()
}

// TestMaxIdleBytes checks the idle bound: of ten 32 KiB buffers released
// into a pool bounded at 100 KiB, three are kept strongly and seven weakly.
// The weak ones serve Gets until a collection reclaims them, are kept
// weakly again when released while the bound is still reached, take the
// room a buffer leaving the pool makes, and decay by time like the others;
// none is dropped.
func TestMaxIdleBytes(t *testing.T) {
	tests := []struct {
		name string
		then func(t *testing.T, p *Pool) // acts on the pool after the releases
		// Then: idle and weakly kept idle buffers, hits, evicted and
		// decayed buffers, and weak releases in all.
		idle, weak, hits, evicted, decayed, weakReleases int64
	}{
		{"released", func(*testing.T, *Pool) {}, 10, 7, 0, 0, 0, 7},
		{"reused before a collection", func(t *testing.T, p *Pool) {
			releaseAll(getEach(p, slices.Repeat([]int{32 << 10}, 10)...))
		}, 10, 7, 10, 0, 0, 14},
		{"reused after one left", func(t *testing.T, p *Pool) {
			// A strong buffer detached gives its room back: the first weak
			// one released after it takes that room and is kept strongly.
			bufs := getEach(p, slices.Repeat([]int{32 << 10}, 10)...)
			i := slices.IndexFunc(bufs, func(b *Buffer) bool { return !b.s.weak })
			bufs[i].Detach()
			releaseAll(slices.Delete(bufs, i, i+1))
		}, 9, 6, 10, 0, 0, 13},
		{"reclaimed by a collection", func(t *testing.T, p *Pool) {
			runtime.GC()
			waitFor(t, "the cleanups of the weak buffers", func() bool { return p.Stats().Total.WeakIdle == 0 })
		}, 3, 0, 0, 7, 0, 7},
		{"decayed by time", func(t *testing.T, p *Pool) {
			for range decayTicks {
				p.decay.trim()
			}
		}, 0, 0, 0, 0, 10, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oneProc(t)
			p := newPool(t, Config{MaxIdleBytes: 100 << 10, IdleTimeout: noTimer, FreeOSMemoryInterval: -1})
			gcs := gcCount()
			releaseAll(getEach(p, slices.Repeat([]int{32 << 10}, 10)...))
			st := checkInvariants(t, p)
			checkTokensExact(t, p)
			if exact(gcs) && (st.Total.Idle != 10 || st.Total.WeakIdle != 7 || st.Total.WeakIdleBytes != 7*32<<10 ||
				st.Total.WeakReleases != 7 || st.Total.Drops.Total() != 0) {
				t.Fatalf("after the releases: idle %d, weak %d (%d bytes), weak releases %d, drops %+v; want 10, 7 (224 KiB), 7, none",
					st.Total.Idle, st.Total.WeakIdle, st.Total.WeakIdleBytes, st.Total.WeakReleases, st.Total.Drops)
			}
			gcs = gcCount()
			tt.then(t, p)
			if tt.evicted > 0 {
				gcs++ // the collection of then
			}
			st = checkInvariants(t, p)
			checkTokensExact(t, p)
			if !exact(gcs) {
				return
			}
			got := []int64{st.Total.Idle, st.Total.WeakIdle, int64(st.Total.Hits), int64(st.Total.Evicted), int64(st.Total.Decayed), int64(st.Total.WeakReleases)}
			if want := []int64{tt.idle, tt.weak, tt.hits, tt.evicted, tt.decayed, tt.weakReleases}; !slices.Equal(got, want) {
				t.Errorf("idle, weak, hits, evicted, decayed, weak releases = %v, want %v", got, want)
			}
			if st.Total.WeakIdleBytes != tt.weak*32<<10 {
				t.Errorf("%d bytes idle kept weakly, want %d", st.Total.WeakIdleBytes, tt.weak*32<<10)
			}
		})
	}
}

// TestDecayAfterSpike checks that idle memory returns to the runtime when
// load stops: after a spike of large buffers, a few garbage collections
// reclaim them and the statistics say so.
func TestDecayAfterSpike(t *testing.T) {
	p := newPool(t, Config{})
	var bufs []*Buffer
	for range 12 {
		bufs = append(bufs, p.Get(4<<20))
	}
	for _, b := range bufs {
		b.Release()
	}
	bufs = nil
	if st := p.Stats(); st.Total.IdleBytes != 48<<20 {
		t.Fatalf("idle bytes after the spike %d, want 48 MiB", st.Total.IdleBytes)
	}
	var cycles int
	for cycles = 1; cycles <= 20; cycles++ {
		runtime.GC()
		time.Sleep(5 * time.Millisecond) // let cleanups run
		if p.Stats().Total.IdleBytes == 0 {
			break
		}
	}
	st := checkInvariants(t, p)
	if st.Total.IdleBytes != 0 {
		t.Fatalf("idle bytes %d after %d GC cycles, want 0", st.Total.IdleBytes, cycles-1)
	}
	if st.Total.Evicted != 12 {
		t.Errorf("evicted %d, want 12", st.Total.Evicted)
	}
	t.Logf("idle memory reclaimed after %d GC cycles", cycles)
}

func TestDoubleReleasePanics(t *testing.T) {
	t.Parallel()
	for _, track := range []bool{false, true} {
		p := newPool(t, Config{Track: track})
		b := p.Get(100)
		b.Release()
		mustPanic(t, "already released", b.Release)
		mustPanic(t, "already released", func() { b.Detach() })
	}
}

// TestStaleHandleTracked is the go-resty bug: a buffer released, handed
// out again, then released a second time by its first owner. With Track,
// every Get returns a fresh handle, so the stale Release panics and the
// second owner keeps its memory.
func TestStaleHandleTracked(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{Track: true})
	first := p.Get(100)
	first.Release()
	second := p.Get(100)
	mustPanic(t, "already released", first.Release)
	second.WriteString("mine")
	third := p.Get(100)
	if bytes.Equal(third.B[:cap(third.B)][:4], []byte("mine")) && &third.B[:1][0] == &second.B[0] {
		t.Fatal("a stale Release let two users share one buffer")
	}
	third.Release()
	second.Release()
}

func TestForeignBufferPanics(t *testing.T) {
	t.Parallel()
	var b Buffer
	b.WriteString("not pooled")
	if b.String() != "not pooled" {
		t.Errorf("zero Buffer holds %q", b.String())
	}
	mustPanic(t, "no Pool handed out", b.Release)
	p := newPool(t, Config{Track: true})
	real := p.Get(10)
	forged := &Buffer{pool: p, s: real.s}
	mustPanic(t, "did not hand out", forged.Release)
	real.Release()
}

func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("no panic, want one mentioning %q", want)
		}
		if msg, _ := r.(string); !strings.Contains(msg, want) || !strings.HasPrefix(msg, "bufpool: ") {
			t.Fatalf("panic %v, want a bufpool panic mentioning %q", r, want)
		}
	}()
	f()
}

func TestPoisonAndZero(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want byte
	}{
		{"poison", Config{Poison: true}, PoisonByte},
		{"zero", Config{ZeroOnRelease: true}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPool(t, tt.cfg)
			b := p.Get(1000)
			b.WriteString("secret password")
			kept := b.B // the bug: a slice kept past Release
			b.Release()
			for i, v := range kept[:cap(kept)] {
				if v != tt.want {
					t.Fatalf("byte %d of a released buffer is %#x, want %#x", i, v, tt.want)
				}
			}
		})
	}
}

func TestPoisonCatchesWriteAfterRelease(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{Poison: true})
	// Under the race detector sync.Pool drops a share of Puts on purpose;
	// repeat until the corrupted memory comes back (three times in four).
	for range 50 {
		b := p.Get(1000)
		kept := b.B[:10]
		b.Release()
		kept[3] = 'x' // the bug: a write after Release
		nb, msg := getRecover(p, 1000)
		if msg != "" {
			if !strings.Contains(msg, "written after Release") {
				t.Fatalf("panic %q, want the write-after-release panic", msg)
			}
			return
		}
		if &nb.B[:1][0] == &kept[0] {
			t.Fatal("Get returned a corrupted buffer without panicking")
		}
		nb.Release()
	}
	t.Fatal("the corrupted buffer never came back in 50 tries")
}

func getRecover(p *Pool, n int) (b *Buffer, msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	return p.Get(n), ""
}

func TestDetach(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{Poison: true})
	b := p.Get(100)
	b.WriteString("keep me")
	kept := b.Detach()
	if string(kept) != "keep me" {
		t.Fatalf("Detach returned %q", kept)
	}
	for range 10 {
		nb := p.Get(100)
		nb.WriteString("other request")
		nb.Release()
	}
	if string(kept) != "keep me" {
		t.Fatalf("detached bytes changed to %q", kept)
	}
	st := checkInvariants(t, p)
	if st.Total.Drops.Detached != 1 {
		t.Errorf("detached drops %d, want 1", st.Total.Drops.Detached)
	}
}

func TestGrowThroughPool(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{Poison: true})
	b := p.Get(600)
	data := bytes.Repeat([]byte("0123456789"), 10_000) // 100 kB
	for i := 0; i < len(data); i += 333 {
		if _, err := b.Write(data[i:min(i+333, len(data))]); err != nil {
			t.Fatal(err)
		}
		if c := cap(b.B); c != p.ClassSize(c) {
			t.Fatalf("capacity %d is not a class size: growth bypassed the pool", c)
		}
	}
	if !bytes.Equal(b.B, data) {
		t.Fatal("contents changed while growing")
	}
	st := checkInvariants(t, p)
	if st.Total.InUse != 1 || st.Total.Releases == 0 {
		t.Errorf("in use %d, releases %d: growth must return the old buffers", st.Total.InUse, st.Total.Releases)
	}
	if st.Total.InUseBytes != int64(cap(b.B)) {
		t.Errorf("in-use bytes %d, want the capacity %d", st.Total.InUseBytes, cap(b.B))
	}
	b.Release()
	checkInvariants(t, p)
}

func TestSetAndGrow(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{})
	b := p.Get(10)
	b.SetString(strings.Repeat("a", 5000))
	if b.Len() != 5000 || cap(b.B) != p.ClassSize(cap(b.B)) {
		t.Errorf("SetString: len %d cap %d", b.Len(), cap(b.B))
	}
	b.Set([]byte("short"))
	if b.String() != "short" {
		t.Errorf("Set: %q", b.String())
	}
	if err := b.Grow(100_000); err != nil || cap(b.B)-b.Len() < 100_000 {
		t.Errorf("Grow: err %v, free %d", err, cap(b.B)-b.Len())
	}
	if err := b.WriteByte('!'); err != nil || b.String() != "short!" {
		t.Errorf("WriteByte: %v %q", err, b.String())
	}
	mustPanic(t, "negative", func() { _ = b.Grow(-1) })
	b.Release()
	checkInvariants(t, p)
}

func TestPrefill(t *testing.T) {
	// Not parallel: a garbage collection while prefilling (from other
	// tests' allocations) reclaims idle buffers and frees their share of
	// the bound, so the counts below are exact only without one.
	gcs := gcCount()
	p := newPool(t, Config{MaxIdleBytes: 1 << 20})
	n := p.Prefill(64<<10, 20)
	if n := p.Prefill(8<<20, 1); n != 0 {
		t.Errorf("Prefill of an oversize class added %d", n)
	}
	st := checkInvariants(t, p)
	if st.Total.IdleBytes > 1<<20 || n < 16 {
		t.Errorf("Prefill added %d buffers, %d bytes idle; want at least 16 within the 1 MiB bound", n, st.Total.IdleBytes)
	}
	b := p.Get(60 << 10)
	b.Release()
	st2 := p.Stats()
	// Under the race detector sync.Pool also drops a share of Puts.
	if raceEnabled || gcCount() != gcs {
		t.Logf("a GC ran or -race is on: exact counts not checked (added %d)", n)
		return
	}
	if n != 16 || st.Total.Prefilled != 16 || st.Total.Idle != 16 {
		t.Errorf("added %d, prefilled %d, idle %d; want 16 of 64 KiB under a 1 MiB bound", n, st.Total.Prefilled, st.Total.Idle)
	}
	if st2.Total.Hits != 1 {
		t.Errorf("first Get after Prefill: hits %d, want 1", st2.Total.Hits)
	}
}

func gcCount() uint32 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.NumGC
}

// TestStatsExactConcurrent hammers a pool from many goroutines with every
// operation and checks, at rest, that the counters balance exactly. Run it
// with -race: accounting races are the classic bug of bucketed pools.
func TestStatsExactConcurrent(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{{}, {Track: true}, {MaxIdleBytes: 1 << 20}, {MaxInUseBytes: 64 << 20}} {
		p := newPool(t, cfg)
		const workers = 8
		ops := 2000
		if raceEnabled {
			ops = 400
		}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(w), 1))
				for range ops {
					size := 1 << r.IntN(21)
					b := p.Get(size)
					switch r.IntN(10) {
					case 0:
						b.Detach()
					case 1:
						b.Write(make([]byte, cap(b.B)+1)) // grows through the pool
						b.Release()
					default:
						b.Release()
					}
					if r.IntN(500) == 0 {
						_ = p.Stats() // readers run concurrently with writers
					}
				}
			}()
		}
		wg.Wait()
		st := checkInvariants(t, p)
		checkTokensExact(t, p)
		if st.Total.InUse != 0 || st.Total.InUseBytes != 0 {
			t.Errorf("%+v: %d buffers (%d bytes) in use at rest", cfg, st.Total.InUse, st.Total.InUseBytes)
		}
		if st.Total.Gets < uint64(workers*ops) {
			t.Errorf("%+v: gets %d, want at least %d", cfg, st.Total.Gets, workers*ops)
		}
		if st.BudgetUsedBytes != 0 {
			t.Errorf("%+v: budget used %d at rest", cfg, st.BudgetUsedBytes)
		}
	}
}

// TestClassOf checks the class lookup, computed or from its table, against
// a scan of the class sizes, for every n around every class boundary.
func TestClassOf(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{},
		{ClassesPerDoubling: 1},
		{ClassesPerDoubling: 2},
		{MinSize: 1, MaxSize: 1 << 12},
		{MinSize: 3, MaxSize: 5000, ClassesPerDoubling: 4},
		{MinSize: 1000, MaxSize: 3 << 20, ClassesPerDoubling: 4},
		{MinSize: 2, MaxSize: 1 << 10, ClassesPerDoubling: 4},
		{MinSize: 4096, MaxSize: 4096},
	} {
		p := newPool(t, cfg)
		sizes := p.cls.sizes
		scan := func(n int) int {
			i := 0
			for sizes[i] < n {
				i++
			}
			return i
		}
		for _, s := range sizes {
			for n := max(s-3, 0); n <= min(s+3, sizes[len(sizes)-1]); n++ {
				if got, want := p.cls.of(n), scan(n); got != want {
					t.Fatalf("%+v: of(%d) = %d (size %d), want %d (size %d)", cfg, n, got, sizes[got], want, sizes[want])
				}
			}
		}
		for n := 0; n <= min(sizes[len(sizes)-1], 1<<13); n++ {
			if got, want := p.cls.of(n), scan(n); got != want {
				t.Fatalf("%+v: of(%d) = %d, want %d", cfg, n, got, want)
			}
		}
	}
}

// waitFor polls cond until it holds, failing t after five seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestMissAllocatesTopOfDoubling checks where a miss's memory goes: at the
// top of its doubling, lent to the Get cut to the Get's class, so that a
// Get of any class of that doubling finds it idle afterwards. With a
// budget, which must count what the Get returns, a miss allocates its own
// class.
func TestMissAllocatesTopOfDoubling(t *testing.T) {
	tests := []struct {
		name       string
		cfg        Config
		n          int
		wantCap    int // cap(B) the Get returns: ClassSize(n)
		wantArray  int // what the pool counts in use, then idle
		other      int // a Get of another class that then hits
		otherIsHit bool
	}{
		{"first class of a doubling", Config{}, 10000, 10240, 16384, 12000, true},
		{"last class below the top", Config{}, 14000, 14336, 16384, 9000, true},
		{"the top itself", Config{}, 16000, 16384, 16384, 10000, true},
		{"below MaxSize", Config{}, 3 << 20, 3 << 20, 4 << 20, 5 << 19, true},
		{"one class per doubling", Config{ClassesPerDoubling: 1}, 10000, 16384, 16384, 12000, true},
		{"with a budget", Config{MaxInUseBytes: 64 << 20}, 10000, 10240, 10240, 12000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, gcs := quietPool(t, tt.cfg)
			b, err := p.Acquire(context.Background(), tt.n)
			if err != nil {
				t.Fatal(err)
			}
			st := p.Stats()
			if cap(b.B) != tt.wantCap || st.Total.Misses != 1 || st.Total.InUseBytes != int64(tt.wantArray) {
				t.Errorf("Get(%d): cap %d, misses %d, %d bytes in use; want %d, 1, %d",
					tt.n, cap(b.B), st.Total.Misses, st.Total.InUseBytes, tt.wantCap, tt.wantArray)
			}
			b.Release()
			st = checkInvariants(t, p)
			checkTokensExact(t, p)
			f := p.cls.filing(tt.wantArray)
			if exact(gcs) && (st.Classes[f].Idle != 1 || st.Classes[f].IdleBytes != int64(tt.wantArray)) {
				t.Errorf("after Release: class %d holds %d idle (%d bytes), want the whole array", p.cls.sizes[f], st.Classes[f].Idle, st.Classes[f].IdleBytes)
			}
			b, err = p.Acquire(context.Background(), tt.other)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Release()
			if st := p.Stats(); exact(gcs) && (st.Total.Misses == 1) != tt.otherIsHit {
				t.Errorf("Get(%d) after it: misses %d, want a hit %v", tt.other, st.Total.Misses, tt.otherIsHit)
			}
			if cap(b.B) != p.ClassSize(tt.other) {
				t.Errorf("Get(%d): cap %d, want its class size %d", tt.other, cap(b.B), p.ClassSize(tt.other))
			}
		})
	}
}

// TestGrowIntoLentArray checks that a lent buffer grows into the rest of
// its array before it moves: no Get, no copy, the same array; and past
// the array, it moves as any buffer does.
func TestGrowIntoLentArray(t *testing.T) {
	p, _ := quietPool(t, Config{})
	b := p.Get(10000) // a 16 KiB array cut to 10 KiB
	want := pattern(10000)
	b.B = append(b.B, want...)
	array := unsafe.SliceData(b.B)
	if err := b.Grow(6000); err != nil {
		t.Fatal(err)
	}
	if unsafe.SliceData(b.B) != array || cap(b.B) != 16384 || p.Stats().Total.Gets != 1 || !bytes.Equal(b.B, want) {
		t.Fatalf("grown within its array: cap %d, moved %v, gets %d, contents kept %v; want 16384, false, 1, true",
			cap(b.B), unsafe.SliceData(b.B) != array, p.Stats().Total.Gets, bytes.Equal(b.B, want))
	}
	if err := b.Grow(10000); err != nil {
		t.Fatal(err)
	}
	if unsafe.SliceData(b.B) == array || cap(b.B) < 20000 || p.Stats().Total.Gets != 2 || !bytes.Equal(b.B, want) {
		t.Fatalf("grown past its array: cap %d, moved %v, gets %d, contents kept %v", cap(b.B), unsafe.SliceData(b.B) != array, p.Stats().Total.Gets, bytes.Equal(b.B, want))
	}
	b.Release()
	checkInvariants(t, p)
	checkTokensExact(t, p)
}
