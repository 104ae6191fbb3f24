package produce

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/gokafka/kafka/internal/kerr"
)

// queue bounds the messages a producer has accepted and not yet reported
// (MaxQueued). It is a counting semaphore built for the hot path: taking a
// slot is one compare-and-swap, and slots are given back a whole batch at a
// time. Only producers that find the queue full touch the mutex.
type queue struct {
	max     int64
	n       atomic.Int64 // slots taken
	waiters atomic.Int32 // producers blocked in acquire

	mu   sync.Mutex
	wake chan struct{} // closed and replaced when slots are released while someone waits
}

func newQueue(max int) *queue {
	return &queue{max: int64(max), wake: make(chan struct{})}
}

// acquire takes one slot. When the queue is full it fails at once with
// kerr.ErrQueueFull (failFast), or waits until a slot frees, ctx ends or
// closed is closed.
func (q *queue) acquire(ctx context.Context, failFast bool, closed <-chan struct{}) error {
	for {
		n := q.n.Load()
		if n < q.max {
			if q.n.CompareAndSwap(n, n+1) {
				return nil
			}
			continue
		}
		if failFast {
			return kerr.ErrQueueFull
		}
		// Register as a waiter, then look again: a release that ran
		// before our registration was counted in n, one that runs after
		// it sees the waiter and closes the channel we hold.
		q.mu.Lock()
		q.waiters.Add(1)
		ch := q.wake
		q.mu.Unlock()
		full := q.n.Load() >= q.max
		var err error
		if full {
			select {
			case <-ch:
			case <-ctx.Done():
				err = ctx.Err()
			case <-closed:
				err = kerr.ErrClosed
			}
		}
		q.waiters.Add(-1)
		if err != nil {
			return err
		}
	}
}

// release gives back n slots.
func (q *queue) release(n int) {
	q.n.Add(-int64(n))
	if q.waiters.Load() > 0 {
		q.mu.Lock()
		close(q.wake)
		q.wake = make(chan struct{})
		q.mu.Unlock()
	}
}

// len is the number of slots taken.
func (q *queue) len() int { return int(q.n.Load()) }
