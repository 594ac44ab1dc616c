package demo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/bodypool/bodypool/bufpool"
)

func newTestPool(t *testing.T, mode string) *pool {
	t.Helper()
	p, err := newPool(Options{Pool: mode, Track: true, Poison: true})
	if err != nil {
		t.Fatalf("newPool(%s): %v", mode, err)
	}
	if p.sized != nil {
		t.Cleanup(func() {
			if err := p.sized.CheckLeaks(); err != nil {
				t.Error(err)
			}
		})
	}
	return p
}

func TestNewPoolModes(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{ModeSized, ModeCalibrated, ModeSyncPool, ModeNone} {
		p := newTestPool(t, mode)
		if _, plain := p.buffers.(*plainPool); plain == (mode == ModeSized) {
			t.Errorf("mode %s: buffers are %T", mode, p.buffers)
		}
		if (p.sized != nil) != (mode == ModeSized) {
			t.Errorf("mode %s: sized pool %v", mode, p.sized)
		}
	}
	if _, err := newPool(Options{Pool: ModeOff}); err == nil {
		t.Error("newPool(off) succeeded; mode off has no pool")
	}
}

// TestNewPoolTimeouts checks that -pool-idle-timeout and -free-os-interval
// reach the sized pool's Config: bufpool refuses an IdleTimeout below
// 10 ms, and takes negative values for off.
func TestNewPoolTimeouts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args    []string
		wantErr string // in newPool's error; "" for none
	}{
		{[]string{"-pool", ModeSized}, ""},
		{[]string{"-pool", ModeSized, "-pool-idle-timeout", "50ms", "-free-os-interval", "1s"}, ""},
		{[]string{"-pool", ModeSized, "-pool-idle-timeout", "-1s", "-free-os-interval", "-1s"}, ""},
		{[]string{"-pool", ModeSized, "-pool-idle-timeout", "5ms"}, "IdleTimeout 5ms"},
		{[]string{"-pool", ModeSyncPool, "-pool-idle-timeout", "5ms"}, ""}, // the sized mode's only
	} {
		o, err := ParseOptions(tc.args, env(), nil)
		if err != nil {
			t.Fatalf("ParseOptions(%q): %v", tc.args, err)
		}
		_, err = newPool(o)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (!errors.Is(err, bufpool.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("newPool(%q) error %v, want %q", tc.args, err, tc.wantErr)
		}
	}
}

// TestNewPoolClasses checks that -classes-per-doubling reaches the sized
// pool: with one class per doubling, class sizes are powers of two.
func TestNewPoolClasses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"-pool", ModeSized}, bufpool.DefaultClassesPerDoubling},
		{[]string{"-pool", ModeSized, "-classes-per-doubling", "1"}, 1},
		{[]string{"-pool", ModeSized, "-classes-per-doubling", "2"}, 2},
	} {
		o, err := ParseOptions(tc.args, env(), nil)
		if err != nil {
			t.Fatalf("ParseOptions(%q): %v", tc.args, err)
		}
		p, err := newPool(o)
		if err != nil {
			t.Fatalf("newPool(%q): %v", tc.args, err)
		}
		if got := p.sized.Config().ClassesPerDoubling; got != tc.want {
			t.Errorf("%q: ClassesPerDoubling %d, want %d", tc.args, got, tc.want)
		}
		if sizes := p.sized.ClassSizes(); tc.want == 1 && sizes[1] != 2*sizes[0] {
			t.Errorf("%q: class sizes %v, want powers of two", tc.args, sizes[:4])
		}
	}
}

// checkAtRest verifies the counters of st once every buffer is back:
// every get was a hit or a miss, and was released or detached.
func checkAtRest(t *testing.T, mode string, st bufpool.Stats) {
	t.Helper()
	var sum bufpool.ClassStats
	for _, c := range append(st.Classes, st.Oversize, st.Total) {
		if c.Gets != c.Hits+c.Misses {
			t.Errorf("%s class %d: gets %d != hits %d + misses %d", mode, c.Size, c.Gets, c.Hits, c.Misses)
		}
		if int64(c.Gets) != int64(c.Releases)+int64(c.Drops.Total())+c.InUse {
			t.Errorf("%s class %d: gets %d != releases %d + drops %d + in use %d", mode, c.Size, c.Gets, c.Releases, c.Drops.Total(), c.InUse)
		}
		if c.InUse != 0 || c.InUseBytes != 0 {
			t.Errorf("%s class %d at rest: %d buffers, %d bytes in use", mode, c.Size, c.InUse, c.InUseBytes)
		}
	}
	for _, c := range append(st.Classes, st.Oversize) {
		sum.Gets += c.Gets
		sum.Hits += c.Hits
		sum.Releases += c.Releases
		sum.Drops.Detached += c.Drops.Detached
	}
	if sum.Gets != st.Total.Gets || sum.Hits != st.Total.Hits || sum.Releases != st.Total.Releases || sum.Drops.Detached != st.Total.Drops.Detached {
		t.Errorf("%s: classes sum to %+v, total is %+v", mode, sum, st.Total)
	}
}

func TestPoolStats(t *testing.T) {
	t.Parallel()
	// From empty to just beyond bufpool's largest class (4 MiB).
	sizes := []int{0, 1, 511, 512, 513, 4 << 10, 64 << 10, 1 << 20, 4<<20 + 1}
	data := make([]byte, sizes[len(sizes)-1]+100)
	for i := range data {
		data[i] = byte(i % 253)
	}
	for _, mode := range []string{ModeSized, ModeCalibrated, ModeSyncPool, ModeNone} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			p := newTestPool(t, mode)
			ctx := context.Background()
			const rounds = 2
			var detached uint64
			for range rounds {
				for i, n := range sizes {
					b, err := p.buffers.Acquire(ctx, n)
					if err != nil {
						t.Fatalf("Acquire(%d): %v", n, err)
					}
					if b.Len() != 0 {
						t.Fatalf("Acquire(%d): a buffer of length %d", n, b.Len())
					}
					st := p.stats().Total
					if st.InUse != 1 || st.InUseBytes < int64(n) {
						t.Errorf("Acquire(%d): %d buffers, %d bytes in use; want 1, >= %d", n, st.InUse, st.InUseBytes, n)
					}
					// Grow past the request, as a body of unknown length does.
					data := data[:n+100]
					if _, err := b.Write(data[:n/2]); err != nil {
						t.Fatal(err)
					}
					if _, err := b.ReadFromLimit(bytes.NewReader(data[n/2:]), 1<<30); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(b.Bytes(), data) {
						t.Fatalf("size %d: the buffer holds %d bytes, not what was written", n, b.Len())
					}
					if i%3 == 2 {
						if got := b.Detach(); !bytes.Equal(got, data) {
							t.Fatalf("Detach returned %d bytes, not the body", len(got))
						}
						detached++
					} else {
						b.Release()
					}
				}
			}
			st := p.stats()
			checkAtRest(t, mode, st)
			// bufpool counts the growth of a buffer as a get of the larger
			// one; a plain pool grows by append.
			if want := uint64(rounds * len(sizes)); st.Total.Gets != want && (mode != ModeSized || st.Total.Gets < want) {
				t.Errorf("gets %d, want %d", st.Total.Gets, want)
			}
			if st.Total.Drops.Detached != detached {
				t.Errorf("detached %d, want %d", st.Total.Drops.Detached, detached)
			}
			if mode == ModeNone && st.Total.Hits != 0 {
				t.Errorf("mode none reports %d hits", st.Total.Hits)
			}
			if mode != ModeSized {
				// A plain pool files a get by the class of the size asked for.
				pp := p.buffers.(*plainPool)
				if got := st.Oversize.Gets; got != rounds {
					t.Errorf("oversize gets %d, want %d (for 4 MiB + 1)", got, rounds)
				}
				for i, c := range st.Classes {
					if c.Size != pp.sizes[i] {
						t.Errorf("class %d has size %d, want %d", i, c.Size, pp.sizes[i])
					}
				}
			}
		})
	}
}

func TestPoolStatsConcurrent(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{ModeSized, ModeCalibrated, ModeSyncPool, ModeNone} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			p := newTestPool(t, mode)
			const workers, iters = 8, 200
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := range iters {
						n := (w*iters + i) % 20000
						b, err := p.buffers.Acquire(context.Background(), n)
						if err != nil {
							t.Error(err)
							return
						}
						b.Write(make([]byte, n+i%7))
						if i%5 == 0 {
							b.Detach()
						} else {
							b.Release()
						}
					}
				})
			}
			// Snapshots while the workers run must not race (go test -race).
			for range 20 {
				p.stats()
			}
			wg.Wait()
			st := p.stats()
			checkAtRest(t, mode, st)
			if want := uint64(workers * iters); st.Total.Gets != want && (mode != ModeSized || st.Total.Gets < want) {
				t.Errorf("gets %d, want %d", st.Total.Gets, want)
			}
			if st.Total.Drops.Detached != workers*iters/5 {
				t.Errorf("detached %d, want %d", st.Total.Drops.Detached, workers*iters/5)
			}
		})
	}
}

// TestReadFromLimit checks that the comparison modes enforce the body
// limit as bufpool does: at most limit+1 bytes read, then ErrTooLarge.
func TestReadFromLimit(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("0123456789", 10_000)
	for _, mode := range []string{ModeSized, ModeCalibrated, ModeSyncPool, ModeNone} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			p := newTestPool(t, mode)
			for _, tc := range []struct {
				name    string
				size    int // Acquire size
				limit   int64
				wantN   int64
				wantErr error
			}{
				{"fits", 64, int64(len(body)), int64(len(body)), nil},
				{"fits exactly in the first buffer", len(body), int64(len(body)), int64(len(body)), nil},
				{"one byte over", 64, int64(len(body)) - 1, int64(len(body)), bufpool.ErrTooLarge},
				{"far over", 64, 1000, 1001, bufpool.ErrTooLarge},
				{"zero limit", 0, 0, 1, bufpool.ErrTooLarge},
			} {
				// net/http's chunked reader returns the last bytes together
				// with io.EOF, which iotest.DataErrReader imitates.
				for _, src := range []struct {
					name string
					r    io.Reader
				}{
					{"EOF after the data", strings.NewReader(body)},
					{"EOF with the data", iotest.DataErrReader(strings.NewReader(body))},
					{"one byte at a time", iotest.OneByteReader(strings.NewReader(body[:min(int64(len(body)), tc.wantN)]))},
				} {
					b, err := p.buffers.Acquire(context.Background(), tc.size)
					if err != nil {
						t.Fatal(err)
					}
					n, err := b.ReadFromLimit(src.r, tc.limit)
					if n != tc.wantN || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
						t.Errorf("%s, %s: ReadFromLimit = %d, %v; want %d, %v", tc.name, src.name, n, err, tc.wantN, tc.wantErr)
					}
					if int64(b.Len()) != n || string(b.Bytes()) != body[:n] {
						t.Errorf("%s, %s: the buffer holds %d bytes, want the first %d of the body", tc.name, src.name, b.Len(), n)
					}
					b.Release()
				}
			}

			b, err := p.buffers.Acquire(context.Background(), 10)
			if err != nil {
				t.Fatal(err)
			}
			b.Write([]byte("head:"))
			n, err := b.ReadFromLimit(iotest.TimeoutReader(iotest.HalfReader(strings.NewReader(body))), 1<<20)
			if n == 0 || !errors.Is(err, iotest.ErrTimeout) {
				t.Errorf("ReadFromLimit of a failing reader = %d, %v; want the bytes read and %v", n, err, iotest.ErrTimeout)
			}
			if got := string(b.Bytes()); got != "head:"+body[:n] {
				t.Errorf("after a failed read the buffer holds %q..., want head: and the bytes read", got[:min(len(got), 20)])
			}
			b.Release()
			checkAtRest(t, mode, p.stats())
		})
	}
}
