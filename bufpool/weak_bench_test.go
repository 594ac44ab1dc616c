package bufpool

import "testing"

// BenchmarkCycle measures one Get and Release of a 64 KiB buffer that
// cycles through its class, kept strongly (a bound that holds it) or
// weakly (a bound too small for it, so that every release finds it
// reached): the cost of the weak path against the common one.
func BenchmarkCycle(b *testing.B) {
	for _, bc := range []struct {
		name    string
		maxIdle int64
	}{
		{"kept=strong", 1 << 20},
		{"kept=weak", 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p, err := New(Config{MaxIdleBytes: bc.maxIdle})
			if err != nil {
				b.Fatal(err)
			}
			p.Get(64 << 10).Release()
			b.ReportAllocs()
			for b.Loop() {
				p.Get(64 << 10).Release()
			}
			st := p.Stats().Total
			b.ReportMetric(float64(st.WeakReleases)/float64(st.Releases), "weak-rel/op")
		})
	}
}
