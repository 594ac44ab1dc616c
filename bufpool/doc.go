// Package bufpool provides size-classed, bounded pools of byte buffers for
// servers that handle bodies of kilobytes to megabytes.
//
// A single sync.Pool of bytes.Buffer, the usual way to reuse body memory,
// lets one giant body pin a giant buffer for the next tiny one, keeps as
// much memory as the worst burst asked for, and turns a second Put of the
// same buffer into two requests sharing memory. A Pool avoids all three:
//
//   - Size classes. Buffers come in geometric classes from MinSize (512 B)
//     to MaxSize (4 MiB), with 1, 2 or 4 classes per doubling, so rounding
//     a request of n bytes up to its class wastes fewer than n/k bytes for
//     k classes per doubling. A class never hands out a buffer smaller than
//     its size; buffers beyond MaxSize are allocated exactly and never kept.
//   - Idle memory in few classes. Fine classes would spread idle memory
//     over as many classes, each keeping buffers for its own peak. A Get
//     whose class has no idle buffer takes one of the next k-1 classes
//     (under twice its size), cut to its own class size, and when none
//     has one it allocates at the top of its doubling (MinSize times a
//     power of two) and cuts that: what a Get sees keeps the bound above,
//     while idle memory sits in one class per doubling, where a Get of any
//     class of the doubling finds it. Growth uses the rest of such a
//     buffer before it moves. Pools with a budget neither lend nor
//     allocate above the class, so that the budget counts every byte
//     checked out.
//   - Bounds, and decay by time. MaxIdleBytes (8 MiB) bounds the idle
//     memory kept strongly, which outlives collections and which the
//     collector counts as live heap. A buffer released beyond it is kept
//     weakly: Gets reuse it until the next collection reclaims it, so a
//     burst of demand does not allocate afresh for every request, yet
//     leaves no memory behind that the collector must keep. Idle buffers
//     unused for IdleTimeout (4 s) are let go, and when the
//     pool has let go of a lot, it forces a collection that returns the
//     memory to the operating system, at most once per
//     FreeOSMemoryInterval (2 s) in the process: a server that pools well
//     makes no garbage and rarely collects, so decay by the garbage
//     collector alone, as in sync.Pool, would pin a spike's memory for
//     minutes. MaxInUseBytes optionally bounds the bytes checked out at
//     once: Acquire waits, first come first served, until the budget has
//     room, or fails with ErrBudgetExceeded.
//   - Growth through the pool. When a Buffer must grow (Write, ReadFrom,
//     ReadFromLimit, Grow), its contents move into a buffer of a larger
//     class of the same pool and the old memory returns to the pool.
//     ReadFromLimit reads at most limit+1 bytes and reports ErrTooLarge.
//   - Safety. A second Release panics instead of sharing memory. Without
//     Track, handles are reused, so a stale handle whose memory was already
//     handed out again cannot be told from its new owner's; Track mode gives
//     every Get a fresh handle, catching that too, and records where each
//     buffer was taken, for CheckLeaks. Poison fills released
//     buffers with PoisonByte and panics when one was written after
//     release; ZeroOnRelease wipes them for bodies that carry secrets.
//     Detach hands a buffer's bytes to the caller for good.
//   - Exact statistics. Stats reports gets, hits (and lent), misses,
//     releases, drops by reason, decayed and evicted buffers, and in-use
//     and idle buffers and bytes, per class and in total, from counters
//     sharded so that no cache line is written by every Get. A Get and a
//     Release each cost one atomic write.
//
// Typical use:
//
//	buf := bufpool.Get(64 << 10) // from the default pool
//	defer buf.Release()
//	if _, err := buf.ReadFromLimit(r.Body, 8<<20); err != nil { ... }
//	process(buf.B)
//
// The rule for every Buffer: it belongs to its caller until Release or
// Detach, and neither it nor any slice of its bytes may be used after
// Release. Buffers are not safe for concurrent use; Pools are.
//
// ObjectPool is a small typed pool for other per-request objects, with the
// same exact hit and miss counts and a bound on what it keeps idle.
package bufpool
