package bufpool

import "math/bits"

// classes maps sizes to size classes. Between a size s and 2s there are k
// classes s, s+s/k, ..., s+(k-1)s/k, so consecutive classes differ by a
// factor of at most (k+1)/k. A request of n > min bytes, whose class c is
// the smallest holding n, wastes c-n < c-prev(c) <= prev(c)/k < n/k bytes.
type classes struct {
	sizes []int
	// first[L] is the index of the first class larger than 1<<(L-1): the
	// class of any n with bits.Len(n-1) == L is at most k+1 entries beyond.
	first [65]int
}

func newClasses(minSize, maxSize, k int) classes {
	var c classes
	for base := minSize; ; base *= 2 {
		for j := 0; j < k; j++ {
			s := base + base*j/k
			if s >= maxSize {
				c.sizes = append(c.sizes, maxSize)
				c.index()
				return c
			}
			if len(c.sizes) == 0 || s > c.sizes[len(c.sizes)-1] {
				c.sizes = append(c.sizes, s)
			}
		}
	}
}

func (c *classes) index() {
	for l := range c.first {
		lo := 0
		if l > 0 {
			lo = 1 << (l - 1)
		}
		i := 0
		for i < len(c.sizes)-1 && c.sizes[i] <= lo {
			i++
		}
		c.first[l] = i
	}
}

// of returns the index of the smallest class holding n bytes. n must not
// exceed the largest class.
func (c *classes) of(n int) int {
	if n <= c.sizes[0] {
		return 0
	}
	i := c.first[bits.Len(uint(n-1))]
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
