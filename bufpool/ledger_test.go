package bufpool

import "testing"

// TestLedgerShort checks the test a weakly kept buffer's Release makes
// before it skips the token ledger: it may skip it only while a take would
// fail, so that room the bound has left is still taken.
func TestLedgerShort(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(l *ledger) // from a ledger whose bound is all taken
		n       int64
		short   bool
		canTake bool
	}{
		{"bound not yet found reached", func(l *ledger) { l.full.Store(false) }, 1, false, false},
		{"reached, nothing left", func(l *ledger) {}, 1, true, false},
		{"reached, less than n left at home", func(l *ledger) { l.shards[0].tokens.Add(100) }, 101, true, false},
		{"reached, n left at home", func(l *ledger) { l.shards[0].tokens.Add(100) }, 100, false, true},
		{"a token came back", func(l *ledger) { l.give(3, 100) }, 100, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLedger([]int{64, 128}, 1<<20)
			if !l.take(0, 1<<20) || l.take(0, 1) {
				t.Fatal("taking the whole bound, then one more token: want success, then failure")
			}
			if !l.full.Load() {
				t.Fatal("a take that failed did not note the bound reached")
			}
			tt.setup(l)
			if got := l.short(0, tt.n); got != tt.short {
				t.Errorf("short(%d) = %v, want %v", tt.n, got, tt.short)
			}
			if got := l.take(0, tt.n); got != tt.canTake {
				t.Errorf("take(%d) = %v, want %v", tt.n, got, tt.canTake)
			}
		})
	}
}
