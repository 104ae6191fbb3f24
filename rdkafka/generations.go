//go:build cgo && !nordkafka

package rdkafka

import (
	"sync"
	"sync/atomic"
)

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
