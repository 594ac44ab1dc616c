package bufpool

// Drops counts buffers that left a pool instead of being retained, by reason.
type Drops struct {
	// Oversize counts buffers larger than MaxSize, including every buffer
	// of an oversize Get.
	Oversize uint64
	// Undersize counts buffers smaller than MinSize (their B was replaced).
	Undersize uint64
	// Detached counts buffers handed to their users by Detach.
	Detached uint64
}

// Total returns the sum of all drops.
func (d Drops) Total() uint64 { return d.Oversize + d.Undersize + d.Detached }

func (d *Drops) add(o Drops) {
	d.Oversize += o.Oversize
	d.Undersize += o.Undersize
	d.Detached += o.Detached
}

// ClassStats reports one size class. Gets, hits, misses, releases, drops
// and in-use figures count buffers by the class they were taken from (a
// buffer lent to a Get of a smaller class is counted in its own class);
// idle figures by the class they were filed in (a buffer that grew is
// filed in a larger class than it was taken from).
//
// At rest, Gets == Hits + Misses and Gets == Releases + Drops.Total() +
// InUse hold exactly.
type ClassStats struct {
	// Size is the class size in bytes, or 0 for the oversize pseudo-class.
	Size int
	// Gets counts buffers handed out: Hits + Misses.
	Gets uint64
	// Hits counts buffers handed out from idle memory, Lent among them.
	Hits uint64
	// Lent counts hits on this class's idle buffers by Gets of one of the
	// ClassesPerDoubling-1 smaller classes that found their own class
	// empty. They are counted as this class's gets, hits, releases and in
	// use, as the buffer is this class's: the Get sees only its own class
	// size of it.
	Lent uint64
	// Misses counts buffers handed out from a new allocation. A miss
	// allocates at the top of its doubling (see Pool), and is counted in
	// that class.
	Misses uint64
	// Releases counts buffers released and retained idle, WeakReleases
	// among them.
	Releases uint64
	// WeakReleases counts releases that found MaxIdleBytes reached: the
	// buffer was kept weakly (see Config.MaxIdleBytes).
	WeakReleases uint64
	// Drops counts buffers released or detached and not retained.
	Drops Drops
	// InUse is the number of buffers checked out now, InUseBytes their
	// capacity.
	InUse, InUseBytes int64
	// Idle is the number of buffers kept idle now, IdleBytes their
	// capacity. Buffers the garbage collector reclaimed are subtracted when
	// the runtime reports them, which may lag the collection a little.
	Idle, IdleBytes int64
	// WeakIdle is the number of the idle buffers that are kept weakly, and
	// WeakIdleBytes their capacity: the next collection reclaims them
	// unless a Get takes them first. IdleBytes - WeakIdleBytes, the idle
	// memory kept strongly, stays within MaxIdleBytes.
	WeakIdle, WeakIdleBytes int64
	// Prefilled counts buffers added idle by Prefill.
	Prefilled uint64
	// Evicted counts idle buffers reclaimed by the garbage collector.
	Evicted uint64
	// Decayed counts idle buffers the pool let go because they went unused
	// for IdleTimeout.
	Decayed uint64
}

func (c *ClassStats) add(o ClassStats) {
	c.Gets += o.Gets
	c.Hits += o.Hits
	c.Misses += o.Misses
	c.Releases += o.Releases
	c.WeakReleases += o.WeakReleases
	c.Drops.add(o.Drops)
	c.InUse += o.InUse
	c.InUseBytes += o.InUseBytes
	c.Idle += o.Idle
	c.IdleBytes += o.IdleBytes
	c.WeakIdle += o.WeakIdle
	c.WeakIdleBytes += o.WeakIdleBytes
	c.Prefilled += o.Prefilled
	c.Evicted += o.Evicted
	c.Decayed += o.Decayed
	c.Lent += o.Lent
}

// Stats is a snapshot of a pool's counters.
type Stats struct {
	// Classes reports each size class, in increasing size.
	Classes []ClassStats
	// Oversize reports the buffers of Gets beyond MaxSize (and of growth
	// beyond it): their Gets are the oversize gets, all of them misses, and
	// they are all dropped with reason oversize.
	Oversize ClassStats
	// Total sums Classes and Oversize; its Size is 0.
	Total ClassStats

	// MaxIdleBytes and MaxInUseBytes repeat the pool's bounds.
	MaxIdleBytes, MaxInUseBytes int64
	// BudgetUsedBytes is the budget in use: the capacity checked out plus
	// the bytes held by Reserve and by growth in progress. Zero without a
	// budget.
	BudgetUsedBytes int64
	// BudgetWaiting is the number of callers waiting for the budget now.
	BudgetWaiting int
	// BudgetWaits counts Acquire and Reserve calls that had to wait;
	// BudgetRejections those that failed with ErrBudgetExceeded.
	BudgetWaits, BudgetRejections uint64

	// LetGoBytes is the capacity of the buffers this pool dropped or let
	// decay since it last forced a collection: garbage that has not
	// necessarily been collected, nor returned to the operating system.
	LetGoBytes int64
	// ForcedCollections counts the collections this pool forced to return
	// memory it let go to the operating system (see
	// Config.FreeOSMemoryInterval).
	ForcedCollections uint64
}

// Stats returns a snapshot of p's counters. Counters are read one by one
// while other goroutines may move them, so a snapshot taken under load is
// only approximately consistent; at rest it is exact.
func (p *Pool) Stats() Stats {
	st := Stats{
		Classes:       make([]ClassStats, len(p.cls.sizes)),
		MaxIdleBytes:  p.cfg.MaxIdleBytes,
		MaxInUseBytes: p.cfg.MaxInUseBytes,
	}
	for i := range p.led.sizes {
		c := p.classStats(i)
		st.Total.add(c)
		if i < len(st.Classes) {
			st.Classes[i] = c
		} else {
			st.Oversize = c
		}
	}
	if p.budget != nil {
		st.BudgetUsedBytes, st.BudgetWaiting = p.budget.snapshot()
		st.BudgetWaits = p.budget.waits.Load()
		st.BudgetRejections = p.budget.rejections.Load()
	}
	st.LetGoBytes = p.decay.pending.Load()
	st.ForcedCollections = p.decay.forced.Load()
	return st
}

func (p *Pool) classStats(i int) ClassStats {
	v := p.led.counters(i)
	size := p.led.sizes[i]
	c := ClassStats{
		Size:          size,
		Hits:          uint64(v[cHits] + v[cLent]),
		Misses:        uint64(v[cMisses]),
		Releases:      uint64(v[cReleases] + v[cWeakReleases]),
		WeakReleases:  uint64(v[cWeakReleases]),
		WeakIdle:      v[cWeakIdle],
		WeakIdleBytes: v[cWeakIdle]*int64(size) + v[cWeakIdleExtra],
		Prefilled:     uint64(v[cPrefilled]),
		Evicted:       uint64(v[cEvicted]),
		Decayed:       uint64(v[cDecayed]),
		Lent:          uint64(v[cLent]),
		Drops: Drops{
			Oversize:  uint64(v[cDropOversize]),
			Undersize: uint64(v[cDropUndersize]),
			Detached:  uint64(v[cDropDetached]),
		},
	}
	c.Gets = c.Hits + c.Misses
	c.InUse = int64(c.Gets) - int64(c.Releases) - int64(c.Drops.Total())
	c.InUseBytes = c.InUse*int64(size) + v[cExtraInUse]
	c.Idle = int64(c.Releases) - v[cMovedOut] + v[cMovedIn] + v[cPrefilled] -
		int64(c.Hits) - v[cEvicted] - v[cDecayed]
	c.IdleBytes = c.Idle*int64(size) + v[cExtraIdle]
	return c
}
