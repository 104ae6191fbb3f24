package engine

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/gokafka/kafka/internal/kerr"
)

// Queue bounds the messages a producer has accepted and not yet reported
// (ProducerConfig.MaxQueued): a message holds a slot from Produce until its
// DoneFunc has returned. Both engines use it, so that both count the same
// thing: librdkafka's own bound stops counting a message once its report
// leaves librdkafka, while the report may still wait for the Go side.
//
// It is a counting semaphore built for the hot path: taking a slot is one
// compare-and-swap, and slots may be given back many at a time. Only
// callers that find the queue full touch the mutex.
type Queue struct {
	max     int64
	n       atomic.Int64 // slots taken
	waiters atomic.Int32 // callers blocked in Acquire or WaitBelow

	mu   sync.Mutex
	wake chan struct{} // closed and replaced when slots are released while someone waits
}

// NewQueue returns a queue of max slots.
func NewQueue(max int) *Queue {
	return &Queue{max: int64(max), wake: make(chan struct{})}
}

// Max is the number of slots.
func (q *Queue) Max() int { return int(q.max) }

// Len is the number of slots taken.
func (q *Queue) Len() int { return int(q.n.Load()) }

// TryAcquire takes a slot if one is free. The compare-and-swap keeps a full
// queue from ever looking fuller than it is to a concurrent caller.
func (q *Queue) TryAcquire() bool {
	for {
		n := q.n.Load()
		if n >= q.max {
			return false
		}
		if q.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Acquire takes one slot. When the queue is full it fails at once with
// kerr.ErrQueueFull (failFast), or waits until a slot frees, ctx ends, or
// closed is closed (kerr.ErrClosed; a nil closed never fires).
func (q *Queue) Acquire(ctx context.Context, failFast bool, closed <-chan struct{}) error {
	for {
		if q.TryAcquire() {
			return nil
		}
		if failFast {
			return kerr.ErrQueueFull
		}
		if err := q.WaitBelow(ctx, q.max, closed); err != nil {
			return err
		}
	}
}

// Release gives back n slots and wakes the waiters, if any.
func (q *Queue) Release(n int) {
	q.n.Add(-int64(n))
	if q.waiters.Load() > 0 {
		q.mu.Lock()
		close(q.wake)
		q.wake = make(chan struct{})
		q.mu.Unlock()
	}
}

// WaitBelow blocks until fewer than limit slots are taken, ctx ends, or
// closed is closed (kerr.ErrClosed; a nil closed never fires).
func (q *Queue) WaitBelow(ctx context.Context, limit int64, closed <-chan struct{}) error {
	for {
		// Register first, then look: a release that ran before the
		// registration is already visible in n, one that runs after it
		// closes the channel we hold.
		q.mu.Lock()
		q.waiters.Add(1)
		ch := q.wake
		q.mu.Unlock()
		if q.n.Load() < limit {
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
