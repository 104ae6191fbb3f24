package engine

import (
	"context"
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
// callers that find the queue full wait (Waiters).
type Queue struct {
	max     int64
	n       atomic.Int64 // slots taken
	waiters Waiters      // callers blocked in Acquire or WaitBelow
}

// NewQueue returns a queue of max slots.
func NewQueue(max int) *Queue {
	return &Queue{max: int64(max)}
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
	q.waiters.Wake()
}

// WaitBelow blocks until fewer than limit slots are taken, ctx ends, or
// closed is closed (kerr.ErrClosed; a nil closed never fires).
func (q *Queue) WaitBelow(ctx context.Context, limit int64, closed <-chan struct{}) error {
	return q.waiters.Wait(ctx, closed, func() bool { return q.n.Load() < limit })
}
