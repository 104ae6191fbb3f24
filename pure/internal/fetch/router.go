package fetch

import (
	"errors"
	"fmt"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
)

// goneAnswers is how many metadata answers in a row must say that an
// assigned partition's topic no longer exists before the partition fails
// through Poll: one broker whose view lags (it has not applied the topic's
// creation yet) must not end a partition, and the second answer comes
// within a backoff, since a cursor without a leader makes the router ask
// for refreshes.
const goneAnswers = 2

// route is the router goroutine: at every metadata update it moves each
// cursor to the source of its (topic, partition)'s current leader, and
// fails the cursors whose topic was deleted. While some cursor has no
// leader it keeps asking for refreshes, with backoff (cluster.Route).
func (f *fetcher) route() {
	defer f.wg.Done()
	f.cl.Route(f.routeAll, f.rerouteCh, f.ctx.Done())
}

// routeAll is one round of the router: whether it left some cursor
// without a leader, or found the fetcher closed.
func (f *fetcher) routeAll() (leaderless, closed bool) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return false, true
	}
	// Read under the lock: a cursor that Assign just checked against
	// some snapshot is never judged by an older one (which might not
	// know its topic yet).
	snap := f.cl.Snapshot()
	pushed := false
	for _, c := range f.parts {
		f.routeLocked(c, snap)
		if c.paused {
			continue // waits for Assign, not for a leader
		}
		if f.goneLocked(c, snap) {
			pushed = true
		} else if c.src == nil {
			leaderless = true
		}
	}
	f.mu.Unlock()
	if pushed {
		f.signalReady()
	}
	return leaderless, false
}

// routeLocked moves c to the source of its partition's leader in snap,
// starting that source if needed, and records the leader epoch. A cursor
// whose leader is unknown is left without a source (false); the router
// retries it. Caller holds f.mu.
func (f *fetcher) routeLocked(c *cursor, snap *cluster.Snapshot) bool {
	leader, epoch := snap.Leader(c.tp.Topic, c.tp.Partition)
	if c.src != nil && c.src.id == leader {
		if epoch != c.leaderEpoch {
			// Same leader, new epoch (it was re-elected): errors seen
			// with the old epoch are worth retrying at once.
			c.leaderEpoch = epoch
			c.retryAt = time.Time{}
			c.src.wakeup()
		}
		return true
	}
	f.unrouteLocked(c)
	c.leaderEpoch = epoch
	if leader < 0 {
		return false
	}
	s := f.sources[leader]
	if s == nil {
		s = newSource(f, leader)
		f.sources[leader] = s
		s.start()
	}
	s.add(c)
	c.src = s
	c.retryAt = time.Time{} // a new leader: no reason to wait
	s.wakeup()
	return true
}

// unrouteLocked takes c off its source. Caller holds f.mu.
func (f *fetcher) unrouteLocked(c *cursor) {
	if c.src != nil {
		c.src.remove(c)
		c.src.wakeup() // so that it can stop if it has nothing left
		c.src = nil
	}
}

// goneLocked fails c through Poll once goneAnswers metadata answers in a
// row say its topic was deleted (or deleted and created again: another
// topic id), and reports whether it did. What was queued before stays
// ahead of the error; the cursor pauses until the root assigns the
// partition again, which a deleted topic refuses. Caller holds f.mu.
func (f *fetcher) goneLocked(c *cursor, snap *cluster.Snapshot) bool {
	answer, err := gone(c, snap)
	if err == nil {
		c.goneSeen, c.goneLast = 0, nil
		return false
	}
	if answer == c.goneLast {
		return false // counted already
	}
	c.goneSeen++
	c.goneLast = answer
	if c.goneSeen < goneAnswers {
		return false
	}
	f.log.Warn("assigned partition's topic is gone", "topic", c.tp.Topic, "partition", c.tp.Partition, "err", err)
	c.stop()
	f.unrouteLocked(c)
	f.enqueueLocked(c, engine.Fetch{
		TopicPartition: c.tp, NextOffset: c.offset, HighWatermark: -1,
		Err: fmt.Errorf("kafka: fetch %s at offset %d: %w", c.tp, c.offset, err),
	}, nil, fetchCharge{})
	return true
}

// gone returns why snap says c's partition no longer exists (nil if it
// does not say so), and the metadata answer that says it: the topic's
// entry, or snap itself when the topic is absent (a refresh of every topic
// drops deleted ones).
func gone(c *cursor, snap *cluster.Snapshot) (answer any, err error) {
	t := snap.Topics[c.tp.Topic]
	if t == nil {
		return snap, fmt.Errorf("%w: %q is not in the cluster's metadata any more", kerr.ErrUnknownTopic, c.tp.Topic)
	}
	if t.Err != nil {
		if errors.Is(t.Err, kerr.ErrUnknownTopic) {
			return t, t.Err
		}
		return nil, nil // a transient error, or one a refresh cannot fix: not a deletion
	}
	var noID [16]byte // brokers before Kafka 2.8 name no topic ids
	if c.topicID != noID && t.ID != noID && t.ID != c.topicID {
		return t, fmt.Errorf("%w: %q was deleted and created again (topic id %x, assigned as %x)", kerr.ErrUnknownTopic, c.tp.Topic, t.ID, c.topicID)
	}
	if _, err := t.Partition(c.tp.Partition); err != nil {
		return t, err // fewer partitions: deleted and created again
	}
	return nil, nil
}

func (f *fetcher) signalReroute() {
	select {
	case f.rerouteCh <- struct{}{}:
	default:
	}
}
