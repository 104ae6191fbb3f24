package fetch

import (
	"math"
	"unsafe"
)

// The byte budget (engine.FetcherConfig.QueuedMaxBytes) bounds what a
// fetcher holds across all its partitions, beside the per-partition
// message count (QueuedMaxMessages), so that memory is predictable
// whatever the message size. It counts what stays in memory, from the
// moment a request may bring it until Poll hands the last of it over:
//
//   - a request in flight counts its MaxBytes, which the source sets to
//     the budget left, but to no more than the budget's share of one
//     source (the budget over the number of sources, i.e. brokers
//     fetched from): a request may wait on the broker for MaxWait when its
//     partitions have nothing new, and while it holds the whole budget no
//     other broker's partitions could be fetched (measured before the
//     share: 4.5 MB from 3 brokers took 9-28 s under a 256 KiB budget,
//     one request at a time, each long poll holding the rest back). The
//     broker may exceed MaxBytes by one batch, which it always returns
//     whole (KIP-74);
//   - an answer, once scanned, counts its record data (every partition's
//     batches, the cut one at the end included) until the decode stage
//     queues its fetches;
//   - queued fetches count that record data once for the whole answer
//     (an answerCharge), until Poll takes the last fetch made from it:
//     decoding is zero-copy, so one message left of an answer keeps the
//     whole answer's buffer alive. Counting each fetch's own batches
//     instead let a slow consumer hold a dozen answers of 10 MiB, each
//     kept by one partition's small remainder, under a 32 MiB budget (CI,
//     10 KiB messages: 75 MiB of live heap);
//   - each queued fetch also counts its own messages: messageOverhead per
//     record it has room for (packed.go rounds the room up to a power of
//     two), and the values of compressed batches, which decompression
//     put in buffers of their own.
//
// A source that finds the budget spent sends nothing until Poll has brought
// it down to half (the same hysteresis as QueuedMaxMessages, for the same
// reason: a slow poller then does not cause one tiny request per Poll).
// Without a budget (0) nothing is counted. What Poll has handed out is the
// caller's, and no longer counted.

// messageOverhead is what a queued message costs beyond its bytes: its
// packed record (packed.go). The Messages Poll builds are the caller's.
const messageOverhead = int(unsafe.Sizeof(packedRecord{}))

// answerCharge is the budget's count of one answer's record data, shared
// by the fetches decoded from it. Guarded by f.mu.
type answerCharge struct {
	bytes   int64 // every partition's RecordBatches in the answer
	fetches int   // queued fetches made from it; counted while > 0
}

// fetchCharge is what one queued fetch counts: its own messages, and its
// share of an answer (nil for fetches without messages).
type fetchCharge struct {
	own    int64
	answer *answerCharge
}

// budgetLeftLocked is the budget left for a request (at most one source's
// share), and false when a source must not send one (the budget is spent,
// or stalled: waiting for Poll to free half of it). Caller holds f.mu.
func (f *fetcher) budgetLeftLocked() (int64, bool) {
	budget := int64(f.cfg.QueuedMaxBytes)
	if budget <= 0 {
		return math.MaxInt32, true
	}
	left := budget - f.queuedBytes - f.roundBytes
	if f.stalled || left <= 0 {
		f.stalled = true
		return 0, false
	}
	return min(left, budget/int64(max(1, len(f.sources)))), true
}

// reserveLocked counts the request just built in r against the budget: its
// MaxBytes, lowered to what is left. Caller holds f.mu.
func (s *source) reserveLocked(r *round, left int64) {
	f := s.f
	if f.cfg.QueuedMaxBytes <= 0 || len(r.parts) == 0 {
		return
	}
	s.req.MaxBytes = int32(min(int64(f.cfg.MaxBytes), left))
	r.inflight = int64(s.req.MaxBytes)
	f.roundBytes += r.inflight
}

// unreserve gives back the reservation of a request that got no answer.
func (s *source) unreserve(r *round) {
	if r.inflight == 0 {
		return
	}
	f := s.f
	f.mu.Lock()
	f.roundBytes -= r.inflight
	r.inflight = 0
	f.wakeIfBelowLocked()
	f.mu.Unlock()
}

// settleLocked replaces, once r's answer is scanned, the request's
// reservation by the answer's record data and the messages its scan
// reserved (sentPart.res.scan of the partitions it advanced). Caller holds
// f.mu.
func (f *fetcher) settleLocked(r *round) {
	if f.cfg.QueuedMaxBytes <= 0 {
		return
	}
	f.roundBytes -= r.inflight
	r.inflight = 0
	r.answer = &answerCharge{}
	for i := range r.parts {
		sp := &r.parts[i]
		if sp.rp != nil {
			r.answer.bytes += int64(len(sp.rp.RecordBatches))
		}
		if sp.scanNext >= 0 {
			r.reserved += int64(sp.res.scan.records * messageOverhead)
		}
	}
	r.reserved += r.answer.bytes
	f.roundBytes += r.reserved
	f.wakeIfBelowLocked()
}

// queueChargeLocked counts a fetch just queued for c. Caller holds f.mu.
func (f *fetcher) queueChargeLocked(c *cursor, ch fetchCharge) {
	if f.cfg.QueuedMaxBytes <= 0 {
		return
	}
	c.charges = append(c.charges, ch)
	f.queuedBytes += ch.own
	if a := ch.answer; a != nil {
		if a.fetches == 0 {
			f.queuedBytes += a.bytes
		}
		a.fetches++
	}
}

// releaseLocked gives back what ch counted. Caller holds f.mu.
func (f *fetcher) releaseLocked(ch fetchCharge) {
	f.queuedBytes -= ch.own
	if a := ch.answer; a != nil {
		if a.fetches--; a.fetches == 0 {
			f.queuedBytes -= a.bytes
		}
	}
}

// unqueueChargeLocked gives back the charge of c's oldest fetch, which Poll
// just took. Caller holds f.mu.
func (f *fetcher) unqueueChargeLocked(c *cursor) {
	if len(c.charges) == 0 {
		return
	}
	f.releaseLocked(c.charges[0])
	c.charges[0] = fetchCharge{}
	c.charges = c.charges[1:]
	if len(c.charges) == 0 {
		c.charges = c.charges[:0:0]
	}
	f.wakeIfBelowLocked()
}

// resetLocked is c.reset, giving back the charges of the fetches it drops.
// (Reservations of rounds in flight stay with their rounds.) Caller holds
// f.mu.
func (f *fetcher) resetLocked(c *cursor, offset int64) {
	for _, ch := range c.charges {
		f.releaseLocked(ch)
	}
	clear(c.charges)
	c.charges = c.charges[:0]
	c.reset(offset)
	f.wakeIfBelowLocked()
}

// wakeIfBelowLocked ends a stall once the budget is down to half, waking
// every source. Caller holds f.mu.
func (f *fetcher) wakeIfBelowLocked() {
	if !f.stalled || 2*(f.queuedBytes+f.roundBytes) > int64(f.cfg.QueuedMaxBytes) {
		return
	}
	f.stalled = false
	for _, s := range f.sources {
		s.wakeup()
	}
}
