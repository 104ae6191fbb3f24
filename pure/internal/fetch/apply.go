package fetch

import (
	"errors"
	"fmt"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// decodeLoop is a source's decode stage: it decodes the rounds the network
// stage hands over, in order, queues the results and gives the rounds back.
func (s *source) decodeLoop() {
	defer s.f.wg.Done()
	for r := range s.decoded {
		s.handle(r)
		clear(r.parts)
		r.parts = r.parts[:0]
		r.resp = nil
		s.free <- r // never blocks: free has room for every round
	}
}

// handle applies one answer in three steps: under the lock, find which
// partitions are still wanted at the offset they were requested from;
// without it, decode them; under the lock again, queue what is still
// current.
func (s *source) handle(r *round) {
	f := s.f
	limit := f.cfg.QueuedMaxMessages
	decode := false
	f.mu.Lock()
	for i := range r.parts {
		sp := &r.parts[i]
		c := sp.c
		sp.decode = sp.rp != nil && sp.rp.ErrorCode == 0 && !c.removed && c.gen == sp.gen && c.offset == sp.offset
		decode = decode || sp.decode
	}
	f.mu.Unlock()

	if decode {
		for i := range r.parts {
			if sp := &r.parts[i]; sp.decode {
				s.dec.decode(&sp.res, sp.rp, sp.offset)
				if f.cfg.Observer != nil {
					observeBatch(f.cfg.Observer, s.id, sp)
				}
			}
		}
	}

	var refresh, pushed bool
	now := time.Now()
	f.mu.Lock()
	f.roundBytes -= r.reserved // queued below (apply), or dropped
	r.reserved = 0
	for i := range r.parts {
		sp := &r.parts[i]
		c := sp.c
		if c.removed || c.gen != sp.gen {
			continue // Assign or Unassign since: everything of the old generation was reset
		}
		c.pending -= sp.reserved
		applied := false
		// Only an answer from exactly where the queued data ends is
		// used; others were overtaken (an earlier answer changed course,
		// or another source answered first while the partition moved).
		if sp.rp != nil && c.offset == sp.offset {
			if code := sp.rp.ErrorCode; code != 0 {
				if c.src == s { // else: the partition moved on, a stale leader's opinion
					rf, pf := s.partitionError(c, sp.rp, now)
					refresh = refresh || rf
					pushed = pushed || pf
				}
			} else if sp.decode { // else it was not current then, and is not now either
				pushed = s.apply(c, sp, r.answer) || pushed
				applied = true
			}
		}
		if sp.held {
			c.held = false
		}
		// If the scan's prediction did not come true (held, undecodable,
		// or not used at all), requests
		// continue from what was queued; one already sent from the
		// predicted offset will not match and is ignored.
		predicted := applied && sp.scanNext >= 0 && sp.res.next == sp.scanNext
		if !predicted && (sp.held || sp.scanNext >= 0 || applied) {
			c.fetchAt = c.offset
		}
		if c.src != nil && c.src != s && c.fetchable(limit) {
			// Moved while this answer was on its way: the new source
			// may have skipped the cursor (held, or reserved) and be
			// asleep.
			c.src.wakeup()
		}
	}
	f.mu.Unlock()
	// The network stage may have found nothing fetchable while this
	// answer held cursors or reserved their room: look again.
	s.wakeup()
	if refresh {
		f.cl.TriggerRefresh()
	}
	if pushed {
		f.signalReady()
	}
}

// apply queues a decoded partition, its messages sharing answer's charge,
// and advances the cursor. Caller holds f.mu. It reports whether something
// was queued.
func (s *source) apply(c *cursor, sp *sentPart, answer *answerCharge) bool {
	f := s.f
	res := &sp.res
	c.failures = 0
	pushed := false
	hw := sp.rp.HighWatermark
	if res.recs != nil {
		own := int64(res.inflated + cap(res.recs.recs)*messageOverhead)
		f.enqueueLocked(c, engine.Fetch{TopicPartition: c.tp, NextOffset: res.next, HighWatermark: hw}, res.recs, fetchCharge{own: own, answer: answer})
		pushed = true
	} else if res.next > c.offset {
		// Only control records or compacted-away offsets: tell the
		// root the position moved, merged into the last queued fetch
		// when there is one so that these cost no memory.
		if n := len(c.fetches); n > 0 && c.fetches[n-1].Err == nil {
			c.fetches[n-1].NextOffset = res.next
			c.fetches[n-1].HighWatermark = hw
		} else {
			f.enqueueLocked(c, engine.Fetch{TopicPartition: c.tp, NextOffset: res.next, HighWatermark: hw}, nil, fetchCharge{})
			pushed = true
		}
	}
	c.offset = res.next
	res.recs = nil // the round is reused; the records belong to the fetch now
	if res.err != nil {
		// The batches before the bad one were queued above; the bad one
		// will not decode better next time, so the root decides.
		c.paused = true
		f.log.Warn("fetched records do not decode", "topic", c.tp.Topic, "partition", c.tp.Partition, "offset", res.next, "err", res.err)
		f.enqueueLocked(c, engine.Fetch{
			TopicPartition: c.tp, NextOffset: res.next, HighWatermark: hw,
			Err: fmt.Errorf("kafka: fetch %s at offset %d: %w", c.tp, res.next, res.err),
		}, nil, fetchCharge{})
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
			TopicPartition: c.tp, NextOffset: c.offset, HighWatermark: rp.HighWatermark,
			Err: fmt.Errorf("kafka: fetch %s at offset %d (log start %d, high watermark %d): %w",
				c.tp, c.offset, rp.LogStartOffset, rp.HighWatermark, err),
		}, nil, fetchCharge{})
		return false, true
	}
	c.failures++
	c.retryAt = now.Add(f.cl.Backoff(c.failures))
	f.log.Debug("fetch partition error, retrying", "topic", c.tp.Topic, "partition", c.tp.Partition, "broker", s.id, "failures", c.failures, "err", err)
	return true, false
}
