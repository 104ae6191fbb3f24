//go:build cgo && !nordkafka

package rdkafka

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
)

// The hand-over to the feeding thread (issue 17).
//
// librdkafka allocates every message it is given (malloc, in
// rd_kafka_producev) on the thread that gives it, and glibc's malloc keeps
// an arena per thread, up to eight per core. A Produce caller's goroutine
// runs on whichever of the program's threads the Go scheduler puts it on,
// and moves between them whenever it waits (for room in the queue, say),
// so librdkafka's messages were spread over many arenas, each of which grew
// to hold a share of the messages in flight and faulted its pages in anew.
// Instead, Produce hands each message to its instance's feeding goroutine,
// which is locked to one thread and makes every rd_kafka_producev call of
// the instance: one arena. The feeding goroutine also stages the messages
// it takes at once in C memory (cBatch) and hands them to librdkafka in one
// cgo crossing per batch. Measured on the 3-broker development cluster
// (2M × 100 B, 12 partitions, acks=all, 100 000 in flight, the bench's
// client program, perf stat, 8 interleaved rounds): 1 915-2 181 ms of CPU
// (median 2 007) against 2 028-2 385 (median 2 170) calling librdkafka from
// Produce's goroutine, 1 895-2 200 (median 2 046) with the feeding thread
// but one crossing per message; page faults 31 000-38 000 against
// 79 000-99 000; peak RSS 107-113 MiB against 126-137 (6 other rounds). At
// low rates a message goes to librdkafka from its Produce call instead
// (sparseGap).

// What changes for a message: librdkafka's refusal (its own queue full for
// a producer with FailWhenFull, a fatal error) comes back in the message's
// delivery report instead of from Produce; a message that finds
// librdkafka's queue full without FailWhenFull waits in the hand-over,
// before every later message of the instance (so that each partition keeps
// the order of Produce calls), until a delivery report makes room.
// Produce still counts the message in its producer's MaxQueued before it
// is handed over, so the hand-over holds at most the instance's producers'
// MaxQueued between them.

// feedItem is a message handed over: whose, to which topic handle, and its
// slot in the records table (its opaque).
type feedItem struct {
	p   *producer
	rkt *cRkt
	m   *engine.Message
	i   int64
}

// refusal is a message librdkafka refused, for the events goroutine to
// report (DoneFuncs are called from that goroutine alone, in order).
type refusal struct {
	r   record
	err error
}

// feeder is an instance's hand-over and its feeding goroutine.
type feeder struct {
	mu      sync.Mutex
	queue   []feedItem // handed over, not yet given to librdkafka, in order
	idle    bool       // the feeding goroutine waits for wake
	refused []refusal  // for the events goroutine

	// waiting counts the messages handed over and not yet given to
	// librdkafka (nor refused): the flusher keeps flushing while any is
	// left, as librdkafka sends without linger only during a flush.
	waiting atomic.Int64

	wake chan struct{} // capacity 1: queue is no longer empty
	room chan struct{} // capacity 1: the events goroutine settled reports
	done chan struct{} // closed when the feeding goroutine ended

	// feeding is held while the feeding goroutine takes messages from
	// queue and gives them to librdkafka, so that a producer's abandon,
	// which holds it too, finds each of its messages either given or
	// still queued, never being read.
	feeding sync.Mutex
	batch   *cBatch       // whoever holds feeding uses it; in C memory
	errs    []error       // whoever holds feeding uses it
	one     [1]feedItem   // a sparse message given by its Produce call (under feeding)
	last    time.Duration // when the last message found the hand-over idle (since clockBase); under mu
}

// sparseGap: a message that finds the hand-over idle, coming this long or
// more after the last message that did, is given to librdkafka by its
// Produce call itself, under feeding, rather than wake the feeding thread.
// Waking it cost about 12 µs of CPU per message at 1 000 msg/s (medians
// of 4 rounds; 1.5 more context switches per message); at such rates the
// arenas the calls spread over hold few messages. A burst's first message
// may go that way, the rest find it recent and are handed over.
const sparseGap = 500 * time.Microsecond

// clockBase anchors feeder.last (monotonic).
var clockBase = time.Now()

// roomWait bounds one wait for room in librdkafka's queue when no report
// signals it; the events goroutine signals every settle.
const roomWait = 10 * time.Millisecond

func newFeeder() *feeder {
	return &feeder{idle: true, wake: make(chan struct{}, 1), room: make(chan struct{}, 1), done: make(chan struct{}), batch: newCBatch()}
}

// handOver hands it over, or gives it to librdkafka at once if it is a
// sparse message (sparseGap).
func (s *sharedInstance) handOver(it feedItem) {
	f := s.feeder
	f.waiting.Add(1)
	f.mu.Lock()
	if f.idle && len(f.queue) == 0 {
		now := time.Since(clockBase)
		sparse := now-f.last >= sparseGap
		f.last = now
		if sparse && f.feeding.TryLock() {
			f.mu.Unlock()
			f.one[0] = it
			full := s.give(f.one[:])
			f.one[0] = feedItem{}
			f.feeding.Unlock()
			if full { // it waits in the hand-over now
				signal(f.wake)
			}
			return
		}
	}
	f.queue = append(f.queue, it)
	wasIdle := f.idle
	f.idle = false
	f.mu.Unlock()
	if wasIdle {
		signal(f.wake)
	}
}

// signal wakes whoever waits on c, if anyone, without blocking.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// feed is the instance's feeding goroutine. It ends when stop is closed;
// by then its last producer's purge has emptied the hand-over (a message
// still there is refused with kerr.ErrClosed).
func (s *sharedInstance) feed() {
	runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
	f := s.feeder
	defer close(f.done)
	defer f.batch.free()
	var work []feedItem
	for {
		f.feeding.Lock()
		f.mu.Lock()
		work, f.queue = f.queue, work[:0]
		f.idle = len(work) == 0
		f.mu.Unlock()
		full := s.give(work)
		f.feeding.Unlock()
		n := len(work)
		clear(work) // no message stays reachable from here
		var wait <-chan struct{}
		var timer *time.Timer
		switch {
		case n == 0:
			wait = f.wake
		case full:
			wait = f.room
			timer = time.NewTimer(roomWait)
		default:
			continue
		}
		var expired <-chan time.Time
		if timer != nil {
			expired = timer.C
		}
		select {
		case <-wait:
		case <-expired:
		case <-s.stop:
			s.refuseQueued()
			return
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// give hands work to librdkafka in order, a batch (cBatch) per crossing;
// the caller holds feeding. A message that finds librdkafka's queue full
// stops it: that message and the rest go back to the front of the
// hand-over, and full is true, except the messages of producers with
// FailWhenFull, which are refused with ErrQueueFull rather than wait.
func (s *sharedInstance) give(work []feedItem) (full bool) {
	f := s.feeder
	given := 0
	defer func() { f.waiting.Add(-int64(given)) }()
	for start := 0; start < len(work); {
		n := 0
		for start+n < len(work) && f.batch.stage(work[start+n].rkt, work[start+n].m, work[start+n].i) {
			n++
		}
		tried, errs := s.c.produce(f.batch, f.errs)
		f.errs = errs
		for k, err := range errs {
			it := work[start+k]
			if err == nil {
				given++ // the record now belongs to the delivery report
				continue
			}
			if errors.Is(mapError(err), kerr.ErrQueueFull) && !it.p.cfg.FailWhenFull {
				given += s.putBack(work[start+k:])
				return true
			}
			given++
			s.refuse(it, it.p.produceError(err))
		}
		start += tried
		if tried < n { // the last one tried found the queue full
			given += s.putBack(work[start:])
			return true
		}
	}
	return false
}

// putBack returns rest to the front of the hand-over, but for the
// messages of producers with FailWhenFull, which it refuses with
// ErrQueueFull; it returns how many it refused.
func (s *sharedInstance) putBack(rest []feedItem) (refused int) {
	f := s.feeder
	q := make([]feedItem, 0, len(rest))
	for _, it := range rest {
		if !it.p.cfg.FailWhenFull {
			q = append(q, it)
			continue
		}
		refused++
		s.refuse(it, fmt.Errorf("%w: librdkafka's queue, which the producers of one instance share, is full", kerr.ErrQueueFull))
	}
	f.mu.Lock()
	f.queue = append(q, f.queue...)
	f.idle = false
	f.mu.Unlock()
	return refused
}

// refuse takes the record of it out of the table and leaves its report, an
// error naming its partition with cause, to the events goroutine.
func (s *sharedInstance) refuse(it feedItem, cause error) {
	err := fmt.Errorf("rdkafka: producing to %s/%d: %w", it.m.Topic, it.m.Partition, cause)
	r := s.recs.remove(it.i)
	f := s.feeder
	f.mu.Lock()
	f.refused = append(f.refused, refusal{r: r, err: err})
	f.mu.Unlock()
	s.c.wake()
}

// refuseQueued refuses what is left in the hand-over with kerr.ErrClosed.
func (s *sharedInstance) refuseQueued() {
	f := s.feeder
	f.feeding.Lock()
	defer f.feeding.Unlock()
	f.mu.Lock()
	left := f.queue
	f.queue = nil
	f.mu.Unlock()
	for _, it := range left {
		s.refuse(it, kerr.ErrClosed)
	}
	f.waiting.Add(-int64(len(left)))
}

// takeRefused is the refusals waiting for their reports.
func (f *feeder) takeRefused() []refusal {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.refused
	f.refused = nil
	return out
}

// withdraw takes p's messages out of the hand-over (for its abandon) and
// returns their slots; the caller holds feeding.
func (f *feeder) withdraw(p *producer) []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var slots []int64
	keep := f.queue[:0]
	for _, it := range f.queue {
		if it.p == p {
			slots = append(slots, it.i)
		} else {
			keep = append(keep, it)
		}
	}
	clear(f.queue[len(keep):])
	f.queue = keep
	f.waiting.Add(-int64(len(slots)))
	return slots
}
