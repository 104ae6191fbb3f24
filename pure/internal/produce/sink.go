package produce

import (
	"sync"
	"sync/atomic"
	"time"
)

// sinkIdle is how long a sink goroutine with nothing to send and nothing in
// flight waits before it exits; the next batch starts it again.
var sinkIdle = 10 * time.Second

// maxRequestBytes caps the record bytes of one Produce request (brokers
// refuse requests over socket.request.max.bytes, 100 MiB by default).
const maxRequestBytes = 32 << 20

// sink sends the batches of the partitions, of any topics, that one broker
// leads. Its
// goroutine (loop) runs while there is work: it drains ready batches into
// Produce requests, up to MaxInFlight requests at a time, each sent and
// answered on a goroutine of its own (send). A send goroutine that got its
// answer takes the next ready batches itself and sends them at once, so
// under load a request follows the previous one without waiting for the
// loop; the loop keeps the linger timers and starts new senders.
type sink struct {
	p  *Producer
	id int32 // broker node id

	mu    sync.Mutex                   // serializes add and remove
	parts atomic.Pointer[[]*partition] // copy on write; partition.sink is authoritative

	running       atomic.Bool
	wakeCh        chan struct{} // capacity 1: "look again"
	inflight      atomic.Int32  // requests in flight
	throttleUntil atomic.Int64  // unix ns: the broker asked us to wait (quota)
	start         atomic.Uint32 // rotates where scans begin, so no partition always goes last

	pidTries int // consecutive failed InitProducerID requests; loop only
}

func newSink(p *Producer, id int32) *sink {
	s := &sink{p: p, id: id, wakeCh: make(chan struct{}, 1)}
	s.parts.Store(&[]*partition{})
	return s
}

// add homes pt here. The caller holds pt.mu and has set pt.sink.
func (s *sink) add(pt *partition) {
	s.mu.Lock()
	old := *s.parts.Load()
	parts := make([]*partition, len(old), len(old)+1)
	copy(parts, old)
	parts = append(parts, pt)
	s.parts.Store(&parts)
	s.mu.Unlock()
}

// remove forgets pt. The caller holds pt.mu and has cleared pt.sink.
func (s *sink) remove(pt *partition) {
	s.mu.Lock()
	old := *s.parts.Load()
	parts := make([]*partition, 0, len(old))
	for _, q := range old {
		if q != pt {
			parts = append(parts, q)
		}
	}
	s.parts.Store(&parts)
	s.mu.Unlock()
}

// wake makes the sink look at its partitions again, starting its goroutine
// if it is not running. It never blocks; the caller may hold a partition
// lock.
func (s *sink) wake() {
	select {
	case s.wakeCh <- struct{}{}:
	default:
	}
	if !s.running.Load() && s.running.CompareAndSwap(false, true) {
		if !s.p.spawn(s.loop) {
			s.running.Store(false) // closing: Close fails what is left
		}
	}
}

func (s *sink) loop() {
	defer s.p.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next, busy := s.drain()
		wait := sinkIdle
		if !next.IsZero() {
			wait = min(wait, time.Until(next))
		}
		if wait <= 0 {
			continue
		}
		timer.Reset(wait)
		select {
		case <-s.wakeCh:
			timer.Stop()
			continue
		case <-s.p.ctx.Done():
			s.running.Store(false)
			return
		case <-timer.C:
		}
		if busy || !next.IsZero() || s.inflight.Load() > 0 {
			continue
		}
		// Idle for sinkIdle: exit, unless a wake raced with us.
		s.p.trimFree()
		s.running.Store(false)
		select {
		case <-s.wakeCh:
			if s.running.CompareAndSwap(false, true) {
				continue
			}
		default:
		}
		return
	}
}

// scan is what one pass over a sink's partitions found besides the batches
// it took.
type scan struct {
	next      time.Time    // earliest linger deadline of a batch not yet ready
	busy      bool         // some partition has batches
	reporters []*partition // partitions with batches that expired, to report
}

// collect scans the sink's partitions once, from a rotating start: it
// fails the batches whose delivery timeout passed and moves the ready ones
// (linger elapsed, full, flushing) into req, one per partition, until req
// holds maxRequestBytes. id is the producer ID to stamp new batches with
// (nil without idempotence).
func (s *sink) collect(req *request, id *producerID, now time.Time, sc *scan) {
	p := s.p
	parts := *s.parts.Load()
	if len(parts) == 0 {
		return
	}
	flushing := p.flushing.Load() > 0
	throttled := false
	if until := s.throttleUntil.Load(); until > now.UnixNano() {
		throttled = true
		sc.next = earliest(sc.next, time.Unix(0, until))
	}
	start := int(s.start.Add(1) % uint32(len(parts)))
	for i := range parts {
		pt := parts[(start+i)%len(parts)]
		pt.mu.Lock()
		if pt.sink != s {
			pt.mu.Unlock()
			continue
		}
		if p.expireLocked(pt, now) {
			sc.reporters = append(sc.reporters, pt)
		}
		if len(pt.batches) > 0 {
			sc.busy = true
		}
		if pt.inflight || len(pt.batches) == 0 || throttled || req.bytes >= maxRequestBytes {
			pt.mu.Unlock()
			continue
		}
		if p.tx != nil && !p.tx.sendableLocked(pt, sc) {
			pt.mu.Unlock()
			continue
		}
		if now.Before(pt.retryAt) { // retryHereLocked's backoff
			sc.next = earliest(sc.next, pt.retryAt)
			pt.mu.Unlock()
			continue
		}
		b := pt.batches[0]
		if !b.sealed && !flushing && len(pt.batches) == 1 && p.cfg.Linger > 0 {
			if at := b.created.Add(p.cfg.Linger); now.Before(at) {
				sc.next = earliest(sc.next, at)
				pt.mu.Unlock()
				continue
			}
		}
		b.sealed = true
		pt.inflight = true
		pt.lastBytes, pt.lastCount = b.rb.EncodedSize(), len(b.msgs)
		if p.tx != nil {
			// The transaction's producer ID and epoch as of now:
			// EndTxn (transactions v2) and the epoch bump after an
			// abort change them while no batch exists, so a batch
			// that exists was produced under the current ones.
			id = p.pid.Load()
		}
		if id != nil {
			pt.stampLocked(b, id)
		}
		pt.mu.Unlock()
		req.add(pt, b)
	}
}

// drain sends every ready batch it can, within MaxInFlight requests. It
// returns when to look again (zero: when woken) and whether the sink has
// batches or requests in flight.
func (s *sink) drain() (next time.Time, busy bool) {
	p := s.p
	var id *producerID
	if p.cfg.Idempotent {
		var err error
		if id, err = p.producerID(p.ctx); err != nil {
			return s.producerIDFailed(err)
		}
		s.pidTries = 0
	}
	now := time.Now()
	var sc scan
	for {
		if int(s.inflight.Load()) >= p.cfg.MaxInFlight {
			sc.busy = true // the senders take what is ready next
			break
		}
		req := p.newRequest(s)
		s.collect(req, id, now, &sc)
		if len(req.items) == 0 {
			p.freeRequest(req)
			break
		}
		full := req.bytes >= maxRequestBytes
		s.inflight.Add(1)
		if !s.p.spawn(func() { s.send(req) }) {
			// Closing: the batches go back to their partitions,
			// and Close fails them.
			s.inflight.Add(-1)
			p.abandon(req)
			break
		}
		if !full {
			break
		}
	}
	for _, pt := range sc.reporters {
		p.report(pt)
	}
	return sc.next, sc.busy || s.inflight.Load() > 0
}

// take is drain for a send goroutine that got its answer and still holds
// its in-flight slot: it returns the next request to send, or nil, and the
// partitions whose reporter must run. It never blocks: without a producer
// ID yet it leaves the work to the loop.
func (s *sink) take() (*request, []*partition) {
	p := s.p
	var id *producerID
	if p.cfg.Idempotent {
		if id = p.pid.Load(); id == nil {
			return nil, nil
		}
	}
	req := p.newRequest(s)
	var sc scan
	s.collect(req, id, time.Now(), &sc)
	if !sc.next.IsZero() || req.bytes >= maxRequestBytes {
		s.wake() // a linger to time, or more ready than one request holds
	}
	if len(req.items) == 0 {
		p.freeRequest(req)
		return nil, sc.reporters
	}
	return req, sc.reporters
}

// producerIDFailed handles a failed InitProducerID in drain: retriable
// errors are retried after a backoff (batches meanwhile expire at their
// delivery timeout), others fail every batch waiting here.
func (s *sink) producerIDFailed(err error) (next time.Time, busy bool) {
	p := s.p
	if p.ctx.Err() != nil {
		return next, false
	}
	// The producer ID is the producer's, for all topics: the partitions
	// waiting here are named in the errors of the messages that fail.
	p.log.Warn("gokafka: producer ID unavailable", "broker", s.id, "err", err)
	parts := *s.parts.Load()
	now := time.Now()
	retriable := p.retriable(err)
	for _, pt := range parts {
		pt.mu.Lock()
		if pt.sink != s {
			pt.mu.Unlock()
			continue
		}
		rep := p.expireLocked(pt, now)
		for !retriable && len(pt.batches) > 0 && !pt.inflight {
			rep = pt.completeLocked(pt.batches[0], p.brokerError(pt, err), -1, -1) || rep
		}
		if len(pt.batches) > 0 {
			busy = true
		}
		pt.mu.Unlock()
		if rep {
			p.report(pt)
		}
	}
	s.pidTries++
	return now.Add(p.backoff(s.pidTries)), busy
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}
