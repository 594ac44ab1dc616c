package bufpool

import "testing"

// TestReleaseReplacedOversize releases buffers of an oversize Get whose B
// was replaced: a replacement within the class range is filed like any
// other buffer (it once indexed past the classes and panicked), others are
// dropped for their size.
func TestReleaseReplacedOversize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		capacity int
		wantIdle int64 // buffers kept
		reason   func(Drops) uint64
	}{
		{"within the classes", 5000, 1, nil},
		{"a class size", 4096, 1, nil},
		{"below MinSize", 100, 0, func(d Drops) uint64 { return d.Undersize }},
		{"beyond MaxSize", 40_000, 0, func(d Drops) uint64 { return d.Oversize }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPool(t, Config{MaxSize: 16 << 10, Poison: true})
			b := p.Get(20_000)
			b.B = append(make([]byte, 0, tt.capacity), "replaced"...)
			b.Release()
			st := checkInvariants(t, p)
			if st.Total.Idle != tt.wantIdle || st.Total.InUse != 0 || st.Total.InUseBytes != 0 {
				t.Errorf("idle %d, in use %d (%d bytes); want %d idle, none in use", st.Total.Idle, st.Total.InUse, st.Total.InUseBytes, tt.wantIdle)
			}
			if tt.wantIdle == 1 {
				f := p.cls.filing(tt.capacity)
				if st.Classes[f].Idle != 1 || st.Classes[f].IdleBytes != int64(tt.capacity) {
					t.Errorf("class %d holds %d idle (%d bytes), want the replaced buffer of %d bytes",
						st.Classes[f].Size, st.Classes[f].Idle, st.Classes[f].IdleBytes, tt.capacity)
				}
				nb := p.Get(st.Classes[f].Size) // the filed memory serves its class
				nb.Release()
				checkInvariants(t, p)
			}
			if tt.reason != nil && tt.reason(st.Total.Drops) != 1 {
				t.Errorf("drops %+v, want one for the reason", st.Total.Drops)
			}
		})
	}
}
