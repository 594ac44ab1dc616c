package bufpool

import (
	"errors"
	"fmt"
	"time"
)

// Defaults used for the zero fields of a Config.
const (
	// DefaultMinSize is the smallest size class, in bytes.
	DefaultMinSize = 512
	// DefaultMaxSize is the largest size class, in bytes. Larger requests
	// are served by exact allocations that the pool never retains.
	DefaultMaxSize = 4 << 20
	// DefaultClassesPerDoubling bounds the capacity wasted by rounding a
	// request up to its class to under a quarter of the request.
	DefaultClassesPerDoubling = 4
	// DefaultMaxIdleBytes is the default bound on the bytes a pool keeps
	// idle strongly, across all of its classes: enough for the buffers of
	// a few dozen requests of a few hundred kilobytes in flight at once.
	DefaultMaxIdleBytes = 8 << 20
	// DefaultIdleTimeout is how long an idle buffer may go unused before
	// the pool lets it go.
	DefaultIdleTimeout = 4 * time.Second
	// DefaultFreeOSMemoryInterval is the least time between two
	// collections that pools force to return memory to the operating
	// system.
	DefaultFreeOSMemoryInterval = 2 * time.Second
)

// maxClassSize keeps class arithmetic far from integer overflow.
const maxClassSize = 1 << 40

// ErrInvalidConfig is returned, wrapped with the name of the offending
// field and its value, by New when a Config is not usable.
var ErrInvalidConfig = errors.New("bufpool: invalid config")

// Config configures a Pool. The zero Config is valid and gives the defaults
// documented on each field. Fields are read once, by New.
type Config struct {
	// MinSize is the size of the smallest class in bytes. Requests for
	// fewer bytes are served from it. Default DefaultMinSize (512 B).
	MinSize int

	// MaxSize is the size of the largest class in bytes. Get(n) with n >
	// MaxSize allocates exactly n bytes and such a buffer is dropped, never
	// retained, when released. Default DefaultMaxSize (4 MiB).
	MaxSize int

	// ClassesPerDoubling is the number of size classes between a size and
	// its double: 1, 2 or 4. With k classes per doubling a request of n >
	// MinSize bytes receives a buffer of capacity below n + n/k.
	// Default DefaultClassesPerDoubling (4).
	ClassesPerDoubling int

	// MaxIdleBytes bounds the total capacity of the buffers the pool
	// keeps strongly across all classes: those idle, and those checked out
	// that were idle before and will come back. This is the memory that
	// outlives garbage collections, and the collector counts it as live,
	// so it also raises the heap size at which the next collection starts
	// (GOGC): each byte kept costs about two of heap.
	//
	// A buffer released while the bound is reached is not dropped but kept
	// weakly (Stats counts it in WeakReleases and WeakIdle): a Get may
	// still take it, as from any idle buffer, until the next collection
	// reclaims it, and the collector does not count it as live. Memory a
	// burst of demand left beyond the bound is thus reused while the burst
	// lasts and gone after the next collection, which a server that makes
	// garbage runs soon and decay by time (IdleTimeout) forces otherwise.
	//
	// Set it to the idle memory the server's steady load cycles through.
	// Below that, every collection reclaims the buffers kept weakly, the
	// Gets that needed them miss and allocate, and those allocations bring
	// the next collection closer: Stats shows it as Evicted and Misses that
	// grow together while WeakReleases is a large share of Releases. Above
	// it, the extra memory costs about twice its size in heap
	// (docs/measurements.md in the repository compares 8, 16 and 32 MiB
	// under load).
	//
	// Idle buffers also leave after IdleTimeout unused, or when the
	// garbage collector reclaims them after about two GC cycles without
	// use, as with sync.Pool, and their share of the bound comes back.
	// Default DefaultMaxIdleBytes (8 MiB).
	MaxIdleBytes int64

	// IdleTimeout is how long an idle buffer may go unused before the pool
	// lets it go: one unused for IdleTimeout is let go within another
	// IdleTimeout/2, and counted as decayed. A buffer kept weakly (see
	// MaxIdleBytes) goes a trim sooner: one unused for IdleTimeout/2 is let
	// go within another IdleTimeout/2, as the next collection would take it
	// anyway. A pool that makes no garbage,
	// the success of pooling, rarely collects, so decay by the garbage
	// collector alone would keep a spike's memory for minutes. A timer,
	// armed only while the pool retains memory, trims every IdleTimeout/2:
	// it takes each class's idle buffers out and puts the recently used
	// ones back (a Get during that instant may miss). Buffers a trim cannot
	// reach, at most one per class in each other processor's private
	// cache, are left to the garbage collector. The timer holds no
	// goroutine while it waits and stops when the pool retains nothing (and
	// owes no forced collection), so a Pool needs no Close. Default DefaultIdleTimeout (4 s); a negative
	// value turns decay by time off, and with it the forced collections of
	// FreeOSMemoryInterval. The smallest timeout is 10 ms.
	IdleTimeout time.Duration

	// FreeOSMemoryInterval bounds how often the pool forces a collection
	// that returns the memory it let go to the operating system. A server
	// that pools well makes little garbage, so once load falls it may not
	// collect for minutes, and the garbage a spike left (buffers dropped
	// or let decay) stays in its heap, and freed pages in its RSS. So when
	// a trim (see IdleTimeout) finds that the buffers the pool let go since
	// its last forced collection add up to max(MaxIdleBytes/4, 4 MiB) and
	// that the process completed no collection since the previous trim,
	// the pool calls debug.FreeOSMemory, unless any pool of the process
	// did so less than FreeOSMemoryInterval ago. A busy process, which
	// collects on its own, is never forced. The cost is a full collection
	// and a pass returning free pages, at most once per interval: about
	// half a millisecond for 64 MiB let go (BenchmarkForcedCollection). Default DefaultFreeOSMemoryInterval
	// (2 s); a negative value never forces.
	FreeOSMemoryInterval time.Duration

	// MaxInUseBytes is a budget for the bytes checked out of the pool at
	// once. Acquire waits for it; Get and the growth of buffers obtained
	// with Get count against it but never wait. Zero means no budget.
	MaxInUseBytes int64

	// Poison fills every released buffer with PoisonByte, so that a use
	// after release reads recognisable garbage, and checks on the next Get
	// that the pattern is intact, panicking if a released buffer was
	// written. It costs a pass over the buffer on each Release and Get;
	// meant for tests and debugging.
	Poison bool

	// ZeroOnRelease wipes the whole capacity of every released buffer, so
	// that no byte of a body carrying secrets survives in idle memory.
	ZeroOnRelease bool

	// Track records, for every buffer checked out, the stack of the call
	// that took it, so that Outstanding and CheckLeaks can report buffers
	// never released. Tracking also gives every Get a fresh *Buffer handle,
	// so that any second Release of a handle panics even when the memory
	// was handed out again in between. It costs a stack capture and an
	// allocation per Get; meant for tests and debugging.
	Track bool
}

// PoisonByte is the value a pool in Poison mode writes over released buffers.
const PoisonByte = 0xDB

func (c Config) withDefaults() (Config, error) {
	if c.MinSize == 0 {
		c.MinSize = DefaultMinSize
	}
	if c.MaxSize == 0 {
		c.MaxSize = max(DefaultMaxSize, c.MinSize)
	}
	if c.ClassesPerDoubling == 0 {
		c.ClassesPerDoubling = DefaultClassesPerDoubling
	}
	if c.MaxIdleBytes == 0 {
		c.MaxIdleBytes = DefaultMaxIdleBytes
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.FreeOSMemoryInterval == 0 {
		c.FreeOSMemoryInterval = DefaultFreeOSMemoryInterval
	}
	switch {
	case c.MinSize < 0:
		return c, fmt.Errorf("%w: MinSize %d is negative", ErrInvalidConfig, c.MinSize)
	case c.MaxSize < 0:
		return c, fmt.Errorf("%w: MaxSize %d is negative", ErrInvalidConfig, c.MaxSize)
	case c.MaxSize > maxClassSize:
		return c, fmt.Errorf("%w: MaxSize %d is larger than %d", ErrInvalidConfig, c.MaxSize, maxClassSize)
	case c.MinSize > c.MaxSize:
		return c, fmt.Errorf("%w: MinSize %d is larger than MaxSize %d", ErrInvalidConfig, c.MinSize, c.MaxSize)
	case c.ClassesPerDoubling != 1 && c.ClassesPerDoubling != 2 && c.ClassesPerDoubling != 4:
		return c, fmt.Errorf("%w: ClassesPerDoubling %d is not 1, 2 or 4", ErrInvalidConfig, c.ClassesPerDoubling)
	case c.MaxIdleBytes < 0:
		return c, fmt.Errorf("%w: MaxIdleBytes %d is negative", ErrInvalidConfig, c.MaxIdleBytes)
	case c.MaxInUseBytes < 0:
		return c, fmt.Errorf("%w: MaxInUseBytes %d is negative", ErrInvalidConfig, c.MaxInUseBytes)
	case c.IdleTimeout > 0 && c.IdleTimeout < minIdleTimeout:
		return c, fmt.Errorf("%w: IdleTimeout %v is below %v", ErrInvalidConfig, c.IdleTimeout, minIdleTimeout)
	}
	return c, nil
}
