package bufpool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unsafe"
	"weak"

	"github.com/valyala/bytebufferpool"
)

// ErrTooLarge is what a *TooLargeError matches with errors.Is: the error
// ReadFromLimit returns when the reader holds more bytes than the limit
// allows.
var ErrTooLarge = errors.New("bufpool: data exceeds the limit")

// TooLargeError is returned by ReadFromLimit when the reader holds more
// than Limit bytes. It matches ErrTooLarge with errors.Is, as
// *http.MaxBytesError carries the limit of http.MaxBytesReader.
type TooLargeError struct {
	// Limit is the largest number of bytes the reader was allowed.
	Limit int64
}

func (e *TooLargeError) Error() string {
	return "bufpool: data exceeds the limit of " + strconv.FormatInt(e.Limit, 10) + " bytes"
}

// Is reports whether target is ErrTooLarge.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// Buffer is a byte buffer checked out of a Pool. It embeds
// bytebufferpool.ByteBuffer, so B, Len, Bytes, String, Reset and WriteTo
// work as there; the methods that can grow the buffer (Write, WriteString,
// WriteByte, Set, SetString, ReadFrom, ReadFromLimit and Grow) are
// redefined so that growth moves the contents into a buffer of a larger
// class of the same pool, and the old memory goes back to the pool, instead
// of letting append allocate memory the pool never sees.
//
// A Buffer belongs to the goroutine that took it until Release or Detach.
// It is not safe for concurrent use. After Release, neither the Buffer nor
// any slice of its B may be used: the memory belongs to the next Get. A
// second Release panics when the pool can tell (always in Track mode).
//
// A zero Buffer is an empty buffer that belongs to no pool: it grows with
// ordinary allocations, and Release panics on it.
type Buffer struct {
	bytebufferpool.ByteBuffer

	pool *Pool
	s    *slab
	// full is B before lend cut it to the class of the Get, so that
	// Release gives the pool the whole array back; nil unless lent.
	full []byte
	// self is a weak pointer to the Buffer, made the first time it is
	// kept weakly and reused after: weak.Make looks the object up in the
	// runtime's tables each time, under a lock.
	self weak.Pointer[Buffer]

	probe [16]byte // tells a full buffer's reader at its end from one with more

	charged  int64 // bytes of the budget held for this buffer
	floor    int64 // charge kept by Reserve until Release
	hint     int   // size announced by Reserve: growth does not overshoot it
	budgeted bool  // from Acquire: growth must fit the budget
}

// Release returns b to the pool it came from. The buffer, and every slice
// of b.B, must not be used afterwards. Release panics if b was released
// already (when the pool can tell) or did not come from a Pool.
func (b *Buffer) Release() {
	p := b.pool
	if p == nil || b.s == nil || b.s.state != slabInUse || p.tracker != nil {
		p = b.checkOwned("Release")
	}
	if p.budget != nil {
		b.settle(p)
	} else {
		b.hint = 0 // without a budget, nothing else is ever set
	}
	p.put(b)
}

// Detach hands b's bytes to the caller for good: the returned slice is
// never reused by the pool, and b must not be used afterwards. The memory
// leaves the pool's accounting and is counted as a drop for reason detached.
func (b *Buffer) Detach() []byte {
	p := b.checkOwned("Detach")
	b.settle(p)
	mem := b.B
	s := b.s
	if extra := int64(s.capacity - p.led.sizes[s.class]); extra != 0 {
		p.led.add(s.home, int(s.class), cExtraInUse, -extra)
	}
	p.led.add(s.home, int(s.class), cDropDetached, 1)
	s.giveBack()
	s.state = slabGone
	b.B, b.s, b.full = nil, nil, nil
	return mem
}

func (b *Buffer) checkOwned(op string) *Pool {
	p := b.pool
	if p == nil {
		panic("bufpool: " + op + " of a Buffer that no Pool handed out")
	}
	if b.s == nil || b.s.state != slabInUse {
		panic("bufpool: " + op + " of a Buffer that was already released or detached")
	}
	if p.tracker != nil {
		p.tracker.checkin(b, op)
	}
	return p
}

// settle gives back b's share of the budget.
func (b *Buffer) settle(p *Pool) {
	if b.charged != 0 {
		p.budget.release(b.charged)
	}
	b.charged, b.floor, b.hint, b.budgeted = 0, 0, 0, false
}

// unchargeGrowth gives back what chargeGrowth took for a growth that did
// not happen.
func (b *Buffer) unchargeGrowth(n int64) {
	if n > 0 {
		b.pool.budget.release(n)
		b.charged -= n
	}
}

// SizeHint announces that b is not expected to hold more than n bytes:
// growth stops at the class of n instead of doubling past it, unless more
// than n bytes are written. It allocates nothing.
func (b *Buffer) SizeHint(n int) { b.hint = n }

// Reserve announces that b will grow to hold n bytes, as SizeHint does. Growth then stops at
// the class of n instead of doubling past it, and, with a budget, Reserve
// waits (as Acquire does) until the budget holds everything growing to n
// bytes may need at once, including the copy made while growing, so that
// growth up to n never fails. It returns an error wrapping
// ErrBudgetExceeded when ctx ends first. Memory is not allocated ahead:
// it is taken as data arrives. Waiting for the budget while holding a
// buffer can wait for ever if every holder does the same: pass a ctx that
// ends.
func (b *Buffer) Reserve(ctx context.Context, n int) error {
	b.hint = n
	p := b.pool
	if p == nil || p.budget == nil {
		return nil
	}
	peak := p.growthPeak(n)
	if peak <= b.charged {
		b.floor = max(b.floor, peak)
		return nil
	}
	if err := p.budget.acquire(ctx, peak-b.charged); err != nil {
		return err
	}
	b.charged, b.floor = peak, peak
	return nil
}

// growthPeak bounds the capacity a buffer growing to n bytes holds at once:
// the last step holds a class below n and the class of n.
func (p *Pool) growthPeak(n int) int64 {
	if n > p.cfg.MaxSize {
		return 2 * int64(n)
	}
	i := p.cls.of(max(n, 0))
	peak := int64(p.cls.sizes[i])
	if i > 0 {
		peak += int64(p.cls.sizes[i-1])
	}
	return peak
}

// Grow makes room for at least n more bytes without another growth. It
// returns an error wrapping ErrBudgetExceeded only for a buffer from
// Acquire whose growth would exceed the budget.
func (b *Buffer) Grow(n int) error {
	if n < 0 {
		panic("bufpool: Grow with a negative count")
	}
	return b.grow(len(b.B)+n, false)
}

// grow ensures cap(b.B) >= need, moving the contents to a larger buffer of
// the pool. Growth doubles the capacity (so that reading a body costs
// amortized linear copying) unless Reserve announced a smaller final size.
func (b *Buffer) grow(need int, force bool) error {
	return b.growAtMost(need, -1, force)
}

// growAtMost is grow for a buffer that will never hold more than most
// bytes (when most >= need): doubling stops at the class of most.
func (b *Buffer) growAtMost(need, most int, force bool) error {
	if need <= cap(b.B) {
		return nil
	}
	if b.full != nil && need <= cap(b.full) && unsafe.SliceData(b.B) == unsafe.SliceData(b.full) {
		// Lent, and cut to the class of its Get: the rest of the array is
		// this buffer's already, so growing into it moves nothing.
		b.B = b.full[:len(b.B)]
		b.full = nil
		return nil
	}
	target := b.growthTarget(need, most)
	p := b.pool
	if p == nil || b.s == nil {
		mem := make([]byte, len(b.B), target)
		copy(mem, b.B)
		b.B = mem
		return nil
	}
	size := p.ClassSize(target)
	if _, err := b.chargeGrowth(size, force); err != nil {
		return err
	}
	nb := p.get(target)
	if p.budget != nil && cap(nb.B) > size {
		p.trim(nb, size)
	}
	nb.B = append(nb.B[:0], b.B...)
	b.B, nb.B = nb.B, b.B
	b.s, nb.s = nb.s, b.s
	b.full, nb.full = nb.full, b.full
	p.put(nb)
	if p.budget != nil {
		if keep := max(b.floor, int64(cap(b.B))); b.charged > keep {
			p.budget.release(b.charged - keep)
			b.charged = keep
		}
	}
	return nil
}

// growthTarget is the capacity growing to hold need bytes asks for:
// double, but no further than Reserve or SizeHint announced, nor than most
// (when most >= need).
func (b *Buffer) growthTarget(need, most int) int {
	target := max(need, 2*cap(b.B))
	if b.hint >= need {
		target = min(target, b.hint)
	}
	if most >= need {
		target = min(target, most)
	}
	return target
}

// chargeGrowth takes from the budget what growing to a buffer of size
// bytes needs, both buffers being held while the contents move, and
// returns how much it took. The budget is asked before any memory is
// taken, so that a refused growth takes none.
func (b *Buffer) chargeGrowth(size int, force bool) (int64, error) {
	p := b.pool
	if p == nil || p.budget == nil {
		return 0, nil
	}
	extra := int64(cap(b.B)+size) - b.charged
	if extra <= 0 {
		return 0, nil
	}
	if b.budgeted && !force {
		if !p.budget.try(extra) {
			return 0, fmt.Errorf("%w: growing a buffer to %d bytes", ErrBudgetExceeded, size)
		}
	} else {
		p.budget.force(extra)
	}
	b.charged += extra
	return extra, nil
}

// Write appends p to the buffer, growing it through the pool. It returns
// an error only for a buffer from Acquire whose growth would exceed the
// budget, having written nothing.
func (b *Buffer) Write(p []byte) (int, error) {
	if err := b.grow(len(b.B)+len(p), false); err != nil {
		return 0, err
	}
	b.B = append(b.B, p...)
	return len(p), nil
}

// WriteString appends s to the buffer, as Write does.
func (b *Buffer) WriteString(s string) (int, error) {
	if err := b.grow(len(b.B)+len(s), false); err != nil {
		return 0, err
	}
	b.B = append(b.B, s...)
	return len(s), nil
}

// WriteByte appends c to the buffer, as Write does.
func (b *Buffer) WriteByte(c byte) error {
	if err := b.grow(len(b.B)+1, false); err != nil {
		return err
	}
	b.B = append(b.B, c)
	return nil
}

// Set replaces the contents of the buffer with p. It never fails: for a
// buffer from Acquire it may take more than the budget allows.
func (b *Buffer) Set(p []byte) {
	b.B = b.B[:0]
	_ = b.grow(len(p), true)
	b.B = append(b.B, p...)
}

// SetString replaces the contents of the buffer with s, as Set does.
func (b *Buffer) SetString(s string) {
	b.B = b.B[:0]
	_ = b.grow(len(s), true)
	b.B = append(b.B, s...)
}

// ReadFrom appends everything r holds until io.EOF, growing the buffer
// through the pool. It returns the number of bytes read and the first
// error other than io.EOF.
//
// For a buffer from Acquire whose growth the budget refuses, it returns an
// error wrapping ErrBudgetExceeded, having read from r only what the
// buffer holds: a caller that makes room with Reserve and calls again with
// the same reader loses nothing.
func (b *Buffer) ReadFrom(r io.Reader) (int64, error) {
	return b.readFrom(r, -1)
}

// ReadFromLimit is like ReadFrom, but reads at most limit+1 bytes: when r
// holds more than limit bytes it stops there and returns a *TooLargeError,
// which matches ErrTooLarge. The buffer never grows for more than limit+1 bytes, however
// many bytes r holds or claims to hold.
func (b *Buffer) ReadFromLimit(r io.Reader, limit int64) (int64, error) {
	if limit < 0 {
		limit = 0
	}
	return b.readFrom(r, limit)
}

// minRead is the least room growth makes for the next read.
const minRead = 512

func (b *Buffer) readFrom(r io.Reader, limit int64) (int64, error) {
	start := len(b.B)
	stop := -1 // length at which reading stops, when limited
	if limit >= 0 {
		stop = start + int(min(limit, maxClassSize)) + 1
	}
	for {
		free := b.B[len(b.B):cap(b.B)]
		if len(free) == 0 {
			// Full. Before doubling, see whether the data has ended: a body
			// of exactly the buffer's size must not take twice its memory.
			probe := b.probe[:]
			if stop >= 0 && len(probe) > stop-len(b.B) {
				probe = probe[:stop-len(b.B)] // never read past limit+1
			}
			need := len(b.B) + max(len(probe), minRead)
			if stop >= 0 {
				need = min(need, stop)
			}
			// A buffer from Acquire takes the budget for the growth first,
			// so that no byte is read that it could not keep.
			var charged int64
			if b.budgeted {
				c, gerr := b.chargeGrowth(b.pool.ClassSize(b.growthTarget(need, stop)), false)
				if gerr != nil {
					return int64(len(b.B) - start), gerr
				}
				charged = c
			}
			n, err := r.Read(probe)
			if n < 0 || n > len(probe) {
				return int64(len(b.B) - start), errInvalidRead
			}
			if n == 0 {
				b.unchargeGrowth(charged)
			} else {
				if gerr := b.growAtMost(need, stop, false); gerr != nil {
					return int64(len(b.B) - start), gerr // not for want of budget: charged above
				}
				b.B = append(b.B, probe[:n]...)
			}
			if done, rerr := b.readDone(start, stop, limit, err); done {
				return int64(len(b.B) - start), rerr
			}
			continue
		}
		if stop >= 0 && len(free) > stop-len(b.B) {
			free = free[:stop-len(b.B)]
		}
		n, err := r.Read(free)
		if n < 0 || n > len(free) {
			return int64(len(b.B) - start), errInvalidRead
		}
		b.B = b.B[:len(b.B)+n]
		if done, rerr := b.readDone(start, stop, limit, err); done {
			return int64(len(b.B) - start), rerr
		}
	}
}

var errInvalidRead = errors.New("bufpool: reader returned an invalid count")

// readDone reports whether reading ends after a read that returned err,
// and with which error.
func (b *Buffer) readDone(start, stop int, limit int64, err error) (bool, error) {
	// Checked before io.EOF: the byte beyond the limit may arrive together
	// with the end of the data.
	if stop >= 0 && len(b.B) >= stop {
		return true, &TooLargeError{Limit: limit}
	}
	if err == io.EOF {
		return true, nil
	}
	return err != nil, err
}
