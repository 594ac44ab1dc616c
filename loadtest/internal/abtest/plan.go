package abtest

import (
	"hash/crc32"
	"math/rand/v2"
)

// A plan is the exact sequence of requests of one scenario: the same
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

// offsets is how many distinct starting points bodies have, 64 bytes
// apart: enough that neighbouring requests of one size differ.
const offsets = 61

// newPlan returns the plan of n requests whose sizes size draws from seed.
func newPlan(size func(*rand.Rand) int, n int, seed uint64) *plan {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	sizes := make([]int, n)
	p := &plan{Items: make([]item, n)}
	for i := range sizes {
		sizes[i] = size(r)
		p.MaxSize = max(p.MaxSize, sizes[i])
		p.TotalBytes += int64(sizes[i])
	}
	p.Data = make([]byte, p.MaxSize+offsets*64)
	rand.NewChaCha8([32]byte{0: byte(seed), 1: byte(seed >> 8), 2: byte(seed >> 16), 3: byte(seed >> 24)}).Read(p.Data)
	for i, s := range sizes {
		off := (i % offsets) * 64
		p.Items[i] = item{Off: off, Size: s, CRC: checksum(p.Data[off : off+s])}
	}
	return p
}

// Body returns the request body of item i.
func (p *plan) Body(i int) []byte {
	it := p.Items[i]
	return p.Data[it.Off : it.Off+it.Size]
}
