package bufpool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// ErrBudgetExceeded is returned, wrapped, when a request for memory does
// not fit the pool's in-use budget (Config.MaxInUseBytes) in time. When the
// wait ended with a context, the error also wraps the context's cause.
var ErrBudgetExceeded = errors.New("bufpool: in-use budget exceeded")

// budget counts the bytes checked out of a pool against a maximum. Waiters
// are served strictly in arrival order: a small request never overtakes a
// large one that waits ahead of it.
type budget struct {
	max int64

	mu      sync.Mutex
	used    int64
	waiters []*waiter

	waits      atomic.Uint64
	rejections atomic.Uint64
}

type waiter struct {
	n       int64
	ready   chan struct{}
	granted bool
}

func newBudget(max int64) *budget { return &budget{max: max} }

// force counts n bytes as used, even past the maximum.
func (b *budget) force(n int64) {
	b.mu.Lock()
	b.used += n
	b.mu.Unlock()
}

// try takes n bytes if they fit now. Buffers already admitted grow with try,
// ahead of the queue: finishing work in flight frees memory soonest.
func (b *budget) try(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.max {
		return false
	}
	b.used += n
	return true
}

func (b *budget) acquire(ctx context.Context, n int64) error {
	if n > b.max {
		b.rejections.Add(1)
		return fmt.Errorf("%w: %d bytes requested, the budget is %d", ErrBudgetExceeded, n, b.max)
	}
	b.mu.Lock()
	if len(b.waiters) == 0 && b.used+n <= b.max {
		b.used += n
		b.mu.Unlock()
		return nil
	}
	if err := ctx.Err(); err != nil {
		b.mu.Unlock()
		b.rejections.Add(1)
		return fmt.Errorf("%w: %w", ErrBudgetExceeded, context.Cause(ctx))
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	b.waits.Add(1)

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if w.granted {
		return nil
	}
	for i, x := range b.waiters {
		if x == w {
			b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
			break
		}
	}
	// The head may have changed: those behind a departed waiter may fit.
	b.grantLocked()
	b.rejections.Add(1)
	return fmt.Errorf("%w: %w", ErrBudgetExceeded, context.Cause(ctx))
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.grantLocked()
	b.mu.Unlock()
}

func (b *budget) grantLocked() {
	for len(b.waiters) > 0 && b.used+b.waiters[0].n <= b.max {
		w := b.waiters[0]
		b.waiters[0] = nil
		b.waiters = b.waiters[1:]
		b.used += w.n
		w.granted = true
		close(w.ready)
	}
}

func (b *budget) snapshot() (used int64, waiting int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used, len(b.waiters)
}

// TryAcquire is Acquire without waiting: it returns a buffer with room for
// n bytes if its capacity fits within MaxInUseBytes now, ahead of no
// waiter, and false otherwise. A false is a probe's answer, not a refusal:
// it is not counted in Stats.BudgetRejections. Without a budget it is Get.
func (p *Pool) TryAcquire(n int) (*Buffer, bool) {
	if p.budget == nil {
		return p.Get(n), true
	}
	size := int64(p.ClassSize(n))
	if !p.budget.admit(size) {
		return nil, false
	}
	return p.admitted(n, size), true
}

// admit takes n bytes if they fit now and nobody waits ahead.
func (b *budget) admit(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiters) > 0 || b.used+n > b.max {
		return false
	}
	b.used += n
	return true
}

// admitted checks out a buffer for n bytes whose class size, size, the
// budget has granted.
func (p *Pool) admitted(n int, size int64) *Buffer {
	b := p.get(n)
	if cap(b.B) > int(size) {
		p.trim(b, int(size))
	}
	b.charged = size
	b.budgeted = true
	if p.tracker != nil {
		b = p.tracker.checkout(b)
	}
	return b
}
