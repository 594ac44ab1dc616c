package abtest

import (
	"math/rand/v2"
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
			ws, err := LookupWorkloads(tt.workload)
			if err != nil {
				t.Fatal(err)
			}
			p := newPlan(ws[0], tt.n, 42)
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
			again := newPlan(ws[0], tt.n, 42)
			if !slices.Equal(p.Items, again.Items) || !slices.Equal(p.Data, again.Data) {
				t.Error("two plans from one seed differ")
			}
		})
	}
}

func TestMixedDistribution(t *testing.T) {
	t.Parallel()
	ws, _ := LookupWorkloads("mixed")
	p := newPlan(ws[0], 20000, 1)
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
	ws, _ := LookupWorkloads("loguniform")
	p := newPlan(ws[0], 20000, 1)
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
	if got := smallMix.sizes(rand.New(rand.NewPCG(1, 2)), 1000); slices.Min(got) < 512 || slices.Max(got) > 16*kib {
		t.Errorf("small mix from %d to %d, want 512 B – 16 KiB", slices.Min(got), slices.Max(got))
	}
}

func TestLookupWorkloads(t *testing.T) {
	t.Parallel()
	ws, err := LookupWorkloads("mixed, small")
	if err != nil || len(ws) != 2 || ws[0].Name != "mixed" || ws[1].Name != "small" {
		t.Errorf("LookupWorkloads = %v, %v", ws, err)
	}
	if _, err := LookupWorkloads("small,huge"); err == nil {
		t.Error("an unknown workload was accepted")
	}
}
