package fetch

import (
	"errors"
	"fmt"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// minPartitionBytes is the smallest per-partition byte limit a request
// asks for when the queue has little room left: below it, the round trip
// costs more than the data it saves.
const minPartitionBytes = 16 << 10

// source is the fetch actor of one broker: one goroutine that sends Fetch
// requests for the cursors of the partitions this broker leads, one request
// at a time, and queues what comes back. It exits when it has no cursor
// left (the router starts a new one when the broker gains partitions).
type source struct {
	f    *fetcher
	id   int32         // broker node id
	wake chan struct{} // one pending signal: a cursor became fetchable

	// Guarded by f.mu.
	cursors []*cursor
	rot     int // rotates the partition order between requests

	// Owned by the goroutine.
	broker *cluster.Broker // last broker object used, to close its lane at Close
	req    *kmsg.FetchRequest
	sent   []sentPart
	index  map[int32]int // partition -> position in sent
	dec    decoder
}

// sentPart is one partition of the request in flight: the cursor state it
// was built from, then what the answer held for it.
type sentPart struct {
	c      *cursor
	gen    uint64
	offset int64
	room   int // messages the cursor may still queue
	rp     *kmsg.FetchResponseTopicPartition
	ok     bool // still current when the answer arrived: decode it
	res    decoded
}

func newSource(f *fetcher, id int32) *source {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = int32(f.cfg.MaxWait / time.Millisecond)
	req.MinBytes = f.cfg.MinBytes
	req.MaxBytes = f.cfg.MaxBytes
	req.IsolationLevel = int8(f.cfg.Isolation)
	req.SessionID = 0
	req.SessionEpoch = -1 // full fetches, no fetch session (KIP-227)
	t := kmsg.NewFetchRequestTopic()
	t.Topic = f.cfg.Topic
	req.Topics = []kmsg.FetchRequestTopic{t}
	return &source{
		f:     f,
		id:    id,
		wake:  make(chan struct{}, 1),
		req:   req,
		index: map[int32]int{},
		dec:   newDecoder(f.cfg),
	}
}

// wakeup makes the goroutine rebuild its request soon. It never blocks.
func (s *source) wakeup() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// add and remove change the cursor set; caller holds f.mu.
func (s *source) add(c *cursor) { s.cursors = append(s.cursors, c) }

func (s *source) remove(c *cursor) {
	for i, x := range s.cursors {
		if x == c {
			last := len(s.cursors) - 1
			s.cursors[i] = s.cursors[last]
			s.cursors[last] = nil
			s.cursors = s.cursors[:last]
			return
		}
	}
}

func (s *source) run() {
	defer s.f.wg.Done()
	for {
		wait, ok := s.build()
		if !ok {
			return
		}
		if len(s.sent) == 0 {
			s.sleep(wait)
			continue
		}
		s.fetch()
	}
}

// sleep waits for a wakeup, for wait if it is not negative, or for Close.
func (s *source) sleep(wait time.Duration) {
	var timer <-chan time.Time
	if wait >= 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-s.wake:
	case <-timer:
	case <-s.f.ctx.Done():
	}
}

// build fills s.req and s.sent with the cursors to fetch now. It returns
// false when the source should stop (closed, or no cursor left; it then
// unregisters itself under the lock, so that a later Assign starts a new
// source), and how long until a backed-off cursor may be fetched again (-1:
// none is waiting).
func (s *source) build() (time.Duration, bool) {
	f := s.f
	s.sent = s.sent[:0]
	parts := s.req.Topics[0].Partitions[:0]
	wait := time.Duration(-1)

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || len(s.cursors) == 0 {
		if f.sources[s.id] == s {
			delete(f.sources, s.id)
		}
		return 0, false
	}
	limit := f.cfg.QueuedMaxMessages
	now := time.Now()
	n := len(s.cursors)
	s.rot++
	for i := range n {
		c := s.cursors[(s.rot+i)%n]
		if c.paused || c.inflight == s || !c.fetchable(limit) {
			continue
		}
		if d := c.retryAt.Sub(now); d > 0 {
			if wait < 0 || d < wait {
				wait = d
			}
			continue
		}
		c.inflight = s
		p := kmsg.NewFetchRequestTopicPartition()
		p.Partition = c.p
		p.CurrentLeaderEpoch = c.epoch
		p.FetchOffset = c.offset
		p.PartitionMaxBytes = s.partitionBytes(c, c.room(limit))
		parts = append(parts, p)
		s.sent = append(s.sent, sentPart{c: c, gen: c.gen, offset: c.offset})
		if c.partial {
			// First in the request, where the broker returns at least
			// one whole batch however large.
			last := len(parts) - 1
			parts[0], parts[last] = parts[last], parts[0]
			s.sent[0], s.sent[last] = s.sent[last], s.sent[0]
		}
	}
	s.req.Topics[0].Partitions = parts
	return wait, true
}

// partitionBytes sizes a partition's byte limit to the room left in its
// queue, so that a nearly full queue does not fetch data only to drop it.
func (s *source) partitionBytes(c *cursor, room int) int32 {
	limit := s.f.cfg.PartitionMaxBytes
	if c.bytesPerMsg <= 0 || c.partial {
		return limit
	}
	want := int64(room) * int64(c.bytesPerMsg)
	want += want/8 + minPartitionBytes
	if want < int64(limit) {
		return int32(want)
	}
	return limit
}

// fetch sends the built request and applies the answer.
func (s *source) fetch() {
	f := s.f
	b, err := f.cl.Broker(s.id)
	if err != nil {
		s.fail(err)
		return
	}
	if b != s.broker {
		s.broker = b
		f.mu.Lock()
		f.brokers[b] = struct{}{}
		f.mu.Unlock()
	}
	resp, err := b.RequestOn(f.ctx, f.lane, s.req)
	if err != nil {
		s.fail(err)
		return
	}
	fr := resp.(*kmsg.FetchResponse)
	if err := kerr.ForCode(fr.ErrorCode); err != nil {
		s.fail(err) // a request-level error (fetch sessions only, which we do not use)
		return
	}
	s.handle(fr)
}

// fail ends the request in flight with a request-level error: every
// cursor in it backs off, and the metadata is refreshed in case the broker
// is gone or no longer leads them.
func (s *source) fail(err error) {
	f := s.f
	closing := f.ctx.Err() != nil
	if !closing {
		f.log.Debug("fetch request failed", "broker", s.id, "topic", f.cfg.Topic, "err", err)
		f.cl.TriggerRefresh()
	}
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range s.sent {
		sp := &s.sent[i]
		c := sp.c
		if c.inflight == s {
			c.inflight = nil
		}
		if closing || c.src != s || c.gen != sp.gen {
			continue
		}
		c.failures++
		c.retryAt = now.Add(f.cl.Backoff(c.failures))
	}
	clear(s.sent)
	s.sent = s.sent[:0]
}

// handle applies a response in three steps: under the lock, find which
// partitions are still wanted as they were requested; without it, decode
// them; under the lock again, queue what is still current.
func (s *source) handle(fr *kmsg.FetchResponse) {
	f := s.f
	clear(s.index)
	for i := range s.sent {
		s.index[s.sent[i].c.p] = i
	}
	for i := range fr.Topics {
		t := &fr.Topics[i]
		if t.Topic != f.cfg.Topic {
			continue
		}
		for j := range t.Partitions {
			rp := &t.Partitions[j]
			if k, ok := s.index[rp.Partition]; ok {
				s.sent[k].rp = rp
			}
		}
	}

	limit := f.cfg.QueuedMaxMessages
	f.mu.Lock()
	for i := range s.sent {
		sp := &s.sent[i]
		c := sp.c
		sp.ok = sp.rp != nil && sp.rp.ErrorCode == 0 && !c.removed && c.gen == sp.gen && c.offset == sp.offset
		if sp.ok {
			// Poll only lowers buffered until the answer is applied,
			// and another source's answer would move the offset, so
			// this room is still there when we queue.
			sp.room = c.room(limit)
		}
	}
	f.mu.Unlock()

	for i := range s.sent {
		if sp := &s.sent[i]; sp.ok {
			sp.res = s.dec.decode(sp.rp, sp.offset, sp.room)
		}
	}

	var refresh, pushed bool
	now := time.Now()
	f.mu.Lock()
	for i := range s.sent {
		sp := &s.sent[i]
		c := sp.c
		if c.inflight == s {
			c.inflight = nil
		}
		if c.removed || c.gen != sp.gen || c.offset != sp.offset || sp.rp == nil {
			continue // superseded by Assign, or answered by another source; or not in the answer
		}
		if code := sp.rp.ErrorCode; code != 0 {
			if c.src != s {
				continue // the partition moved on: a stale leader's opinion
			}
			r, p := s.partitionError(c, sp.rp, now)
			refresh = refresh || r
			pushed = pushed || p
			continue
		}
		if s.apply(c, sp) {
			pushed = true
		}
	}
	f.mu.Unlock()
	clear(s.sent)
	s.sent = s.sent[:0]
	if refresh {
		f.cl.TriggerRefresh()
	}
	if pushed {
		f.signalReady()
	}
}

// apply queues a decoded partition and advances the cursor. Caller holds
// f.mu. It reports whether something was queued.
func (s *source) apply(c *cursor, sp *sentPart) bool {
	f := s.f
	r := &sp.res
	c.failures = 0
	c.partial = r.partial
	if r.records > 0 {
		c.bytesPerMsg = max(1, r.bytes/r.records)
	}
	pushed := false
	hw := sp.rp.HighWatermark
	if len(r.msgs) > 0 {
		f.enqueueLocked(c, engine.Fetch{Partition: c.p, Messages: r.msgs, NextOffset: r.next, HighWatermark: hw})
		pushed = true
	} else if r.next > c.offset {
		// Only control records or compacted-away offsets: tell the
		// root the position moved, merged into the last queued fetch
		// when there is one so that these cost no memory.
		if n := len(c.fetches); n > 0 && c.fetches[n-1].Err == nil {
			c.fetches[n-1].NextOffset = r.next
			c.fetches[n-1].HighWatermark = hw
		} else {
			f.enqueueLocked(c, engine.Fetch{Partition: c.p, NextOffset: r.next, HighWatermark: hw})
			pushed = true
		}
	}
	c.offset = r.next
	if r.err != nil {
		// The batches before the bad one were queued above; the bad one
		// will not decode better next time, so the root decides.
		c.paused = true
		f.log.Warn("fetched records do not decode", "topic", f.cfg.Topic, "partition", c.p, "offset", r.next, "err", r.err)
		f.enqueueLocked(c, engine.Fetch{
			Partition: c.p, NextOffset: r.next, HighWatermark: hw,
			Err: fmt.Errorf("kafka: fetch %s/%d at offset %d: %w", f.cfg.Topic, c.p, r.next, r.err),
		})
		pushed = true
	}
	return pushed
}

// partitionError handles a partition's error code. Routing errors back off
// and ask for fresh metadata (the router moves the cursor when its leader
// changes); OFFSET_OUT_OF_RANGE and errors that no retry fixes pause the
// partition and go to Poll. Caller holds f.mu.
func (s *source) partitionError(c *cursor, rp *kmsg.FetchResponseTopicPartition, now time.Time) (refresh, pushed bool) {
	f := s.f
	err := kerr.ForCode(rp.ErrorCode)
	if errors.Is(err, kerr.OffsetOutOfRange) || !kerr.IsRetriable(err) {
		c.paused = true
		f.enqueueLocked(c, engine.Fetch{
			Partition: c.p, NextOffset: c.offset, HighWatermark: rp.HighWatermark,
			Err: fmt.Errorf("kafka: fetch %s/%d at offset %d (log start %d, high watermark %d): %w",
				f.cfg.Topic, c.p, c.offset, rp.LogStartOffset, rp.HighWatermark, err),
		})
		return false, true
	}
	c.failures++
	c.retryAt = now.Add(f.cl.Backoff(c.failures))
	f.log.Debug("fetch partition error, retrying", "topic", f.cfg.Topic, "partition", c.p, "broker", s.id, "failures", c.failures, "err", err)
	return true, false
}
