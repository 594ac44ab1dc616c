package bufpool

import (
	"bytes"
	"errors"
	"testing"
)

var classesPerDoubling = [...]int{1, 2, 4}

// FuzzClassOf checks the size classes of any valid configuration: the
// class of n holds n, is the smallest class that does, wastes less than
// n/k bytes, and the class a capacity is filed in is the largest class it
// covers.
func FuzzClassOf(f *testing.F) {
	f.Add(0, uint8(2), 0, 0)
	f.Add(513, uint8(2), 0, 0)
	f.Add(4097, uint8(0), 0, 0)
	f.Add(100_000, uint8(1), 1000, 1<<20)
	f.Add(7, uint8(2), 1, 64)
	f.Add(-1, uint8(2), 3, 700)
	f.Add(1<<40, uint8(2), 1, 1<<40)
	f.Add(5000, uint8(1), 4096, 4096)
	f.Fuzz(func(t *testing.T, n int, k uint8, minSize, maxSize int) {
		if maxSize > 1<<40 || minSize > 1<<40 {
			t.Skip() // rejected by New; keeps the arithmetic in range
		}
		p, err := New(Config{MinSize: minSize, MaxSize: maxSize, ClassesPerDoubling: classesPerDoubling[int(k)%3]})
		if err != nil {
			t.Skip()
		}
		cfg := p.Config()
		kk := cfg.ClassesPerDoubling
		sizes := p.cls.sizes
		if sizes[0] != cfg.MinSize || sizes[len(sizes)-1] != cfg.MaxSize {
			t.Fatalf("classes span %d..%d, want %d..%d", sizes[0], sizes[len(sizes)-1], cfg.MinSize, cfg.MaxSize)
		}
		for i, s := range sizes {
			if i > 0 && s <= sizes[i-1] {
				t.Fatalf("classes not increasing: %d then %d", sizes[i-1], s)
			}
			if p.ClassSize(s) != s || p.cls.filing(s) != i {
				t.Fatalf("class %d: ClassSize %d, filed in class %d", s, p.ClassSize(s), p.cls.filing(s))
			}
			// The top of its doubling, where a miss allocates: within the
			// classes a Get may borrow from, and MinSize times a power of
			// two or the largest class.
			onGrid := func(s int) bool { return s%cfg.MinSize == 0 && (s/cfg.MinSize)&(s/cfg.MinSize-1) == 0 }
			top := int(p.cls.top[i])
			ts := sizes[top]
			if top < i || top-i > kk-1 || !onGrid(ts) && top != len(sizes)-1 || top != i && ts >= 2*s {
				t.Fatalf("class %d: top of its doubling %d (index %d of %d), want a class MinSize×2^j under twice its size, within %d classes above",
					s, ts, top, i, kk-1)
			}
			if onGrid(s) && top != i {
				t.Fatalf("class %d is on the grid but its top is %d", s, ts)
			}
		}

		c := p.ClassSize(n)
		switch {
		case c < n:
			t.Fatalf("ClassSize(%d) = %d does not hold it", n, c)
		case n > cfg.MaxSize:
			if c != n {
				t.Fatalf("ClassSize(%d) = %d beyond MaxSize %d, want exactly n", n, c, cfg.MaxSize)
			}
		case n <= cfg.MinSize:
			if c != cfg.MinSize {
				t.Fatalf("ClassSize(%d) = %d, want MinSize %d", n, c, cfg.MinSize)
			}
		default:
			if (c-n)*kk >= n {
				t.Fatalf("ClassSize(%d) = %d wastes %d bytes, not under n/%d", n, c, c-n, kk)
			}
			i := p.cls.of(n)
			if sizes[i] != c || sizes[i-1] >= n {
				t.Fatalf("ClassSize(%d) = %d is not the smallest class holding it (the one below is %d)", n, c, sizes[i-1])
			}
		}

		// A capacity derived from n: every capacity between MinSize and
		// MaxSize can be filed, those below MinSize cannot.
		m := uint64(n)
		if n < 0 {
			m = uint64(-(n + 1))
		}
		capacity := cfg.MinSize + int(m%uint64(cfg.MaxSize-cfg.MinSize+1))
		fi := p.cls.filing(capacity)
		if fi < 0 || sizes[fi] > capacity || (fi+1 < len(sizes) && sizes[fi+1] <= capacity) {
			t.Fatalf("capacity %d filed in class %d, want the largest class it covers", capacity, fi)
		}
		if small := int(m % uint64(cfg.MinSize)); p.cls.filing(small) != -1 {
			t.Fatalf("capacity %d below MinSize %d filed in class %d", small, cfg.MinSize, p.cls.filing(small))
		}
	})
}

// Operations of FuzzPoolAccounting, one input byte each, most followed by
// an argument byte.
const (
	opGet = iota
	opRelease
	opDetach
	opWrite
	opAppend // append to B directly, replacing its array
	opPrefill
	opAcquire
	opReadFromLimit
	opReserve
	opSet
	opReset
	opReplace // B replaced by a slice too small to keep
	opCount
)

const fuzzSlots = 4

// FuzzPoolAccounting runs a sequence of operations, read from the input,
// on a few buffers of one pool, checking contents against a model after
// each, then releases everything and checks that the statistics and the
// budget account for every buffer.
func FuzzPoolAccounting(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{0, opGet, 10, opWrite, 200, opRelease, 0})
	f.Add([]byte{4, opAcquire, 40, opWrite, 255, opWrite, 255, opReserve, 90, opWrite, 120})
	f.Add([]byte{1, opGet, 1, opAppend, 90, opDetach, 1, opGet, 1, opSet, 250})
	f.Add([]byte{2, opPrefill, 30, opGet, 30, opReadFromLimit, 100, opReplace, 0, opRelease, 0})
	f.Add([]byte{7, opAcquire, 0, opAcquire, 1, opAcquire, 2, opAcquire, 3, opReadFromLimit, 255, opReset, 1})
	f.Add([]byte{12, opGet, 0, opAppend, 250, opRelease, 0, opAcquire, 100, opGet, 250})
	f.Add([]byte{0x40, opGet, 100, opGet, 101, opGet, 102, opRelease, 0, opRelease, 1, opRelease, 2, opGet, 100, opGet, 101, opRelease, 0, opRelease, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) == 0 {
			return
		}
		mode := ops[0]
		cfg := Config{
			MinSize:            64,
			MaxSize:            16 << 10,
			ClassesPerDoubling: classesPerDoubling[int(mode>>4)%3],
			MaxIdleBytes:       64 << 10,
			Track:              mode&1 != 0,
			Poison:             mode&2 != 0,
			ZeroOnRelease:      mode&8 != 0,
		}
		if mode&4 != 0 {
			cfg.MaxInUseBytes = 32 << 10
		}
		if mode&0x40 != 0 {
			// A bound the buffers reach: releases keep them weakly.
			cfg.MaxIdleBytes = 16 << 10
		}
		p := newPool(t, cfg)
		var held [fuzzSlots]*Buffer
		var want [fuzzSlots][]byte
		release := func(i int) {
			if held[i] != nil {
				held[i].Release()
				held[i], want[i] = nil, nil
			}
		}
		ops = ops[1:]
		for step := 0; len(ops) > 0 && step < 64; step++ {
			op := int(ops[0]) % opCount
			var arg byte
			if len(ops) > 1 {
				arg = ops[1]
			}
			ops = ops[min(2, len(ops)):]
			slot := int(arg) % fuzzSlots
			size := int(arg) * 97 // up to 24 KiB: beyond MaxSize too
			b := held[slot]
			switch op {
			case opGet:
				release(slot)
				held[slot], want[slot] = p.Get(size), []byte{}
			case opAcquire:
				release(slot)
				nb, err := p.Acquire(cancelled, size)
				if err != nil {
					if cfg.MaxInUseBytes == 0 || !errors.Is(err, ErrBudgetExceeded) {
						t.Fatalf("Acquire(%d): %v", size, err)
					}
					break
				}
				held[slot], want[slot] = nb, []byte{}
			case opRelease:
				release(slot)
			case opDetach:
				if b != nil {
					if got := b.Detach(); !bytes.Equal(got, want[slot]) {
						t.Fatalf("Detach returned %d bytes that differ from the %d written", len(got), len(want[slot]))
					}
					held[slot], want[slot] = nil, nil
				}
			case opWrite:
				if b != nil {
					data := pattern(size)
					if _, err := b.Write(data); err != nil {
						if !b.budgeted || !errors.Is(err, ErrBudgetExceeded) {
							t.Fatalf("Write of %d bytes: %v", size, err)
						}
						break
					}
					want[slot] = append(want[slot], data...)
				}
			case opAppend:
				if b != nil {
					data := pattern(size)
					b.B = append(b.B, data...)
					want[slot] = append(want[slot], data...)
				}
			case opReadFromLimit:
				if b != nil {
					limit := int64(arg) * 61
					n, err := b.ReadFromLimit(bytes.NewReader(pattern(size)), limit)
					switch {
					case err == nil && int64(size) <= limit && n == int64(size):
					case errors.Is(err, ErrTooLarge) && int64(size) > limit && n == limit+1:
					case errors.Is(err, ErrBudgetExceeded) && b.budgeted:
					default:
						t.Fatalf("ReadFromLimit of %d bytes, limit %d: %d bytes, %v", size, limit, n, err)
					}
					want[slot] = append(want[slot], pattern(int(n))...)
				}
			case opReserve:
				if b != nil {
					err := b.Reserve(cancelled, size)
					if err != nil && (cfg.MaxInUseBytes == 0 || !errors.Is(err, ErrBudgetExceeded)) {
						t.Fatalf("Reserve(%d): %v", size, err)
					}
				}
			case opSet:
				if b != nil {
					b.Set(pattern(size))
					want[slot] = pattern(size)
				}
			case opReset:
				if b != nil {
					b.Reset()
					want[slot] = want[slot][:0]
				}
			case opReplace:
				if b != nil {
					b.B = make([]byte, 0, int(arg)%cfg.MinSize)
					want[slot] = want[slot][:0]
				}
			case opPrefill:
				p.Prefill(size, int(arg)%4)
			}
			checkHeld(t, p, held[:], want[:])
		}
		for i := range held {
			release(i)
		}
		st := checkInvariants(t, p)
		if st.Total.InUse != 0 || st.Total.InUseBytes != 0 {
			t.Fatalf("%d buffers (%d bytes) in use after releasing all", st.Total.InUse, st.Total.InUseBytes)
		}
		if st.BudgetUsedBytes != 0 || st.BudgetWaiting != 0 {
			t.Fatalf("budget used %d, %d waiting after releasing all", st.BudgetUsedBytes, st.BudgetWaiting)
		}
	})
}

// checkHeld compares the held buffers with the model and the pool's
// in-use figures and budget with what the buffers account for.
func checkHeld(t *testing.T, p *Pool, held []*Buffer, want [][]byte) {
	t.Helper()
	var n, bytesInUse, charged int64
	for i, b := range held {
		if b == nil {
			continue
		}
		if !bytes.Equal(b.B, want[i]) {
			t.Fatalf("buffer %d holds %d bytes that differ from the %d written", i, b.Len(), len(want[i]))
		}
		n++
		bytesInUse += int64(b.s.capacity)
		charged += b.charged
	}
	st := p.Stats()
	if st.Total.InUse != n || st.Total.InUseBytes != bytesInUse {
		t.Fatalf("in use %d buffers, %d bytes; the held buffers account for %d, %d bytes", st.Total.InUse, st.Total.InUseBytes, n, bytesInUse)
	}
	if st.BudgetUsedBytes != charged {
		t.Fatalf("budget used %d, the held buffers are charged %d", st.BudgetUsedBytes, charged)
	}
}
