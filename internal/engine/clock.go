package engine

import (
	"sync/atomic"
	"time"
)

// Clock stamps messages produced without a timestamp, with the time of the
// Produce call. The root keeps one per producer. time.Now reads two clocks, the wall clock and the monotonic
// one, and costs 25 ns on a good day and over 100 ns on some virtual
// machines: most of Produce's cost. Reading the monotonic clock alone costs
// about half. So a clock keeps a base time.Now and stamps base plus the
// monotonic time elapsed since, which is the same instant; it takes a new
// base every rebase, so that wall-clock adjustments (NTP) show within
// that long.
type Clock struct {
	base atomic.Pointer[time.Time]
}

const rebase = time.Second

// Now is the current time, as time.Now would give it.
func (c *Clock) Now() time.Time {
	if b := c.base.Load(); b != nil {
		if d := time.Since(*b); d >= 0 && d < rebase {
			return b.Add(d)
		}
	}
	t := time.Now()
	c.base.Store(&t)
	return t
}
