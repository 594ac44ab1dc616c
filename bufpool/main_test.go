package bufpool

import (
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
	st := p.Stats()
	for _, c := range append(st.Classes, st.Oversize, st.Total) {
		if c.Gets != c.Hits+c.Misses {
			t.Errorf("class %d: gets %d != hits %d + misses %d", c.Size, c.Gets, c.Hits, c.Misses)
		}
		if int64(c.Gets) != int64(c.Releases)+int64(c.Drops.Total())+c.InUse {
			t.Errorf("class %d: gets %d != releases %d + drops %d + in use %d", c.Size, c.Gets, c.Releases, c.Drops.Total(), c.InUse)
		}
		if c.InUse < 0 || c.Idle < 0 || c.InUseBytes < 0 || c.IdleBytes < 0 {
			t.Errorf("class %d: negative figures %+v", c.Size, c)
		}
	}
	if st.Total.IdleBytes > st.MaxIdleBytes+st.SurgeBytes {
		t.Errorf("idle bytes %d exceed MaxIdleBytes %d + SurgeBytes %d", st.Total.IdleBytes, st.MaxIdleBytes, st.SurgeBytes)
	}
	// Buffers checked out keep the idle tokens they held while idle, and a
	// buffer trimmed for the budget holds tokens for its whole array, so
	// tokens and idle bytes add up to at most MaxIdleBytes (exactly, at
	// rest, when no buffer was trimmed: see checkTokensExact).
	checkTokens(t, p, false)
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
		sum := t1 + s.Total.IdleBytes
		bound := s.MaxIdleBytes + s.SurgeBytes
		if t1 == p.led.tokens() && s.SurgeBytes == p.decay.surge.Load() && (sum == bound || (!exact && sum < bound)) {
			break
		}
		if try == 100 {
			t.Errorf("idle tokens + idle bytes = %d with %d buffers in use, want MaxIdleBytes + SurgeBytes %d", sum, s.Total.InUse, bound)
			break
		}
		time.Sleep(time.Millisecond)
	}
}
