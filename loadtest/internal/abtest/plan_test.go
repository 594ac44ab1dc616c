package abtest

import (
	"slices"
	"testing"
)

func TestPlan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		workload string
		n        int
		minSize  int
		maxSize  int
	}{
		{"small", 100, kib, kib},
		{"medium", 50, 64 * kib, 64 * kib},
		{"large", 10, mib, mib},
		{"mixed", 2000, kib, mib},
		{"loguniform", 2000, kib, mib},
	}
	for _, tt := range tests {
		t.Run(tt.workload, func(t *testing.T) {
			t.Parallel()
			ss, err := LookupScenarios(tt.workload)
			if err != nil {
				t.Fatal(err)
			}
			p := newPlan(ss[0].Size, tt.n, 42)
			if len(p.Items) != tt.n {
				t.Fatalf("%d items, want %d", len(p.Items), tt.n)
			}
			for i, it := range p.Items {
				if it.Size < tt.minSize || it.Size > tt.maxSize {
					t.Fatalf("item %d has size %d, outside [%d, %d]", i, it.Size, tt.minSize, tt.maxSize)
				}
				if got := checksum(p.Body(i)); got != it.CRC {
					t.Fatalf("item %d: checksum %08x, want %08x", i, it.CRC, got)
				}
			}
			again := newPlan(ss[0].Size, tt.n, 42)
			if !slices.Equal(p.Items, again.Items) || !slices.Equal(p.Data, again.Data) {
				t.Error("two plans from one seed differ")
			}
		})
	}
}

func TestMixedDistribution(t *testing.T) {
	t.Parallel()
	p := newPlan(mixedSize, 20000, 1)
	var small, mid, quarter, huge int
	for _, it := range p.Items {
		switch {
		case it.Size == kib:
			small++
		case it.Size >= 16*kib && it.Size <= 64*kib:
			mid++
		case it.Size == 256*kib:
			quarter++
		case it.Size == mib:
			huge++
		default:
			t.Fatalf("size %d is in no bucket", it.Size)
		}
	}
	// Shares within two points of 60/25/12/3 %.
	for _, c := range []struct {
		name       string
		got, wantP int
	}{{"1KiB", small, 60}, {"16-64KiB", mid, 25}, {"256KiB", quarter, 12}, {"1MiB", huge, 3}} {
		if share := c.got * 100 / len(p.Items); share < c.wantP-2 || share > c.wantP+2 {
			t.Errorf("%s: %d%% of requests, want about %d%%", c.name, share, c.wantP)
		}
	}
}

func TestLogUniformDistribution(t *testing.T) {
	t.Parallel()
	p := newPlan(logUniformSize(kib, mib), 20000, 1)
	// Ten doublings from 1 KiB to 1 MiB: about a tenth of the sizes each.
	var perDoubling [10]int
	for _, it := range p.Items {
		d := 0
		for kib<<(d+1) <= it.Size && d < 9 {
			d++
		}
		perDoubling[d]++
	}
	for d, n := range perDoubling {
		if share := n * 100 / len(p.Items); share < 8 || share > 12 {
			t.Errorf("%d KiB – %d KiB: %d%% of sizes, want about 10%%", 1<<d, 2<<d, share)
		}
	}
	s2, _ := LookupScenarios("S2")
	if got := newPlan(s2[0].Size, 1000, 2); got.MaxSize > 16*kib || slices.MinFunc(got.Items, func(a, b item) int { return a.Size - b.Size }).Size < 512 {
		t.Errorf("S2's small mix up to %d, want 512 B – 16 KiB", got.MaxSize)
	}
}
