//go:build cgo && !nordkafka

package rdkafka

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/gokafka/kafka/internal/kerr"
)

// slots counts the messages a producer accepted and has not yet reported
// (engine.ProducerConfig.MaxQueued). librdkafka has its own bound
// (queue.buffering.max.messages) but it stops counting a message as soon as
// its delivery report leaves librdkafka, while the report may still wait in
// the events channel or in a DoneFunc; the contract counts a message until
// its DoneFunc returned, so the engine keeps its own count.
//
// A slot is held for the whole time a Produce call is inside librdkafka,
// which is what lets Close wait for "no slot taken" before destroying the
// librdkafka handle.
type slots struct {
	max     int64
	n       atomic.Int64
	waiters atomic.Int32

	mu   sync.Mutex
	wake chan struct{} // closed (and replaced) by a release while someone waits
}

func newSlots(max int) *slots {
	return &slots{max: int64(max), wake: make(chan struct{})}
}

// tryAcquire takes a slot if one is free, with a compare-and-swap so that a
// full queue never looks fuller than it is to a concurrent producer.
func (s *slots) tryAcquire() bool {
	for {
		n := s.n.Load()
		if n >= s.max {
			return false
		}
		if s.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release gives n slots back and wakes the waiters, if any.
func (s *slots) release(n int) {
	s.n.Add(-int64(n))
	if s.waiters.Load() > 0 {
		s.mu.Lock()
		close(s.wake)
		s.wake = make(chan struct{})
		s.mu.Unlock()
	}
}

// len is the number of slots taken.
func (s *slots) len() int64 { return s.n.Load() }

// waitBelow blocks until fewer than limit slots are taken, ctx ends or
// stop is closed (kerr.ErrClosed). A nil stop never fires.
func (s *slots) waitBelow(ctx context.Context, limit int64, stop <-chan struct{}) error {
	for {
		// Register first, then look: a release that ran before the
		// registration is already visible in n, one that runs after it
		// closes the channel we hold.
		s.mu.Lock()
		s.waiters.Add(1)
		ch := s.wake
		s.mu.Unlock()
		if s.n.Load() < limit {
			s.waiters.Add(-1)
			return nil
		}
		var err error
		select {
		case <-ch:
		case <-ctx.Done():
			err = ctx.Err()
		case <-stop:
			err = kerr.ErrClosed
		}
		s.waiters.Add(-1)
		if err != nil {
			return err
		}
	}
}

// generation groups the messages accepted between two Flush calls, so that
// Flush waits for exactly the messages accepted before it: a generation
// counts its messages not yet done, plus one token while it is the current
// generation. Flush swaps in a new generation and drops the old one's token;
// the old generation is done when its count reaches zero.
//
// The counts are per generation, not global, because messages complete out
// of order across partitions: "as many messages done as accepted before the
// call" would be fooled by later messages completing first.
type generation struct {
	pending atomic.Int64
	fired   atomic.Bool
	done    chan struct{}
}

func newGeneration() *generation {
	g := &generation{done: make(chan struct{})}
	g.pending.Store(1) // the token of the current generation
	return g
}

// exit counts n messages (or the token) out.
func (g *generation) exit(n int) {
	// A message may enter a generation that was just sealed and already
	// fired (it raced with Flush, so that Flush need not wait for it);
	// fired makes sure done is closed once.
	if g.pending.Add(-int64(n)) == 0 && g.fired.CompareAndSwap(false, true) {
		close(g.done)
	}
}

// generations is the producer's current generation and the sealed ones that
// have not fired yet (a Flush whose ctx ended leaves its generation behind
// for the next Flush to wait on).
type generations struct {
	cur    atomic.Pointer[generation]
	mu     sync.Mutex
	sealed []*generation
}

func newGenerations() *generations {
	gs := &generations{}
	gs.cur.Store(newGeneration())
	return gs
}

// enter counts a message into the current generation and returns it; the
// message calls exit on it once done.
func (gs *generations) enter() *generation {
	g := gs.cur.Load()
	g.pending.Add(1)
	return g
}

// seal starts a new generation and returns every generation a Flush called
// now must wait for.
func (gs *generations) seal() []*generation {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	old := gs.cur.Swap(newGeneration())
	old.exit(1) // drop its token
	live := gs.sealed[:0]
	for _, g := range gs.sealed {
		if !g.fired.Load() {
			live = append(live, g)
		}
	}
	clear(gs.sealed[len(live):])
	gs.sealed = append(live, old)
	return append([]*generation(nil), gs.sealed...)
}
