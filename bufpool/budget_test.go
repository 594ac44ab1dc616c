package bufpool

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// patience bounds every wait for something that must happen: it only
// turns a hang into a failure, and no test depends on its length.
const patience = 10 * time.Second

// cancelled is a context that has ended: an Acquire with it succeeds only
// when the budget has room at once, so it never waits.
var cancelled = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

type acquired struct {
	id  int
	buf *Buffer
	err error
}

// acquireAsync calls Acquire in a goroutine and sends the outcome on ch.
func acquireAsync(ctx context.Context, p *Pool, id, n int, ch chan<- acquired) {
	go func() {
		b, err := p.Acquire(ctx, n)
		ch <- acquired{id, b, err}
	}()
}

func receive(t *testing.T, ch <-chan acquired) acquired {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(patience):
		t.Fatalf("no Acquire returned within %v", patience)
		return acquired{}
	}
}

// expectNothing fails if an Acquire has returned. The budget grants room
// within Release, so what has not returned by now waits in the queue.
func expectNothing(t *testing.T, ch <-chan acquired) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("waiter %d returned (err %v) while it should wait", r.id, r.err)
	default:
	}
}

// waitWaiting waits until n callers wait for p's budget.
func waitWaiting(t *testing.T, p *Pool, n int) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for p.Stats().BudgetWaiting != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d callers wait for the budget, want %d", p.Stats().BudgetWaiting, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// checkParked checks that the goroutines that test started and that wait
// for the budget park in a select instead of spinning. A waiter joins the
// queue just before it parks, so it is given time to get there; one that
// spins never does.
func checkParked(t *testing.T, test string, want int) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		parked, states := parkedWaiters(test)
		if parked == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters parked in a select, want %d; their states: %v", parked, want, states)
		}
		time.Sleep(time.Millisecond)
	}
}

// parkedWaiters counts the goroutines whose stack mentions test and that
// are parked in the budget's select, and lists the states of all that wait
// for the budget.
func parkedWaiters(test string) (parked int, states []string) {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if !strings.Contains(g, "bufpool.(*budget).acquire") || !strings.Contains(g, test) {
			continue
		}
		header, _, _ := strings.Cut(g, "\n")
		states = append(states, header)
		if strings.Contains(header, "[select") {
			parked++
		}
	}
	return parked, states
}

func checkBudget(t *testing.T, p *Pool, used int64, waiting int) {
	t.Helper()
	st := p.Stats()
	if st.BudgetUsedBytes != used || st.BudgetWaiting != waiting {
		t.Fatalf("budget used %d with %d waiting, want %d with %d waiting", st.BudgetUsedBytes, st.BudgetWaiting, used, waiting)
	}
}

func checkBudgetCounts(t *testing.T, p *Pool, waits, rejections uint64) {
	t.Helper()
	st := p.Stats()
	if st.BudgetWaits != waits || st.BudgetRejections != rejections {
		t.Errorf("budget waits %d, rejections %d; want %d and %d", st.BudgetWaits, st.BudgetRejections, waits, rejections)
	}
}

// checkAtRest checks that a pool whose buffers were all released gives
// back its whole budget.
func checkAtRest(t *testing.T, p *Pool) {
	t.Helper()
	st := checkInvariants(t, p)
	if st.BudgetUsedBytes != 0 || st.BudgetWaiting != 0 {
		t.Errorf("at rest: budget used %d, %d waiting; want 0 and 0", st.BudgetUsedBytes, st.BudgetWaiting)
	}
	if st.Total.InUse != 0 || st.Total.InUseBytes != 0 {
		t.Errorf("at rest: %d buffers (%d bytes) in use", st.Total.InUse, st.Total.InUseBytes)
	}
}

func TestAcquireWithinBudget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cfg   Config
		sizes []int
	}{
		{"one class", Config{MaxInUseBytes: 64 << 10}, []int{4096}},
		{"fills the budget", Config{MaxInUseBytes: 64 << 10}, []int{1000, 4096, 1 << 10, 32 << 10, 16 << 10, 8 << 10, 1024}},
		{"oversize", Config{MaxSize: 16 << 10, MaxInUseBytes: 64 << 10}, []int{40_000, 20_000}},
		{"tracked", Config{MaxInUseBytes: 64 << 10, Track: true}, []int{100, 56 << 10}},
		{"no budget", Config{}, []int{4 << 20, 4 << 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPool(t, tt.cfg)
			var bufs []*Buffer
			var used int64
			for _, n := range tt.sizes {
				// An ended context: Acquire must not need to wait.
				b, err := p.Acquire(cancelled, n)
				if err != nil {
					t.Fatalf("Acquire(%d) with %d of %d bytes used: %v", n, used, tt.cfg.MaxInUseBytes, err)
				}
				if cap(b.B) != p.ClassSize(n) || b.Len() != 0 {
					t.Errorf("Acquire(%d): cap %d len %d, want cap %d", n, cap(b.B), b.Len(), p.ClassSize(n))
				}
				bufs = append(bufs, b)
				if tt.cfg.MaxInUseBytes > 0 {
					used += int64(p.ClassSize(n))
				}
			}
			checkBudget(t, p, used, 0)
			checkBudgetCounts(t, p, 0, 0)
			for _, b := range bufs {
				b.Release()
			}
			checkAtRest(t, p)
		})
	}
}

func TestAcquireWaitsForRelease(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{MaxInUseBytes: 8192})
	holder, err := p.Acquire(context.Background(), 8192)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan acquired, 1)
	go func() { // started here so that its stack names this test
		b, err := p.Acquire(context.Background(), 4096)
		ch <- acquired{1, b, err}
	}()
	waitWaiting(t, p, 1)
	checkParked(t, "TestAcquireWaitsForRelease", 1)
	expectNothing(t, ch)
	checkBudget(t, p, 8192, 1)

	holder.Release()
	r := receive(t, ch)
	if r.err != nil {
		t.Fatalf("Acquire after a Release: %v", r.err)
	}
	checkBudget(t, p, 4096, 0)
	r.buf.Release()
	checkBudgetCounts(t, p, 1, 0)
	checkAtRest(t, p)
}

// TestAcquireFIFO runs a queue of waiters against a model of the budget:
// after each Release the waiters at the head of the queue that fit are
// granted, in arrival order, and no later waiter overtakes the head even
// when it would fit.
func TestAcquireFIFO(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		max     int64
		holders []int // class sizes taken before the waiters arrive
		waiters []int // class sizes, in arrival order
	}{
		{"large head not overtaken by small", 8192, []int{4096, 4096}, []int{8192, 512}},
		{"several fit at once", 8192, []int{8192}, []int{1024, 2048, 4096, 2048}},
		{"mixed", 8192, []int{4096, 2048, 2048}, []int{6144, 1024, 8192, 512, 512}},
		{"small behind small behind large", 16384, []int{16384}, []int{512, 16384, 512, 512}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPool(t, Config{MaxInUseBytes: tt.max})
			type held struct {
				id  int // -1 for holders
				buf *Buffer
			}
			var hold []held
			var used int64
			for _, n := range tt.holders {
				b, err := p.Acquire(cancelled, n)
				if err != nil {
					t.Fatalf("holder Acquire(%d): %v", n, err)
				}
				hold = append(hold, held{-1, b})
				used += int64(n)
			}
			granted := make(chan acquired, len(tt.waiters))
			for id, n := range tt.waiters {
				acquireAsync(context.Background(), p, id, n, granted)
				waitWaiting(t, p, id+1) // fixes the order of arrival
			}
			queue := make([]int, len(tt.waiters))
			for i := range queue {
				queue[i] = i
			}
			for len(hold) > 0 {
				h := hold[0]
				hold = hold[1:]
				used -= int64(cap(h.buf.B))
				h.buf.Release()
				// The model: grant the head while it fits.
				var want []int
				for len(queue) > 0 && used+int64(tt.waiters[queue[0]]) <= tt.max {
					used += int64(tt.waiters[queue[0]])
					want = append(want, queue[0])
					queue = queue[1:]
				}
				checkBudget(t, p, used, len(queue))
				var got []int
				for range want {
					r := receive(t, granted)
					if r.err != nil {
						t.Fatalf("waiter %d: %v", r.id, r.err)
					}
					got = append(got, r.id)
					hold = append(hold, held{r.id, r.buf})
				}
				expectNothing(t, granted)
				// Waiters granted by one Release report in any order.
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Fatalf("after a Release waiters %v were granted, want %v", got, want)
				}
			}
			if len(queue) != 0 {
				t.Fatalf("waiters %v never granted", queue)
			}
			checkBudgetCounts(t, p, uint64(len(tt.waiters)), 0)
			checkAtRest(t, p)
		})
	}
}

var errShutdown = errors.New("server shutting down")

// TestAcquireCancel ends the context of a waiter at the head of the queue:
// its Acquire fails with an error wrapping both ErrBudgetExceeded and the
// context's cause, and the waiter behind it, which fits, is served at once.
func TestAcquireCancel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// ctx returns the waiter's context and a function that ends it;
		// timeout is for contexts that end by themselves.
		ctx  func(timeout time.Duration) (context.Context, func())
		want error
	}{
		{"cancel", func(time.Duration) (context.Context, func()) {
			return context.WithCancel(context.Background())
		}, context.Canceled},
		{"cancel with cause", func(time.Duration) (context.Context, func()) {
			ctx, cancel := context.WithCancelCause(context.Background())
			return ctx, func() { cancel(errShutdown) }
		}, errShutdown},
		{"timeout", func(timeout time.Duration) (context.Context, func()) {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			return ctx, func() { <-ctx.Done(); cancel() }
		}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A deadline may pass before both waiters are in the queue on
			// a loaded machine; then try again with a longer one.
			for timeout := 20 * time.Millisecond; !cancelScenario(t, tt.ctx, tt.want, timeout); timeout *= 4 {
				if timeout > patience {
					t.Fatalf("deadlines passed before two waiters could queue")
				}
				t.Logf("the deadline of %v passed before the waiters queued; trying a longer one", timeout)
			}
		})
	}
}

// cancelScenario runs TestAcquireCancel once on a fresh pool. It reports
// false when the waiter's context ended before the scenario was set up.
func cancelScenario(t *testing.T, makeCtx func(time.Duration) (context.Context, func()), want error, timeout time.Duration) bool {
	t.Helper()
	p := newPool(t, Config{MaxInUseBytes: 8192})
	holder, err := p.Acquire(cancelled, 4096)
	if err != nil {
		t.Fatal(err)
	}
	ctx, end := makeCtx(timeout)
	defer end()
	large := make(chan acquired, 1)
	acquireAsync(ctx, p, 0, 8192, large)
	if !waitQueued(t, p, 1, ctx) {
		checkCancelled(t, receive(t, large).err, want)
		holder.Release()
		checkAtRest(t, p)
		return false
	}
	small := make(chan acquired, 1)
	acquireAsync(context.Background(), p, 1, 2048, small)
	if !waitQueued(t, p, 2, ctx) {
		checkCancelled(t, receive(t, large).err, want)
		receive(t, small).buf.Release()
		holder.Release()
		checkAtRest(t, p)
		return false
	}
	expectNothing(t, small) // it fits, but waits behind the head

	end()
	checkCancelled(t, receive(t, large).err, want)
	// The departed head no longer blocks the waiter behind it, and no
	// Release was needed to let it in.
	s := receive(t, small)
	if s.err != nil {
		t.Fatalf("waiter behind a cancelled one: %v", s.err)
	}
	checkBudget(t, p, 4096+2048, 0)
	s.buf.Release()
	holder.Release()
	checkBudgetCounts(t, p, 2, 1)
	checkAtRest(t, p)
	return true
}

// waitQueued waits until n callers wait for p's budget, and reports false
// if ctx ends first.
func waitQueued(t *testing.T, p *Pool, n int, ctx context.Context) bool {
	t.Helper()
	deadline := time.Now().Add(patience)
	for p.Stats().BudgetWaiting != n {
		if ctx.Err() != nil {
			return false
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d callers wait for the budget, want %d", p.Stats().BudgetWaiting, n)
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

func checkCancelled(t *testing.T, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatal("Acquire returned no error after its context ended")
	}
	if !errors.Is(err, ErrBudgetExceeded) || !errors.Is(err, want) {
		t.Errorf("error %q: wraps ErrBudgetExceeded %v, wraps %v %v; want both",
			err, errors.Is(err, ErrBudgetExceeded), want, errors.Is(err, want))
	}
}

// TestAcquireEndedContext checks that a context that ended before Acquire
// fails at once when the budget is full, without queueing.
func TestAcquireEndedContext(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{MaxInUseBytes: 8192})
	holder, err := p.Acquire(cancelled, 8192)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Acquire(cancelled, 512)
	if !errors.Is(err, ErrBudgetExceeded) || !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire with an ended context and a full budget: %v", err)
	}
	checkBudget(t, p, 8192, 0)
	checkBudgetCounts(t, p, 0, 1)
	holder.Release()
	checkAtRest(t, p)
}

func TestAcquireLargerThanBudget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		n    int
	}{
		{"class beyond the budget", Config{MaxInUseBytes: 8192}, 8193},
		{"rounded up beyond the budget", Config{MaxInUseBytes: 9000}, 9000}, // class 10240
		{"oversize", Config{MaxSize: 4096, MaxInUseBytes: 8192}, 10_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPool(t, tt.cfg)
			done := make(chan error, 1)
			// A background context: only the size can make it fail.
			go func() {
				_, err := p.Acquire(context.Background(), tt.n)
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, ErrBudgetExceeded) {
					t.Errorf("Acquire(%d) with a budget of %d: %v, want ErrBudgetExceeded", tt.n, tt.cfg.MaxInUseBytes, err)
				}
			case <-time.After(patience):
				t.Fatalf("Acquire(%d) larger than the budget waits", tt.n)
			}
			checkBudgetCounts(t, p, 0, 1)
			checkAtRest(t, p)
		})
	}
}

func TestGetIgnoresBudget(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{MaxSize: 64 << 10, MaxInUseBytes: 8192})
	done := make(chan []*Buffer, 1)
	go func() {
		// Past the budget, and beyond MaxSize: Get never waits.
		done <- []*Buffer{p.Get(16 << 10), p.Get(8192), p.Get(100 << 10)}
	}()
	var bufs []*Buffer
	select {
	case bufs = <-done:
	case <-time.After(patience):
		t.Fatal("Get waits for the budget")
	}
	want := int64(16<<10 + 8192 + 100<<10)
	checkBudget(t, p, want, 0)

	// Growth of a buffer from Get is counted, and never refused.
	b := bufs[1]
	if _, err := b.Write(make([]byte, 20_000)); err != nil {
		t.Fatalf("growing a buffer from Get past the budget: %v", err)
	}
	want += int64(cap(b.B) - 8192)
	checkBudget(t, p, want, 0)

	// Acquire sees the bytes of Get.
	if _, err := p.Acquire(cancelled, 512); !errors.Is(err, ErrBudgetExceeded) {
		t.Errorf("Acquire with a budget used by Get: %v, want ErrBudgetExceeded", err)
	}
	for _, b := range bufs {
		b.Release()
	}
	checkBudgetCounts(t, p, 0, 1)
	checkAtRest(t, p)
}

// TestBudgetedGrowthRefused checks that every method that grows a buffer
// from Acquire refuses growth beyond the budget, leaves the contents as
// they were, and takes no memory for the refused growth.
func TestBudgetedGrowthRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		grow func(b *Buffer) error
	}{
		{"Write", func(b *Buffer) error { _, err := b.Write([]byte("x")); return err }},
		{"WriteString", func(b *Buffer) error { _, err := b.WriteString("xyz"); return err }},
		{"WriteByte", func(b *Buffer) error { return b.WriteByte('x') }},
		{"Grow", func(b *Buffer) error { return b.Grow(1) }},
		{"ReadFrom", func(b *Buffer) error { _, err := b.ReadFrom(strings.NewReader("more")); return err }},
		{"ReadFromLimit", func(b *Buffer) error {
			_, err := b.ReadFromLimit(strings.NewReader("more"), 1<<20)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPool(t, Config{MaxInUseBytes: 8192, Poison: true})
			b, err := p.Acquire(cancelled, 4096)
			if err != nil {
				t.Fatal(err)
			}
			body := pattern(4096)
			if _, err := b.Write(body); err != nil {
				t.Fatalf("Write within the capacity: %v", err)
			}
			// Growing to the next class holds 4096 + 8192 bytes at once.
			if err := tt.grow(b); !errors.Is(err, ErrBudgetExceeded) {
				t.Fatalf("growth beyond the budget: %v, want ErrBudgetExceeded", err)
			}
			if !bytes.Equal(b.B, body) || cap(b.B) != 4096 {
				t.Errorf("refused growth changed the buffer: len %d cap %d", b.Len(), cap(b.B))
			}
			checkBudget(t, p, 4096, 0)
			if st := p.Stats(); st.Total.Gets != 1 {
				t.Errorf("%d gets after a refused growth, want 1: it took memory the budget refused", st.Total.Gets)
			}
			// Growth refusals are not Acquire rejections.
			checkBudgetCounts(t, p, 0, 0)
			b.Release()
			checkAtRest(t, p)
		})
	}
}

func TestBudgetedGrowthFits(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{MaxInUseBytes: 16384})
	b, err := p.Acquire(cancelled, 4096)
	if err != nil {
		t.Fatal(err)
	}
	body := pattern(8000)
	if _, err := b.Write(body); err != nil {
		t.Fatalf("growth within the budget: %v", err)
	}
	if !bytes.Equal(b.B, body) {
		t.Error("contents changed while growing")
	}
	// Only the new buffer stays charged once the contents moved.
	checkBudget(t, p, int64(cap(b.B)), 0)
	// Set never fails: it may take more than the budget.
	b.Set(pattern(20_000))
	if !bytes.Equal(b.B, pattern(20_000)) {
		t.Error("Set lost contents")
	}
	checkBudget(t, p, int64(cap(b.B)), 0)
	b.Release()
	checkAtRest(t, p)
}

// TestAcquireChargesCapacity checks that the budget counts the whole
// capacity Acquire hands out, also when the idle buffer it reuses was
// filed with more capacity than its class (its B had been replaced).
func TestAcquireChargesCapacity(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{MaxInUseBytes: 64 << 10})
	b := p.Get(4096)
	b.B = append(b.B[:cap(b.B)], make([]byte, 3000)...)
	c := cap(b.B)
	b.Release()
	class := p.cls.sizes[p.cls.filing(c)]
	if class == c {
		t.Skipf("append gave a class-sized capacity %d", c)
	}
	a, err := p.Acquire(cancelled, class)
	if err != nil {
		t.Fatal(err)
	}
	// Under the race detector sync.Pool may have dropped the filed buffer;
	// the charge must match the capacity either way.
	st := p.Stats()
	if st.BudgetUsedBytes != int64(cap(a.B)) || st.Total.InUseBytes != int64(cap(a.B)) {
		t.Errorf("Acquire(%d) handed out cap %d: budget used %d, in-use bytes %d; want both equal to the capacity",
			class, cap(a.B), st.BudgetUsedBytes, st.Total.InUseBytes)
	}
	a.Release()
	checkAtRest(t, p)
}

func TestReserve(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{MaxInUseBytes: 16384})
	b, err := p.Acquire(cancelled, 512)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Reserve(cancelled, 8000); err != nil {
		t.Fatalf("Reserve within the budget: %v", err)
	}
	// Growing to 8000 bytes holds the classes 7168 and 8192 at once.
	const peak = 7168 + 8192
	checkBudget(t, p, peak, 0)
	// Somebody else takes the rest of the budget.
	other, err := p.Acquire(cancelled, 1024)
	if err != nil {
		t.Fatalf("Acquire of the rest of the budget: %v", err)
	}
	body := pattern(8000)
	for i := 0; i < len(body); i += 100 {
		if _, err := b.Write(body[i:min(i+100, len(body))]); err != nil {
			t.Fatalf("growth to a reserved size failed at %d bytes: %v", i, err)
		}
	}
	if !bytes.Equal(b.B, body) {
		t.Error("contents changed while growing")
	}
	if cap(b.B) != p.ClassSize(8000) {
		t.Errorf("cap %d after growing to a reserved 8000 bytes, want the class %d", cap(b.B), p.ClassSize(8000))
	}
	// The reservation is held until Release, though the growth is done.
	checkBudget(t, p, 16384, 0)
	b.Release()
	checkBudget(t, p, 1024, 0)
	other.Release()
	checkBudgetCounts(t, p, 0, 0)
	checkAtRest(t, p)
}

func TestReserveWaits(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{MaxInUseBytes: 16384})
	holder, err := p.Acquire(cancelled, 8192)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Acquire(cancelled, 512)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Reserve(context.Background(), 8000) }()
	waitWaiting(t, p, 1)
	holder.Release()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Reserve after a Release: %v", err)
		}
	case <-time.After(patience):
		t.Fatal("Reserve still waits after a Release made room")
	}
	checkBudget(t, p, 7168+8192, 0)

	// A reservation beyond the whole budget fails at once; one that must
	// wait fails when its context ends.
	c, err := p.Acquire(cancelled, 512)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Reserve(context.Background(), 16384); !errors.Is(err, ErrBudgetExceeded) {
		t.Errorf("Reserve beyond the budget: %v, want ErrBudgetExceeded", err)
	}
	if err := c.Reserve(cancelled, 4096); !errors.Is(err, ErrBudgetExceeded) || !errors.Is(err, context.Canceled) {
		t.Errorf("Reserve with an ended context and a full budget: %v", err)
	}
	b.Release()
	c.Release()
	checkBudgetCounts(t, p, 1, 2)
	checkAtRest(t, p)
}

func TestReserveWithoutBudget(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{})
	b := p.Get(512)
	if err := b.Reserve(cancelled, 5000); err != nil {
		t.Fatalf("Reserve without a budget: %v", err)
	}
	for range 50 {
		b.Write(make([]byte, 100))
	}
	// The hint stops doubling at the class of the reserved size.
	if cap(b.B) != p.ClassSize(5000) {
		t.Errorf("cap %d after growing to a reserved 5000 bytes, want %d", cap(b.B), p.ClassSize(5000))
	}
	b.Release()
	checkAtRest(t, p)
}

// TestBudgetConcurrent runs many goroutines that acquire, grow and release
// buffers under a small budget while another polls the statistics: with
// budgeted use only, the budget in use never exceeds the budget.
func TestBudgetConcurrent(t *testing.T) {
	t.Parallel()
	const budget = 64 << 10
	p := newPool(t, Config{MaxInUseBytes: budget, Poison: true})
	workers, ops := 8, 300
	if raceEnabled {
		ops = 100
	}
	var rejections, refused atomic.Uint64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	polled := make(chan int64, 1)
	go func() {
		var peak int64
		for {
			select {
			case <-stop:
				polled <- peak
				return
			default:
			}
			st := p.Stats()
			peak = max(peak, st.BudgetUsedBytes)
			time.Sleep(20 * time.Microsecond) // leave the cores to the workers
		}
	}()
	data := pattern(40 << 10) // read by all workers
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for range ops {
				b, err := p.Acquire(context.Background(), 512<<r.IntN(6))
				if err != nil {
					t.Errorf("Acquire: %v", err)
					return
				}
				if r.IntN(4) == 0 {
					// Reserving while holding memory can wait for others
					// that wait for us: bound the wait.
					ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
					if err := b.Reserve(ctx, 8<<10+r.IntN(16<<10)); err != nil {
						if !errors.Is(err, ErrBudgetExceeded) {
							t.Errorf("Reserve: %v", err)
						}
						rejections.Add(1)
					}
					cancel()
				}
				want := data[:r.IntN(len(data))]
				for i := 0; i < len(want); i += 1000 {
					if _, err := b.Write(want[i:min(i+1000, len(want))]); err != nil {
						if !errors.Is(err, ErrBudgetExceeded) {
							t.Errorf("Write: %v", err)
						}
						refused.Add(1)
						want = want[:i]
						break
					}
				}
				if !bytes.Equal(b.B, want) {
					t.Errorf("contents corrupted")
				}
				b.Release()
			}
		})
	}
	wg.Wait()
	close(stop)
	peak := <-polled
	if peak > budget {
		t.Errorf("budget in use reached %d, above the budget %d", peak, budget)
	}
	st := p.Stats()
	t.Logf("peak budget in use %d of %d; %d waits, %d rejections, %d growths refused",
		peak, budget, st.BudgetWaits, st.BudgetRejections, refused.Load())
	if st := p.Stats(); st.BudgetRejections != rejections.Load() {
		t.Errorf("%d rejections counted, %d observed", st.BudgetRejections, rejections.Load())
	}
	checkAtRest(t, p)
}

// TestReadFromLimitBudget checks that ReadFromLimit into a buffer from
// Acquire stops at the budget with its contents intact, reads nothing it
// cannot keep, and continues without loss once there is room.
func TestReadFromLimitBudget(t *testing.T) {
	t.Parallel()
	p := newPool(t, Config{MaxInUseBytes: 256 << 10})
	blocker, err := p.Acquire(cancelled, 200<<10)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Acquire(cancelled, 512)
	if err != nil {
		t.Fatal(err)
	}
	const total = 100 << 10
	cr := &countingReader{r: io.LimitReader(&endlessReader{}, total)}
	n, err := b.ReadFromLimit(cr, 1<<20)
	if !errors.Is(err, ErrBudgetExceeded) {
		t.Fatalf("ReadFromLimit past the budget: %d bytes, %v", n, err)
	}
	// Every byte taken from the reader is in the buffer: the budget is
	// asked before a byte is read that the buffer could not keep.
	if cr.n != n {
		t.Errorf("consumed %d bytes from the reader, kept %d", cr.n, n)
	}
	if int64(b.Len()) != n || !bytes.Equal(b.B, pattern(int(n))) {
		t.Errorf("read %d bytes, buffer holds %d, or contents corrupted", n, b.Len())
	}
	if st := p.Stats(); st.BudgetUsedBytes > 256<<10 {
		t.Errorf("budget used %d beyond the budget", st.BudgetUsedBytes)
	}
	blocker.Release()
	if err := b.Reserve(cancelled, total); err != nil {
		t.Fatalf("Reserve after making room: %v", err)
	}
	m, err := b.ReadFromLimit(cr, 1<<20-n)
	if err != nil || n+m != total || !bytes.Equal(b.B, pattern(total)) {
		t.Errorf("after making room: %d+%d bytes, %v; want %d bytes, intact", n, m, err, total)
	}
	b.Release()
	checkAtRest(t, p)
}
