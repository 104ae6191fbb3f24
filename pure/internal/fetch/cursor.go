package fetch

import (
	"time"

	"github.com/gokafka/kafka/internal/engine"
)

// cursor is one assigned partition. Every field is guarded by fetcher.mu.
//
// A cursor has two positions because a source pipelines: as soon as a
// response arrives, a scan of its batch headers (cheap, no decompression)
// tells where the partition continues, and the next request goes out while
// the response is still being decoded. fetchAt is that speculative
// position; offset is where the decoded, queued data ends. They differ
// only while a response is between the two stages.
type cursor struct {
	tp engine.TopicPartition
	// topicID is the topic's id in the metadata the last Assign checked
	// (zero if the brokers do not report ids): a topic with the same name
	// and another id was deleted and created again, and offsets of the old
	// one mean nothing in it.
	topicID [16]byte
	// gen is bumped by every Assign and Unassign. A request remembers the
	// gen and offset it was built with; its data is queued only if the
	// gen still matches and the cursor's offset is still the requested
	// one, so stale and duplicate answers are dropped.
	gen     uint64
	offset  int64 // the next offset after the queued data
	fetchAt int64 // the offset the next request asks for
	// leaderEpoch is the leader epoch from the metadata the cursor was
	// routed with, sent as CurrentLeaderEpoch so a deposed leader answers
	// FENCED_LEADER_EPOCH instead of stale data. -1: unknown, unchecked.
	leaderEpoch int32
	// assignEpoch is the root's Epoch of the last Assign, copied into
	// every Fetch so the root can tell fetches of an older assignment.
	assignEpoch uint64

	src *source // the source of the partition's leader; nil while leaderless

	// pending counts the messages (an upper bound, from batch headers) of
	// responses scanned but not yet queued: they count against
	// QueuedMaxMessages like queued ones, so pipelining does not overrun it.
	pending int
	// held: a response is between the stages whose continuation the scan
	// could not predict (an error code): no request until it is applied.
	held bool

	paused  bool // an error was reported through Poll; waits for Assign
	removed bool // unassigned: the object is garbage once its requests end

	// goneSeen counts the metadata answers in a row that say the
	// partition's topic no longer exists; goneLast is the last one counted
	// (a *cluster.TopicMeta, or the *cluster.Snapshot when the topic is
	// absent from it), so that the same answer is not counted twice.
	goneSeen int
	goneLast any

	failures int       // consecutive failed fetches, for backoff
	retryAt  time.Time // not fetched before this (backoff after an error)
	// partial: the last answer held only part of a batch (the byte limits
	// cut it), so the next request puts this partition first, where the
	// broker always returns at least one whole batch, and asks for the
	// batch's size (batchBytes, which the cut batch's header told).
	partial bool
	// bytesPerMsg estimates the wire size of one message, to size requests
	// to the room left in the queue; 0 until the first data. batchBytes is
	// the largest batch of the last answer with data: requests never ask
	// for less.
	bytesPerMsg, batchBytes int

	fetches  []queuedFetch // decoded, waiting for Poll, oldest first
	buffered int           // messages in fetches
	queued   bool          // in fetcher.ready

	// charges[i] is what the fetcher's byte budget counts for fetches[i]
	// (budget.go); empty without a budget.
	charges []fetchCharge
}

// reset starts a new generation at offset (-1 when unassigning or
// closing), discarding queued fetches, reservations and any backoff.
func (c *cursor) reset(offset int64) {
	c.gen++
	c.offset = offset
	c.fetchAt = offset
	c.pending = 0
	c.held = false
	c.paused = false
	c.failures = 0
	c.retryAt = time.Time{}
	c.partial = false
	c.goneSeen, c.goneLast = 0, nil
	clear(c.fetches)
	c.fetches = c.fetches[:0]
	c.buffered = 0
}

// stop pauses the cursor until the next Assign, keeping the fetches queued
// for Poll: a new generation drops the answers in flight and releases
// their reservations.
func (c *cursor) stop() {
	c.gen++
	c.fetchAt = c.offset
	c.pending = 0
	c.held = false
	c.paused = true
}

// room is how many more messages the cursor may queue or reserve.
func (c *cursor) room(limit int) int { return limit - c.buffered - c.pending }

// fetchable reports whether a request for the cursor is worth sending:
// nothing queued or reserved, or room for at least half the limit. So
// fetching pauses while the queue is more than half full and resumes when
// Poll has drained it to half; the hysteresis keeps a slow poller from
// causing one small request per Poll. Requests ask for at most half the
// limit (see source.partitionBytes), so two fit in the queue and a source
// can keep one in flight while it decodes another.
//
// The limit is a threshold, as QueuedMaxMessages is documented ("prefetch
// stops at this many"), not a cut: an answer is never trimmed to it, which
// would fetch the rest again. Since requests are sized to the room left, a
// queue exceeds it by about one batch at most (a request asks for at least
// one whole batch), plus the error of the bytes-per-message estimate.
func (c *cursor) fetchable(limit int) bool {
	return !c.paused && !c.held && (c.buffered+c.pending == 0 || c.room(limit) >= (limit+1)/2)
}

// queuedFetch is a fetch waiting for Poll. Its records stay packed until
// Poll hands them out (packed.go); nil when it has none.
type queuedFetch struct {
	engine.Fetch
	recs *packed
}

// count is how many messages q holds.
func (q *queuedFetch) count() int {
	if q.recs == nil {
		return 0
	}
	return len(q.recs.recs)
}
