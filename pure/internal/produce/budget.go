package produce

import (
	"context"
	"sync/atomic"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
)

// byteBudget bounds the bytes of the messages a producer has accepted and
// not yet reported (engine.ProducerConfig.MaxQueuedBytes), beside the
// message count of engine.Queue: with messages of any size, what the
// producer buffers stays near the bound. A message is counted by
// engine.SizeBound, from Produce until its DoneFunc has returned.
//
// A message larger than the whole budget is accepted when nothing else is
// held, alone: the bound never refuses a message for good (MaxMessageBytes
// does that).
type byteBudget struct {
	max     int64
	used    atomic.Int64
	waiters engine.Waiters // callers of acquire that found no room
}

func newByteBudget(max int) *byteBudget {
	return &byteBudget{max: int64(max)}
}

// tryAcquire takes n bytes if they fit, or if nothing is held.
func (q *byteBudget) tryAcquire(n int64) bool {
	for {
		u := q.used.Load()
		if u > 0 && u+n > q.max {
			return false
		}
		if q.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// acquire takes n bytes. When they do not fit it fails at once with
// kerr.ErrQueueFull (failFast), or waits for releases until they fit, ctx
// ends, or closed is closed (kerr.ErrClosed).
func (q *byteBudget) acquire(ctx context.Context, n int64, failFast bool, closed <-chan struct{}) error {
	if q.tryAcquire(n) {
		return nil
	}
	if failFast {
		return kerr.ErrQueueFull
	}
	return q.waiters.Wait(ctx, closed, func() bool { return q.tryAcquire(n) })
}

// release gives back n bytes and wakes the waiters, if any.
func (q *byteBudget) release(n int64) {
	if n == 0 {
		return
	}
	q.used.Add(-n)
	q.waiters.Wake()
}
