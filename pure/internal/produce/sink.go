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

// sink sends the batches of the partitions that one broker leads. Its
// goroutine (loop) runs while there is work: it drains ready batches into
// Produce requests, up to MaxInFlight requests at a time, each sent and
// answered on a goroutine of its own (send).
type sink struct {
	p  *Producer
	id int32 // broker node id

	mu    sync.Mutex
	parts []*partition // the partitions homed here; partition.sink is authoritative

	running       atomic.Bool
	wakeCh        chan struct{} // capacity 1: "look again"
	inflight      atomic.Int32  // requests in flight
	throttleUntil atomic.Int64  // unix ns: the broker asked us to wait (quota)

	// Used by the loop goroutine only.
	scratch  []*partition
	next     int // round-robin start, so no partition always goes last
	pidTries int // consecutive failed InitProducerID requests
}

func newSink(p *Producer, id int32) *sink {
	return &sink{p: p, id: id, wakeCh: make(chan struct{}, 1)}
}

// add homes pt here. The caller holds pt.mu and has set pt.sink.
func (s *sink) add(pt *partition) {
	s.mu.Lock()
	s.parts = append(s.parts, pt)
	s.mu.Unlock()
}

// remove forgets pt. The caller holds pt.mu and has cleared pt.sink.
func (s *sink) remove(pt *partition) {
	s.mu.Lock()
	for i, q := range s.parts {
		if q == pt {
			last := len(s.parts) - 1
			s.parts[i] = s.parts[last]
			s.parts[last] = nil
			s.parts = s.parts[:last]
			break
		}
	}
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
	s.mu.Lock()
	parts := append(s.scratch[:0], s.parts...)
	s.mu.Unlock()
	s.scratch = parts[:0]
	if len(parts) == 0 {
		return next, s.inflight.Load() > 0
	}
	if s.next >= len(parts) {
		s.next = 0
	}
	now := time.Now()
	flushing := p.flushing.Load() > 0
	throttled := false
	if until := s.throttleUntil.Load(); until > now.UnixNano() {
		throttled = true
		next = time.Unix(0, until)
	}
	var req *request
	var reporters []*partition
	for i := range parts {
		if req == nil {
			if int(s.inflight.Load()) >= p.cfg.MaxInFlight {
				busy = true
				break
			}
			req = p.newRequest(s)
		}
		pt := parts[(s.next+i)%len(parts)]
		pt.mu.Lock()
		if pt.sink != s {
			pt.mu.Unlock()
			continue
		}
		if p.expireLocked(pt, now) {
			reporters = append(reporters, pt)
		}
		if len(pt.batches) > 0 {
			busy = true
		}
		if pt.inflight || len(pt.batches) == 0 || throttled {
			pt.mu.Unlock()
			continue
		}
		b := pt.batches[0]
		if !b.sealed && !flushing && len(pt.batches) == 1 && p.cfg.Linger > 0 {
			if at := b.created.Add(p.cfg.Linger); now.Before(at) {
				next = earliest(next, at)
				pt.mu.Unlock()
				continue
			}
		}
		b.sealed = true
		pt.inflight = true
		pt.lastBytes, pt.lastCount = b.rb.EncodedSize(), len(b.msgs)
		if id != nil {
			pt.stampLocked(b, id)
		}
		pt.mu.Unlock()
		req.add(pt, b)
		if req.bytes >= maxRequestBytes {
			s.launch(req)
			req = nil
		}
	}
	s.next++
	if req != nil && len(req.items) > 0 {
		s.launch(req)
	} else if req != nil {
		p.freeRequest(req)
	}
	for _, pt := range reporters {
		p.report(pt)
	}
	if s.inflight.Load() > 0 {
		busy = true
	}
	return next, busy
}

// producerIDFailed handles a failed InitProducerID in drain: retriable
// errors are retried after a backoff (batches meanwhile expire at their
// delivery timeout), others fail every batch waiting here.
func (s *sink) producerIDFailed(err error) (next time.Time, busy bool) {
	p := s.p
	if p.ctx.Err() != nil {
		return next, false
	}
	p.log.Warn("gokafka: producer ID unavailable", "topic", p.cfg.Topic, "err", err)
	s.mu.Lock()
	parts := append(s.scratch[:0], s.parts...)
	s.mu.Unlock()
	s.scratch = parts[:0]
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
			rep = pt.completeLocked(pt.batches[0], err, -1, -1) || rep
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

// launch sends req on its own goroutine.
func (s *sink) launch(req *request) {
	s.inflight.Add(1)
	if !s.p.spawn(func() { s.send(req) }) {
		// Closing: the batches go back to their partitions, and Close
		// fails them.
		s.inflight.Add(-1)
		s.p.abandon(req)
	}
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}
