package bufpool

import (
	"reflect"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newPool is New for tests: it fails the test on error and, in Track mode,
// fails it at the end when a buffer was never released.
func newPool(t testing.TB, cfg Config) *Pool {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	t.Cleanup(func() {
		if err := p.CheckLeaks(); err != nil {
			t.Error(err)
		}
	})
	return p
}

// checkInvariants verifies, at rest, that the counters account for every
// buffer handed out, per class and in total.
func checkInvariants(t testing.TB, p *Pool) Stats {
	t.Helper()
	st := restingStats(p)
	for _, c := range append(st.Classes, st.Oversize, st.Total) {
		if c.Gets != c.Hits+c.Misses {
			t.Errorf("class %d: gets %d != hits %d + misses %d", c.Size, c.Gets, c.Hits, c.Misses)
		}
		if int64(c.Gets) != int64(c.Releases)+int64(c.Drops.Total())+c.InUse {
			t.Errorf("class %d: gets %d != releases %d + drops %d + in use %d", c.Size, c.Gets, c.Releases, c.Drops.Total(), c.InUse)
		}
		if c.InUse < 0 || c.Idle < 0 || c.InUseBytes < 0 || c.IdleBytes < 0 || c.WeakIdle < 0 || c.WeakIdleBytes < 0 {
			t.Errorf("class %d: negative figures %+v", c.Size, c)
		}
		if c.WeakIdle > c.Idle || c.WeakIdleBytes > c.IdleBytes || c.WeakReleases > c.Releases {
			t.Errorf("class %d: weak figures beyond their totals %+v", c.Size, c)
		}
	}
	if strong := st.Total.IdleBytes - st.Total.WeakIdleBytes; strong > st.MaxIdleBytes {
		t.Errorf("idle bytes kept strongly %d exceed MaxIdleBytes %d", strong, st.MaxIdleBytes)
	}
	// Buffers checked out keep the idle tokens they held while idle, and a
	// buffer trimmed for the budget holds tokens for its whole array, so
	// tokens and the idle bytes kept strongly add up to at most
	// MaxIdleBytes (exactly, at rest, when no buffer was trimmed: see
	// checkTokensExact).
	checkTokens(t, p, false)
	return st
}

// restingStats returns a snapshot of p's counters that no cleanup tore:
// the cleanups of buffers the garbage collector reclaimed run at any time,
// even in a pool at rest, and move two counters each.
func restingStats(p *Pool) Stats {
	st := p.Stats()
	for range 100 {
		again := p.Stats()
		if reflect.DeepEqual(st, again) {
			break
		}
		st = again
		time.Sleep(time.Millisecond)
	}
	return st
}

// checkTokensExact verifies, at rest, that the idle tokens and the idle
// bytes add up to MaxIdleBytes exactly: no token is lost or made up.
func checkTokensExact(t testing.TB, p *Pool) {
	t.Helper()
	checkTokens(t, p, true)
}

func checkTokens(t testing.TB, p *Pool, exact bool) {
	t.Helper()
	// Cleanups for buffers the garbage collector reclaimed run at any time;
	// retry until a snapshot is not torn by one.
	for try := 0; ; try++ {
		t1 := p.led.tokens()
		s := p.Stats()
		sum := t1 + s.Total.IdleBytes - s.Total.WeakIdleBytes
		bound := s.MaxIdleBytes
		if t1 == p.led.tokens() && (sum == bound || (!exact && sum < bound)) {
			break
		}
		if try == 100 {
			t.Errorf("idle tokens + idle bytes = %d with %d buffers in use, want MaxIdleBytes %d", sum, s.Total.InUse, bound)
			break
		}
		time.Sleep(time.Millisecond)
	}
}
