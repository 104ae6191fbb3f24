package produce

import (
	"context"
	"sync"
	"sync/atomic"

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
	waiters atomic.Int32

	mu   sync.Mutex
	wake chan struct{} // closed and replaced on release while someone waits
}

func newByteBudget(max int) *byteBudget {
	return &byteBudget{max: int64(max), wake: make(chan struct{})}
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
	for {
		if q.tryAcquire(n) {
			return nil
		}
		if failFast {
			return kerr.ErrQueueFull
		}
		// Register, then look again: a release before the registration
		// shows in used, one after it closes the channel held.
		q.mu.Lock()
		q.waiters.Add(1)
		ch := q.wake
		q.mu.Unlock()
		if q.tryAcquire(n) {
			q.waiters.Add(-1)
			return nil
		}
		var err error
		select {
		case <-ch:
		case <-ctx.Done():
			err = ctx.Err()
		case <-closed:
			err = kerr.ErrClosed
		}
		q.waiters.Add(-1)
		if err != nil {
			return err
		}
	}
}

// release gives back n bytes and wakes the waiters, if any.
func (q *byteBudget) release(n int64) {
	if n == 0 {
		return
	}
	q.used.Add(-n)
	if q.waiters.Load() > 0 {
		q.mu.Lock()
		close(q.wake)
		q.wake = make(chan struct{})
		q.mu.Unlock()
	}
}
