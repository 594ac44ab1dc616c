package bufpool

import "testing"

// BenchmarkTrackingOverhead shows what Config.Track costs per Get and
// Release of 4 KiB: nothing when off; a stack capture, a fresh handle and
// a map entry when on.
func BenchmarkTrackingOverhead(b *testing.B) {
	for _, bm := range []struct {
		name  string
		track bool
	}{{"track=off", false}, {"track=on", true}} {
		b.Run(bm.name, func(b *testing.B) {
			p, err := New(Config{Track: bm.track})
			if err != nil {
				b.Fatal(err)
			}
			p.Get(4096).Release() // warm
			b.ReportAllocs()
			for b.Loop() {
				p.Get(4096).Release()
			}
			b.StopTimer()
			if err := p.CheckLeaks(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
