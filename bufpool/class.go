package bufpool

import "math/bits"

// classes maps sizes to size classes. Between a size s and 2s there are k
// classes s, s+s/k, ..., s+(k-1)s/k, so consecutive classes differ by a
// factor of at most (k+1)/k. A request of n > min bytes, whose class c is
// the smallest holding n, wastes c-n < c-prev(c) <= prev(c)/k < n/k bytes.
type classes struct {
	sizes []int
	// first[bucket(n)] is the index of the smallest class holding the
	// smallest n of n's bucket: n's own class is at most a step beyond, as
	// a bucket spans an eighth of a doubling and classes are at least a
	// quarter of a doubling apart (closer only near a MinSize that is not a
	// power of two, where the scan takes a few steps more).
	first [65 * 8]uint16
	// pow2 is set when the smallest class is a power of two of at least k:
	// the classes then lie on the grid 2^j(1+i/k) and of computes the
	// index instead of looking it up. lk is the log of k, off the offset
	// of the computed index (see of).
	pow2    bool
	lk, off int
	// top[i] is the index of the class that ends class i's doubling: the
	// smallest at or above i whose size is MinSize times a power of two,
	// or the largest class. It is at most k-1 classes above i.
	top []int32
}

// bucket splits the sizes into eighths of doublings: by the length of n-1
// and the three bits that follow its leading one.
func bucket(n int) int {
	m := uint(n - 1)
	l := bits.Len(m)
	return l<<3 | int(m<<(64-l)>>60&7)
}

func newClasses(minSize, maxSize, k int) classes {
	var c classes
	if minSize >= k && minSize&(minSize-1) == 0 {
		c.pow2 = true
		l0 := bits.Len(uint(minSize)) - 1
		c.lk = bits.Len(uint(k)) - 1
		c.off = 1 - (l0+2)<<c.lk
	}
	for base := minSize; ; base *= 2 {
		for j := 0; j < k; j++ {
			s := base + base*j/k
			if s >= maxSize {
				c.sizes = append(c.sizes, maxSize)
				c.index()
				c.tops(minSize)
				return c
			}
			if len(c.sizes) == 0 || s > c.sizes[len(c.sizes)-1] {
				c.sizes = append(c.sizes, s)
			}
		}
	}
}

func (c *classes) index() {
	// The smallest n of each bucket, found by walking n through the
	// bucket boundaries: 1<<(l-1) + q<<(l-4) + 1 for l >= 4, and every n
	// below 8 (whose buckets hold a single value).
	for b := range c.first {
		l, q := b>>3, b&7
		var lo uint
		switch {
		case l == 0:
			lo = 1 // n-1 == 0
		case l < 4:
			lo = 1<<(l-1) + uint(q)>>(4-l) + 1
		default:
			lo = 1<<(l-1) + uint(q)<<(l-4) + 1
		}
		i := 0
		for i < len(c.sizes)-1 && uint(c.sizes[i]) < lo {
			i++
		}
		c.first[b] = uint16(i)
	}
}

// tops fills top: walking down from the largest class, the last class
// seen that is MinSize times a power of two.
func (c *classes) tops(minSize int) {
	c.top = make([]int32, len(c.sizes))
	t := len(c.sizes) - 1
	for i := t; i >= 0; i-- {
		if s := c.sizes[i]; s%minSize == 0 && (s/minSize)&(s/minSize-1) == 0 {
			t = i
		}
		c.top[i] = int32(t)
	}
}

// of returns the index of the smallest class holding n bytes. n must not
// exceed the largest class.
func (c *classes) of(n int) int {
	if n <= c.sizes[0] {
		return 0
	}
	if !c.pow2 {
		return c.lookup(n)
	}
	// With l0 the log of the smallest class, n-1 = 2^(l-1) + f, f <
	// 2^(l-1), and t = (n-1)>>(l-1-lk), so that k <= t < 2k: n's class is
	// the grid point after 2^(l-1) + (t-k) 2^(l-1)/k, whose index is
	// (l-1-l0)k + (t-k) + 1 = lk + t + off. The last grid point may be cut
	// to MaxSize, which still holds n.
	m := uint(n - 1)
	l := bits.Len(m)
	return l<<c.lk + int(m>>(l-1-c.lk)) + c.off
}

// lookup is of for classes off the power-of-two grid.
func (c *classes) lookup(n int) int {
	i := int(c.first[bucket(n)])
	for c.sizes[i] < n {
		i++
	}
	return i
}

// filing returns the index of the largest class whose size is at most
// capacity, or -1 when capacity is below the smallest class. capacity must
// not exceed the largest class.
func (c *classes) filing(capacity int) int {
	if capacity < c.sizes[0] {
		return -1
	}
	i := c.of(capacity)
	if c.sizes[i] > capacity {
		i--
	}
	return i
}
