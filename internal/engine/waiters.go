package engine

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/gokafka/kafka/internal/kerr"
)

// Waiters is where goroutines wait for a condition that others make true
// on a hot path without a lock (a slot or bytes given back to a bound):
// Wake costs one atomic load while nobody waits, and only waiters and the
// wakes that find them touch the mutex. The zero value is ready.
type Waiters struct {
	n    atomic.Int32 // goroutines in Wait
	mu   sync.Mutex
	wake chan struct{} // closed and replaced by a Wake while someone waits
}

// Wait blocks until ok reports true, ctx ends (its error), or closed is
// closed (kerr.ErrClosed; a nil closed never fires). ok is called once
// first and again after every Wake; it may also take what it found (an
// acquire that succeeds).
func (w *Waiters) Wait(ctx context.Context, closed <-chan struct{}, ok func() bool) error {
	for {
		// Register first, then look: a Wake that ran before the
		// registration changed what ok sees already, one that runs
		// after it closes the channel held.
		w.mu.Lock()
		w.n.Add(1)
		if w.wake == nil {
			w.wake = make(chan struct{})
		}
		ch := w.wake
		w.mu.Unlock()
		if ok() {
			w.n.Add(-1)
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
		w.n.Add(-1)
		if err != nil {
			return err
		}
	}
}

// Wake wakes every goroutine in Wait, if any, to look again.
func (w *Waiters) Wake() {
	if w.n.Load() == 0 {
		return
	}
	w.mu.Lock()
	if w.wake != nil {
		close(w.wake)
	}
	w.wake = make(chan struct{})
	w.mu.Unlock()
}
