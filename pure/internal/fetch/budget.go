package fetch

import "math"

// The byte budget (engine.FetcherConfig.QueuedMaxBytes) bounds what a
// fetcher holds across all its partitions, beside the per-partition
// message count (QueuedMaxMessages), so that memory is predictable
// whatever the message size. It counts wire bytes (the record batches as
// fetched) from the moment a request may bring them until Poll hands them
// over:
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
//   - an answer, once scanned, counts the complete batches it reserved
//     instead, until the decode stage queues them;
//   - a queued fetch counts the batches it came from, until Poll takes it.
//
// A source that finds the budget spent sends nothing until Poll has brought
// it down to half (the same hysteresis as QueuedMaxMessages, for the same
// reason: a slow poller then does not cause one tiny request per Poll).
// Without a budget (0) nothing is counted.
//
// Bytes are the batches' wire bytes plus messageOverhead per record, the
// *engine.Message each becomes: with small messages the objects weigh more
// than the values.

// messageOverhead is what a decoded message costs beyond its bytes: an
// engine.Message (the 160-byte size class) and the pointer to it.
const messageOverhead = 168

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
// reservation by the bytes the scan reserved (sentPart.res.scan of the
// partitions it advanced). Caller holds f.mu.
func (f *fetcher) settleLocked(r *round) {
	if f.cfg.QueuedMaxBytes <= 0 {
		return
	}
	f.roundBytes -= r.inflight
	r.inflight = 0
	for i := range r.parts {
		if sp := &r.parts[i]; sp.scanNext >= 0 {
			r.reserved += int64(sp.res.scan.bytes + sp.res.scan.records*messageOverhead)
		}
	}
	f.roundBytes += r.reserved
	f.wakeIfBelowLocked()
}

// queueBytesLocked counts a fetch just queued for c. Caller holds f.mu.
func (f *fetcher) queueBytesLocked(c *cursor, bytes int) {
	c.fetchBytes = append(c.fetchBytes, bytes)
	c.queuedBytes += int64(bytes)
	f.queuedBytes += int64(bytes)
}

// unqueueBytesLocked gives back the bytes of c's oldest fetch, which Poll
// just took. Caller holds f.mu.
func (f *fetcher) unqueueBytesLocked(c *cursor) {
	if len(c.fetchBytes) == 0 {
		return
	}
	b := int64(c.fetchBytes[0])
	c.fetchBytes = c.fetchBytes[1:]
	if len(c.fetchBytes) == 0 {
		c.fetchBytes = c.fetchBytes[:0:0]
	}
	c.queuedBytes -= b
	f.queuedBytes -= b
	f.wakeIfBelowLocked()
}

// resetLocked is c.reset, giving back the bytes of the fetches it drops.
// (Reservations of rounds in flight stay with their rounds.) Caller holds
// f.mu.
func (f *fetcher) resetLocked(c *cursor, offset int64) {
	f.queuedBytes -= c.queuedBytes
	c.queuedBytes = 0
	clear(c.fetchBytes)
	c.fetchBytes = c.fetchBytes[:0]
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
