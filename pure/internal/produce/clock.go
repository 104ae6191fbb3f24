package produce

import (
	"sync/atomic"
	"time"
)

// clock stamps messages produced without a timestamp. Kafka timestamps are
// milliseconds, and reading the system clock costs 25 ns on a good day and
// over 100 ns on some virtual machines, which would be most of Produce's
// cost. So while messages come in fast (more than clockBurst within one
// millisecond), a goroutine keeps the current millisecond in an atomic
// and Produce reads that instead; it stops after clockIdle without use. At
// lower rates Produce reads the system clock itself. Either way a stamp is
// the time of the Produce call to the millisecond, as the Java client's (a
// little behind when the ticker is starved of CPU, which observe limits).
type clock struct {
	ms      atomic.Int64 // current unix ms while the ticker runs, else 0
	used    atomic.Bool  // read since the last tick
	running atomic.Bool

	// Rate detection while the ticker is off.
	lastMs atomic.Int64
	burst  atomic.Int32
}

const (
	clockBurst = 16
	clockIdle  = 50 // ticks without a read before the ticker stops
	clockCheck = 32 // a partition reads the system clock every clockCheck stamps
)

// stampLocked returns the time to stamp a message for pt with. The caller
// holds pt.mu: every clockCheck-th stamp of a partition reads the system
// clock anyway, which bounds how stale a stamp can be when the ticker is
// late (a machine short of CPU can hold a goroutine back for a long time).
func (p *Producer) stampLocked(pt *partition) time.Time {
	c := &p.clock
	if ms := c.ms.Load(); ms != 0 {
		if pt.stamps++; pt.stamps%clockCheck != 0 {
			if !c.used.Load() {
				c.used.Store(true)
			}
			return time.UnixMilli(ms)
		}
	}
	t := time.Now()
	c.observe(t)
	ms := t.UnixMilli()
	if c.lastMs.Load() != ms {
		c.lastMs.Store(ms)
		c.burst.Store(0)
	} else if c.burst.Add(1) == clockBurst && c.running.CompareAndSwap(false, true) {
		c.ms.Store(ms)
		if !p.spawn(p.tick) {
			c.ms.Store(0)
			c.running.Store(false)
		}
	}
	return t
}

// observe is told the time whenever the producer reads the system clock
// anyway (a new batch, a sink's pass), so the stamps stay current even when
// the ticker is late because the machine is short of CPU.
func (c *clock) observe(t time.Time) {
	if ms := c.ms.Load(); ms != 0 {
		if now := t.UnixMilli(); now > ms {
			c.ms.CompareAndSwap(ms, now)
		}
	}
}

// tick keeps clock.ms current until the clock goes unused.
func (p *Producer) tick() {
	defer p.wg.Done()
	c := &p.clock
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	idle := 0
	for {
		select {
		case <-t.C:
		case <-p.ctx.Done():
			c.ms.Store(0)
			c.running.Store(false)
			return
		}
		if c.used.Swap(false) {
			idle = 0
		} else if idle++; idle >= clockIdle {
			c.ms.Store(0)
			c.burst.Store(0)
			c.running.Store(false)
			return
		}
		c.ms.Store(time.Now().UnixMilli())
	}
}
