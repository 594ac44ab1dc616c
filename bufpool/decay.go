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

// surgeTicks is the age, in trims, at which an idle buffer retained above
// MaxIdleBytes in a surge is let go: unused for a whole trim period.
const surgeTicks = 2

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

	// credit is the capacity the pool allocated since the last trim for
	// Gets it could not serve from idle memory: how far demand outran what
	// it keeps. A release that finds the idle bound reached may retain its
	// buffer against this credit (see overdraw) rather than drop memory
	// that the next Get would allocate again.
	credit atomic.Int64
	// surge is how far the idle bound is raised above MaxIdleBytes now:
	// the tokens overdraw minted that no trim has burnt yet.
	surge atomic.Int64

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

// overdraw lets a release retain n bytes above the idle bound when the pool
// allocated at least as much for misses since the last trim, minting the
// tokens for them. It reports whether it did.
func (d *decay) overdraw(n int64) bool {
	if d.timer == nil || d.credit.Add(-n) < 0 {
		d.credit.Add(n)
		return false
	}
	d.surge.Add(n)
	return true
}

// tick is the timer's function: it trims, then re-arms the timer while the
// pool retains memory (idle, or checked out and coming back) or holds
// enough let-go bytes for a collection it could not force yet.
func (d *decay) tick() {
	d.trim()
	// Cleared before the check: a first retention concurrent with it
	// either sees armed false and arms, or is seen by the check.
	d.armed.Store(false)
	if d.pool.led.tokens() < d.pool.cfg.MaxIdleBytes+d.surge.Load() || d.pending.Load() >= d.threshold {
		d.arm()
	}
}

// trim advances the epoch, lets go of the idle buffers that reached
// decayTicks, brings the memory retained in a surge back under
// MaxIdleBytes, and forces a collection when enough was let go. It returns
// the capacity it let decay.
//
// The surge ends in steps: the credit of misses starts again from zero;
// idle buffers unused since before the previous trim (surgeTicks) are let
// go, the largest classes first, until the memory retained fits
// MaxIdleBytes; and the tokens minted for the surge that no memory holds
// any more are burnt. Memory checked out keeps its tokens until it comes
// back idle and goes unused as long.
func (d *decay) trim() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.pool
	e := d.epoch.Add(1)
	d.credit.Store(0)
	// Tokens no memory holds are tokens - (MaxIdleBytes + surge - retained);
	// the retained memory fits MaxIdleBytes when they cover the surge.
	excess := d.surge.Load() - p.led.tokens()
	var freed int64
	for f := len(p.classes) - 1; f >= 0; f-- {
		cl := &p.classes[f]
		keep := d.keep[:0]
		for range maxDrain {
			v := cl.pool.Get()
			if v == nil {
				break
			}
			b := v.(*Buffer)
			age := e - b.s.idleSince
			if age < decayTicks && (excess <= 0 || age < surgeTicks) {
				keep = append(keep, b)
				continue
			}
			n := p.decayed(b, f)
			freed += n
			excess -= n
		}
		for i, b := range keep {
			p.putIdle(f, b)
			keep[i] = nil
		}
		d.keep = keep[:0]
	}
	if freed > 0 {
		d.pending.Add(freed)
	}
	if s := d.surge.Load(); s > 0 {
		d.surge.Add(-p.led.burn(s))
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
	if extra := int64(s.capacity - p.cls.sizes[f]); extra != 0 {
		p.led.add(s.home, f, cExtraIdle, -extra)
	}
	s.giveBack()
	s.state = slabGone
	n := int64(s.capacity)
	b.B, b.s = nil, nil
	return n
}
