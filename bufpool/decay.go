package bufpool

import (
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// minIdleTimeout keeps the trim timer from spinning.
const minIdleTimeout = 10 * time.Millisecond

// decayTicks is the age, in trims, at which an idle buffer is let go: a
// buffer released between trims e-1 and e is let go by trim e+2, after
// between 2 and 3 trim periods of IdleTimeout/2 unused.
const decayTicks = 3

// weakDecayTicks is the same age for a buffer kept weakly, past
// MaxIdleBytes: between 1 and 2 trim periods unused. Such a buffer is
// memory the pool already declined to keep across a collection, and a
// process that makes little garbage may not collect for minutes, so it
// goes a trim sooner; a buffer that cycles within a trim period, as under
// steady load, is never that old.
const weakDecayTicks = decayTicks - 1

// maxDrain bounds the buffers one trim takes out of a class, against a
// class refilled as fast as it is drained.
const maxDrain = 1 << 16

// processStart is the origin of lastForced's monotonic clock.
var processStart = time.Now()

// lastForced is when, in nanoseconds since processStart, a pool of this
// process last forced a collection: the rate limit is the process's, as
// the collection is.
var lastForced atomic.Int64

// decay lets go of idle buffers unused for IdleTimeout and returns memory
// the pool let go to the operating system (Config.IdleTimeout and
// Config.FreeOSMemoryInterval).
type decay struct {
	_ [64]byte
	// epoch counts trims; released buffers are stamped with it. Read by
	// every Release, written once per trim.
	epoch atomic.Uint32
	_     [60]byte

	// armed is set while the timer is pending or its trim runs.
	armed   atomic.Bool
	pending atomic.Int64  // bytes let go since the last forced collection
	forced  atomic.Uint64 // collections forced
	// weakLeft is set when the last trim left idle buffers kept weakly,
	// which hold no tokens but must decay all the same.
	weakLeft atomic.Bool

	pool      *Pool
	period    time.Duration // IdleTimeout/2; 0 when decay by time is off
	threshold int64         // pending bytes that call for a collection
	timer     *time.Timer

	mu     sync.Mutex // one trim at a time
	keep   []*Buffer  // scratch for trim, under mu
	cycles uint64     // collections completed at the last trim, under mu
}

func (d *decay) init(p *Pool) {
	d.pool = p
	d.threshold = max(p.cfg.MaxIdleBytes/4, 4<<20)
	if p.cfg.IdleTimeout < 0 {
		return
	}
	d.period = p.cfg.IdleTimeout / 2
	d.timer = time.AfterFunc(time.Hour, d.tick)
	d.timer.Stop()
}

// arm starts the trim timer unless it is running. Called when the pool
// first retains memory and when it lets memory go; the common Get and
// Release never call it.
func (d *decay) arm() {
	if d.timer == nil || d.armed.Load() || !d.armed.CompareAndSwap(false, true) {
		return
	}
	d.timer.Reset(d.period)
}

// letGo notes n bytes the pool dropped: garbage for a forced collection.
func (d *decay) letGo(n int64) {
	d.pending.Add(n)
	d.arm()
}

// tick is the timer's function: it trims, then re-arms the timer while the
// pool retains memory (idle, or checked out and coming back), keeps idle
// memory weakly, or holds enough let-go bytes for a collection it could
// not force yet (none is owed when forced collections are off).
func (d *decay) tick() {
	d.trim()
	// Cleared before the check: a first retention concurrent with it
	// either sees armed false and arms, or is seen by the check.
	d.armed.Store(false)
	owed := d.pool.cfg.FreeOSMemoryInterval >= 0 && d.pending.Load() >= d.threshold
	if d.pool.led.tokens() < d.pool.cfg.MaxIdleBytes || d.weakLeft.Load() || owed {
		d.arm()
	}
}

// trim advances the epoch, lets go of the idle buffers that reached
// decayTicks (weakDecayTicks for those kept weakly), and forces a
// collection when enough was let go.
// It returns the capacity it let decay, and notes in weakLeft whether it
// left an idle buffer kept weakly.
func (d *decay) trim() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.pool
	e := d.epoch.Add(1)
	var freed int64
	weakIdle := false
	for f := len(p.classes) - 1; f >= 0; f-- {
		cl := &p.classes[f]
		keep := d.keep[:0]
		for range maxDrain {
			b := cl.get()
			if b == nil {
				break
			}
			if age := e - b.s.idleSince; age < decayTicks && (age < weakDecayTicks || !b.s.weak) {
				keep = append(keep, b)
				weakIdle = weakIdle || b.s.weak
				continue
			}
			freed += p.decayed(b, f)
		}
		for i, b := range keep {
			cl.put(b)
			keep[i] = nil
		}
		d.keep = keep[:0]
	}
	if freed > 0 {
		d.pending.Add(freed)
	}
	// A process that collects on its own is busy: its collections reclaim
	// what the pool let go, and its allocations reuse the freed pages.
	// Only one that went a whole trim period without a collection, as a
	// server that pools well does once load falls, needs forcing.
	cycles := gcCycles()
	quiet := cycles == d.cycles
	d.cycles = cycles
	if quiet && d.mayFree() {
		d.free()
		d.cycles = gcCycles()
	}
	d.weakLeft.Store(weakIdle)
	return freed
}

// mayFree reports whether the bytes let go reach the threshold and the
// process's rate limit allows a forced collection now, and if so claims it.
func (d *decay) mayFree() bool {
	interval := d.pool.cfg.FreeOSMemoryInterval
	if interval < 0 || d.pending.Load() < d.threshold {
		return false
	}
	now := int64(time.Since(processStart))
	last := lastForced.Load()
	if last != 0 && now-last < int64(interval) {
		return false
	}
	return lastForced.CompareAndSwap(last, now)
}

// free forces a collection that returns free memory to the operating
// system.
func (d *decay) free() {
	d.pending.Store(0)
	d.forced.Add(1)
	debug.FreeOSMemory()
}

// gcCycles returns the number of collections the process completed. It
// runs once per trim, so its sample need not be shared.
func gcCycles() uint64 {
	sample := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}

// decayed lets go of an idle buffer of class f taken out by a trim, and
// returns its capacity.
func (p *Pool) decayed(b *Buffer, f int) int64 {
	s := b.s
	p.led.add(s.home, f, cDecayed, 1)
	if s.weak {
		p.led.weakIdle(s.home, f, -1, int64(s.capacity))
	}
	if extra := int64(s.capacity - p.cls.sizes[f]); extra != 0 {
		p.led.add(s.home, f, cExtraIdle, -extra)
	}
	s.giveBack()
	s.state = slabGone
	n := int64(s.capacity)
	b.B, b.s = nil, nil
	return n
}
