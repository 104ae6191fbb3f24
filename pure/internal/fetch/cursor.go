package fetch

import (
	"time"

	"github.com/gokafka/kafka/internal/engine"
)

// cursor is one assigned partition. Every field is guarded by fetcher.mu.
type cursor struct {
	p int32
	// gen is bumped by every Assign and Unassign. A request remembers the
	// gen (and offset) it was built with; its result is applied only if
	// both still match.
	gen    uint64
	offset int64 // the next offset to fetch
	// epoch is the leader epoch from the metadata the cursor was routed
	// with, sent as CurrentLeaderEpoch so a deposed leader answers
	// FENCED_LEADER_EPOCH instead of stale data. -1: unknown, unchecked.
	epoch int32

	src *source // the source of the partition's leader; nil while leaderless
	// inflight is the source with a request for this cursor in flight. A
	// cursor that moved sources may be fetched by its new source even
	// while the old one's request is outstanding (a hung connection must
	// not stall it); the gen/offset check keeps that safe.
	inflight *source

	paused  bool // an error was reported through Poll; waits for Assign
	removed bool // unassigned: the object is garbage once its requests end

	failures int       // consecutive failed fetches, for backoff
	retryAt  time.Time // not fetched before this (backoff after an error)
	// partial: the last answer held only part of a batch (the partition's
	// byte limit cut it), so the next request puts this partition first,
	// where the broker always returns at least one whole batch.
	partial bool
	// bytesPerMsg estimates the wire size of one message, to size requests
	// to the room left in the queue; 0 until the first data.
	bytesPerMsg int

	fetches  []engine.Fetch // decoded, waiting for Poll, oldest first
	buffered int            // messages in fetches
	queued   bool           // in fetcher.ready
}

// reset starts a new generation at offset (-1 when unassigning or
// closing), discarding queued fetches and any backoff.
func (c *cursor) reset(offset int64) {
	c.gen++
	c.offset = offset
	c.paused = false
	c.failures = 0
	c.retryAt = time.Time{}
	c.partial = false
	clear(c.fetches)
	c.fetches = c.fetches[:0]
	c.buffered = 0
}

// fetchable reports whether the cursor has room for another fetch: below
// the limit at first, then, once the limit was reached, after Poll has
// drained at least half of it. The hysteresis keeps a slow poller from
// causing one small request per Poll.
func (c *cursor) fetchable(limit int) bool {
	return c.buffered == 0 || c.buffered <= limit/2
}

// room is how many more messages the cursor may queue.
func (c *cursor) room(limit int) int { return limit - c.buffered }
