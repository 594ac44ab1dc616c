package abtest

import (
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"strings"
)

// A Workload is a distribution of request body sizes, all sent to POST /echo.
type Workload struct {
	Name        string
	Description string
	// sizes returns the size of each of n requests, the same for a given
	// n every time.
	sizes func(r *rand.Rand, n int) []int
}

// Size constants of the workloads.
const (
	kib = 1 << 10
	mib = 1 << 20
)

// workloads are the size mixes the harness knows, in report order.
var workloads = []Workload{
	{"small", "1 KiB bodies", fixedSizes(1 * kib)},
	{"medium", "64 KiB bodies", fixedSizes(64 * kib)},
	{"large", "1 MiB bodies", fixedSizes(1 * mib)},
	{"mixed", "60% 1 KiB, 25% 16–64 KiB, 12% 256 KiB, 3% 1 MiB", mixedSizes},
	{"loguniform", "log-uniform 1 KiB – 1 MiB", logUniformSizes(1*kib, 1*mib)},
}

func fixedSizes(size int) func(*rand.Rand, int) []int {
	return func(_ *rand.Rand, n int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = size
		}
		return s
	}
}

// mixedSizes draws from a body-size mix with a long tail: mostly small
// API bodies, some tens of kilobytes, a few uploads of 256 KiB and 1 MiB.
func mixedSizes(r *rand.Rand, n int) []int {
	s := make([]int, n)
	for i := range s {
		switch p := r.IntN(100); {
		case p < 60:
			s[i] = 1 * kib
		case p < 85:
			s[i] = 16*kib + r.IntN(48*kib+1)
		case p < 97:
			s[i] = 256 * kib
		default:
			s[i] = 1 * mib
		}
	}
	return s
}

// logUniformSizes draws sizes from lo to hi bytes, uniform in their
// logarithm: as many bodies between 1 and 2 KiB as between 512 KiB and
// 1 MiB, so every size class of a pool is asked for about equally often.
func logUniformSizes(lo, hi int) func(*rand.Rand, int) []int {
	ratio := math.Log(float64(hi) / float64(lo))
	return func(r *rand.Rand, n int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = min(hi, max(lo, int(float64(lo)*math.Exp(r.Float64()*ratio))))
		}
		return s
	}
}

// LookupWorkloads returns the workloads named in a comma-separated list, in
// the order of the list.
func LookupWorkloads(names string) ([]Workload, error) {
	var out []Workload
	for name := range strings.SplitSeq(names, ",") {
		name = strings.TrimSpace(name)
		found := false
		for _, w := range workloads {
			if w.Name == name {
				out = append(out, w)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown workload %q: want some of %s", name, strings.Join(workloadNames(), ", "))
		}
	}
	return out, nil
}

func workloadNames() []string {
	var names []string
	for _, w := range workloads {
		names = append(names, w.Name)
	}
	return names
}

// A plan is the exact sequence of requests of one workload: the same
// bodies, in the same order, for every mode and round.
type plan struct {
	Workload Workload
	// Data holds the bytes every body is a slice of: random, so that a
	// body mixed up with another's fails its checksum.
	Data  []byte
	Items []item
	// MaxSize is the largest body of the plan.
	MaxSize int
}

// item is one request: the body Data[Off:Off+Size] and its CRC-32C.
type item struct {
	Off, Size int
	CRC       uint32
}

// castagnoli is CRC-32C, computed with the processor's instruction where
// there is one: a cheap check of every echoed byte.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum returns the CRC-32C of p, as Item.CRC holds it.
func checksum(p []byte) uint32 { return crc32.Checksum(p, castagnoli) }

// offsets is how many distinct starting points bodies of one size have:
// enough that neighbouring requests differ, few enough that checksums are
// computed once each.
const offsets = 61

// newPlan returns the plan of n requests of w, drawn from seed.
func newPlan(w Workload, n int, seed uint64) *plan {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	sizes := w.sizes(r, n)
	maxSize := 0
	for _, s := range sizes {
		maxSize = max(maxSize, s)
	}
	p := &plan{Workload: w, Data: make([]byte, maxSize+offsets*64), MaxSize: maxSize, Items: make([]item, n)}
	for i := 0; i < len(p.Data); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < len(p.Data); j++ {
			p.Data[i+j] = byte(v >> (8 * j))
		}
	}
	type key struct{ off, size int }
	sums := map[key]uint32{}
	for i, s := range sizes {
		k := key{(i % offsets) * 64, s}
		sum, ok := sums[k]
		if !ok {
			sum = checksum(p.Data[k.off : k.off+s])
			sums[k] = sum
		}
		p.Items[i] = item{Off: k.off, Size: s, CRC: sum}
	}
	return p
}

// Body returns the request body of item i.
func (p *plan) Body(i int) []byte {
	it := p.Items[i]
	return p.Data[it.Off : it.Off+it.Size]
}

// TotalBytes is the sum of the body sizes of the plan.
func (p *plan) TotalBytes() int64 {
	var t int64
	for _, it := range p.Items {
		t += int64(it.Size)
	}
	return t
}
