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

// sizesOf returns n sizes, each drawn by size.
func sizesOf(r *rand.Rand, n int, size func(*rand.Rand) int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = size(r)
	}
	return s
}

func fixedSizes(size int) func(*rand.Rand, int) []int {
	return func(r *rand.Rand, n int) []int {
		return sizesOf(r, n, func(*rand.Rand) int { return size })
	}
}

// mixedSizes draws from a body-size mix with a long tail: mostly small
// API bodies, some tens of kilobytes, a few uploads of 256 KiB and 1 MiB.
func mixedSizes(r *rand.Rand, n int) []int {
	return sizesOf(r, n, func(r *rand.Rand) int {
		switch p := r.IntN(100); {
		case p < 60:
			return 1 * kib
		case p < 85:
			return 16*kib + r.IntN(48*kib+1)
		case p < 97:
			return 256 * kib
		}
		return 1 * mib
	})
}

// logUniformSizes draws sizes from lo to hi bytes, uniform in their
// logarithm: as many bodies between 1 and 2 KiB as between 512 KiB and
// 1 MiB, so every size class of a pool is asked for about equally often.
func logUniformSizes(lo, hi int) func(*rand.Rand, int) []int {
	ratio := math.Log(float64(hi) / float64(lo))
	return func(r *rand.Rand, n int) []int {
		return sizesOf(r, n, func(r *rand.Rand) int {
			return min(hi, max(lo, int(float64(lo)*math.Exp(r.Float64()*ratio))))
		})
	}
}

// LookupWorkloads returns the workloads named in a comma-separated list, in
// the order of the list.
func LookupWorkloads(names string) ([]Workload, error) {
	return lookup("workload", names, workloads, func(w Workload, name string) bool { return w.Name == name })
}

// lookup returns the elements of all that match each name of a
// comma-separated list, in the order of the list; a name that matches
// none is an error that lists what kind of element is known.
func lookup[T any](kind, names string, all []T, matches func(T, string) bool) ([]T, error) {
	var out []T
	for name := range strings.SplitSeq(names, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		n := len(out)
		for _, e := range all {
			if matches(e, name) {
				out = append(out, e)
			}
		}
		if len(out) == n {
			var known []string
			for _, e := range all {
				known = append(known, fmt.Sprint(e))
			}
			return nil, fmt.Errorf("unknown %s %q: want some of %s", kind, name, strings.Join(known, ", "))
		}
	}
	return out, nil
}

// String returns the workload's name.
func (w Workload) String() string { return w.Name }

// A plan is the exact sequence of requests of one workload: the same
// bodies, in the same order, for every mode and round.
type plan struct {
	// Data holds the bytes every body is a slice of: random, so that a
	// body mixed up with another's fails its checksum.
	Data  []byte
	Items []item
	// MaxSize is the largest body and TotalBytes the sum of all bodies.
	MaxSize    int
	TotalBytes int64
}

// item is one request: the body Data[Off:Off+Size] and its CRC-32C.
type item struct {
	Off, Size int
	CRC       uint32
}

// castagnoli is CRC-32C, computed with the processor's instruction where
// there is one: a cheap check of every echoed byte.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum returns the CRC-32C of p, as item.CRC holds it.
func checksum(p []byte) uint32 { return crc32.Checksum(p, castagnoli) }

// offsets is how many distinct starting points bodies of one size have:
// enough that neighbouring requests differ, few enough that checksums are
// computed once each.
const offsets = 61

// newPlan returns the plan of n requests of w, drawn from seed.
func newPlan(w Workload, n int, seed uint64) *plan {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	sizes := w.sizes(r, n)
	p := &plan{Items: make([]item, n)}
	for _, s := range sizes {
		p.MaxSize = max(p.MaxSize, s)
		p.TotalBytes += int64(s)
	}
	p.Data = make([]byte, p.MaxSize+offsets*64)
	rand.NewChaCha8([32]byte{0: byte(seed), 1: byte(seed >> 8), 2: byte(seed >> 16), 3: byte(seed >> 24)}).Read(p.Data)
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
