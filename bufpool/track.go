package bufpool

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
)

// ErrLeaked is returned, wrapped with a report of every buffer still checked
// out and where it was taken, by CheckLeaks.
var ErrLeaked = errors.New("bufpool: buffers never released")

// Outstanding describes a buffer checked out of a tracking pool.
type Outstanding struct {
	// Cap is the buffer's capacity when it was taken.
	Cap int
	// Stack is the call stack of the Get or Acquire that took it.
	Stack string
}

type tracker struct {
	mu  sync.Mutex
	out map[*Buffer]checkout
}

// checkout records a buffer handed out: where, and its capacity then (the
// buffer itself belongs to its user, and must not be read by a report).
type checkout struct {
	pcs []uintptr
	cap int
}

func newTracker() *tracker { return &tracker{out: make(map[*Buffer]checkout)} }

// checkout hands out a fresh handle for b's memory and retires b, so that
// a stale handle can never release memory that somebody else holds now.
func (t *tracker) checkout(b *Buffer) *Buffer {
	h := &Buffer{ByteBuffer: b.ByteBuffer, pool: b.pool, s: b.s, full: b.full,
		charged: b.charged, budgeted: b.budgeted}
	b.B, b.s, b.full, b.charged = nil, nil, nil, 0
	pcs := make([]uintptr, 32)
	pcs = pcs[:runtime.Callers(3, pcs)]
	t.mu.Lock()
	t.out[h] = checkout{pcs, cap(h.B)}
	t.mu.Unlock()
	return h
}

func (t *tracker) checkin(b *Buffer, op string) {
	t.mu.Lock()
	_, ok := t.out[b]
	delete(t.out, b)
	t.mu.Unlock()
	if !ok {
		panic("bufpool: " + op + " of a Buffer this Pool did not hand out")
	}
}

// Outstanding lists the buffers checked out of p and not yet released or
// detached, with the stacks that took them. It needs Config.Track and
// returns nil without it.
func (p *Pool) Outstanding() []Outstanding {
	if p.tracker == nil {
		return nil
	}
	p.tracker.mu.Lock()
	defer p.tracker.mu.Unlock()
	var list []Outstanding
	for _, c := range p.tracker.out {
		var sb strings.Builder
		frames := runtime.CallersFrames(c.pcs)
		for {
			f, more := frames.Next()
			fmt.Fprintf(&sb, "\t%s\n\t\t%s:%d\n", f.Function, f.File, f.Line)
			if !more {
				break
			}
		}
		list = append(list, Outstanding{Cap: c.cap, Stack: sb.String()})
	}
	return list
}

// CheckLeaks returns an error wrapping ErrLeaked, listing every buffer
// still checked out of p and where it was taken, or nil when there is none.
// Tests call it when they end. It needs Config.Track and returns nil
// without it.
func (p *Pool) CheckLeaks() error {
	list := p.Outstanding()
	if len(list) == 0 {
		return nil
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d buffer(s) still checked out:", len(list))
	for i, o := range list {
		fmt.Fprintf(&sb, "\nbuffer %d (cap %d) taken at:\n%s", i+1, o.Cap, o.Stack)
	}
	return fmt.Errorf("%w: %s", ErrLeaked, sb.String())
}
