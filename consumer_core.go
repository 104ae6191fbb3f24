package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/offsets"
)

// Special offsets for ResetOffsets.
const (
	// OffsetEarliest is the oldest message still stored in a partition.
	OffsetEarliest int64 = offsets.Earliest
	// OffsetLatest is the offset the next message will get.
	OffsetLatest int64 = offsets.Latest
)

// consumerCore is what the simple and the balanced consumers share: the set
// of partitions assigned, the position in each, the fetcher that reads them,
// and the offset storage of the group. Both engines sit below it; the offset
// logic exists once, here and in package offsets.
type consumerCore struct {
	topic   *Topic
	cfg     resolvedConsumer
	fetcher engine.Fetcher
	group   *offsets.Group // nil without a consumer group
	// generation is the group generation that commits carry (balanced
	// consumers on the Kafka protocol); nil for the zero Generation.
	generation func() offsets.Generation

	// consumeMu lets one Consume at a time install fetched messages.
	consumeMu sync.Mutex

	mu         sync.Mutex
	parts      map[int32]*partState
	ready      []*Message // rest of the fetch being handed out
	readyPart  *partState
	readyEpoch uint64
	epoch      uint64 // last assign epoch used
	// revoking holds the final positions of partitions being revoked, so
	// that a commit during the revocation (OnRevoke) still includes them.
	revoking map[int32]offsets.Commit
	auto     *offsets.AutoCommitter
	closed   bool
	failure  error // why the consumer stopped by itself, returned by Consume
}

// partState is the consumer's view of one assigned partition.
type partState struct {
	id       int32
	consumed int64  // last offset handed to the user; next-1 after a seek
	epoch    uint64 // assign epoch: fetches of older epochs are dropped
}

func newConsumerCore(ctx context.Context, t *Topic, cfg resolvedConsumer) (*consumerCore, error) {
	eng, err := engineFor(cfg.UseRdkafka)
	if err != nil {
		return nil, err
	}
	c := &consumerCore{topic: t, cfg: cfg, parts: map[int32]*partState{}}
	if cfg.ConsumerGroup != "" {
		if c.group, err = offsets.NewGroup(t.client.cluster, cfg.ConsumerGroup, offsets.GroupOptions{}); err != nil {
			return nil, err
		}
	}
	if c.fetcher, err = eng.NewFetcher(ctx, t.client.cluster, cfg.fetch); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *consumerCore) gen() offsets.Generation {
	if c.generation == nil {
		return offsets.Generation{}
	}
	return c.generation()
}

// startOffsets decides where to start reading partitions: the committed
// offset when there is one (unless ignoreCommitted), else AutoOffsetReset.
func (c *consumerCore) startOffsets(ctx context.Context, partitions []int32, ignoreCommitted bool) (map[int32]int64, error) {
	start := make(map[int32]int64, len(partitions))
	var missing []int32
	if c.group != nil && !ignoreCommitted {
		committed, err := c.group.Fetch(ctx, c.topic.name, partitions)
		if err != nil {
			return nil, fmt.Errorf("fetch committed offsets of group %q: %w", c.cfg.ConsumerGroup, err)
		}
		for _, p := range partitions {
			if cm, ok := committed[p]; ok && cm.Offset >= 0 {
				start[p] = cm.Offset
			} else {
				missing = append(missing, p)
			}
		}
	} else {
		missing = partitions
	}
	if len(missing) == 0 {
		return start, nil
	}
	var at int64
	switch c.cfg.AutoOffsetReset {
	case ResetEarliest:
		at = offsets.Earliest
	case ResetLatest:
		at = offsets.Latest
	default:
		return nil, fmt.Errorf("%w: no committed offset for partitions %v and AutoOffsetReset is ResetNone", ErrOffsetOutOfRange, missing)
	}
	listed, err := offsets.List(ctx, c.topic.client.cluster, c.topic.name, missing, at)
	if err != nil {
		return nil, err
	}
	maps.Copy(start, listed)
	return start, nil
}

// resolve turns OffsetEarliest and OffsetLatest into real offsets.
func (c *consumerCore) resolve(ctx context.Context, target map[int32]int64) (map[int32]int64, error) {
	out := make(map[int32]int64, len(target))
	bySpecial := map[int64][]int32{}
	for p, off := range target {
		switch {
		case off == OffsetEarliest || off == OffsetLatest:
			bySpecial[off] = append(bySpecial[off], p)
		case off < 0:
			return nil, fmt.Errorf("%w: offset %d for partition %d", ErrOffsetOutOfRange, off, p)
		default:
			out[p] = off
		}
	}
	for at, ps := range bySpecial {
		listed, err := offsets.List(ctx, c.topic.client.cluster, c.topic.name, ps, at)
		if err != nil {
			return nil, err
		}
		maps.Copy(out, listed)
	}
	return out, nil
}

// seek moves partitions (assigning those not yet assigned) to the given
// next offsets. Held offsets become offset-1, so a commit right after a
// seek stores the seek position.
func (c *consumerCore) seek(ctx context.Context, positions map[int32]int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	list := make([]engine.PartitionOffset, 0, len(positions))
	for p, off := range positions {
		ps := c.parts[p]
		if ps == nil {
			ps = &partState{id: p}
			c.parts[p] = ps
		}
		c.epoch++
		ps.epoch = c.epoch
		ps.consumed = off - 1
		if c.readyPart == ps {
			c.ready, c.readyPart = nil, nil
		}
		list = append(list, engine.PartitionOffset{Partition: p, Offset: off, Epoch: ps.epoch})
	}
	slices.SortFunc(list, func(a, b engine.PartitionOffset) int { return int(a.Partition - b.Partition) })
	// Assign under c.mu: with the epochs bumped above, a Fetch that Poll
	// returned before this point is recognised as stale when installed.
	return c.fetcher.Assign(ctx, list)
}

// release stops reading partitions (a rebalance takes them) and returns
// their commit positions, taken in the same critical section so that no
// message is handed out after the position returned. With keep, the
// positions stay visible to commits until forget.
func (c *consumerCore) release(ctx context.Context, partitions []int32, keep bool) (map[int32]offsets.Commit, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pos := make(map[int32]offsets.Commit, len(partitions))
	for _, p := range partitions {
		ps := c.parts[p]
		if ps == nil {
			continue
		}
		if ps.consumed >= 0 {
			pos[p] = offsets.At(ps.consumed + 1)
			if keep {
				if c.revoking == nil {
					c.revoking = map[int32]offsets.Commit{}
				}
				c.revoking[p] = pos[p]
			}
		}
		if c.readyPart == ps {
			c.ready, c.readyPart = nil, nil
		}
		delete(c.parts, p)
	}
	if c.closed {
		return pos, nil
	}
	return pos, c.fetcher.Unassign(ctx, partitions)
}

// forget drops the positions release kept.
func (c *consumerCore) forget(partitions []int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range partitions {
		delete(c.revoking, p)
	}
}

// assignedPartitions lists the partitions assigned, sorted.
func (c *consumerCore) assignedPartitions() []int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(maps.Keys(c.parts))
}

// consume returns the next message. A ConsumerTimeout without messages is
// ErrConsumerTimeout.
func (c *consumerCore) consume(ctx context.Context) (*Message, error) {
	c.consumeMu.Lock()
	defer c.consumeMu.Unlock()
	var deadline time.Time
	if c.cfg.ConsumerTimeout > 0 {
		deadline = time.Now().Add(c.cfg.ConsumerTimeout)
	}
	for {
		if m, err := c.next(); m != nil || err != nil {
			return m, err
		}
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if !deadline.IsZero() {
			pollCtx, cancel = context.WithDeadline(ctx, deadline)
		}
		f, err := c.fetcher.Poll(pollCtx)
		cancel()
		if err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) && !deadline.IsZero() {
				return nil, ErrConsumerTimeout
			}
			if errors.Is(err, kerr.ErrClosed) {
				if _, ferr := c.next(); ferr != nil {
					return nil, ferr // failure, or closed
				}
				return nil, ErrClosed
			}
			return nil, err
		}
		if err := c.install(ctx, f); err != nil {
			return nil, err
		}
	}
}

// next hands out the next ready message, if any.
func (c *consumerCore) next() (*Message, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failure != nil {
		return nil, c.failure
	}
	if c.closed {
		return nil, ErrClosed
	}
	for len(c.ready) > 0 {
		m := c.ready[0]
		c.ready[0] = nil
		c.ready = c.ready[1:]
		if c.readyPart.epoch != c.readyEpoch || m.Offset <= c.readyPart.consumed {
			continue
		}
		c.readyPart.consumed = m.Offset
		return m, nil
	}
	c.ready, c.readyPart = nil, nil
	return nil, nil
}

// install makes a Fetch's messages ready, or handles its error.
func (c *consumerCore) install(ctx context.Context, f engine.Fetch) error {
	c.mu.Lock()
	ps := c.parts[f.Partition]
	if ps == nil || ps.epoch != f.Epoch {
		c.mu.Unlock()
		return nil // revoked or moved since: stale
	}
	if f.Err == nil {
		c.ready, c.readyPart, c.readyEpoch = f.Messages, ps, f.Epoch
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	if !errors.Is(f.Err, kerr.OffsetOutOfRange) {
		return fmt.Errorf("partition %d: %w", f.Partition, f.Err)
	}
	if c.cfg.AutoOffsetReset == ResetNone {
		return fmt.Errorf("%w: partition %d at offset %d: %w", ErrOffsetOutOfRange, f.Partition, ps.consumed+1, f.Err)
	}
	start, err := c.startOffsets(ctx, []int32{f.Partition}, true)
	if err != nil {
		return err
	}
	c.topic.client.cfg.logger.Warn("kafka: offset out of range, reset", "topic", c.topic.name,
		"partition", f.Partition, "to", start[f.Partition])
	c.mu.Lock()
	stale := c.parts[f.Partition] != ps || ps.epoch != f.Epoch
	c.mu.Unlock()
	if stale {
		return nil
	}
	return c.seek(ctx, start)
}

// held returns the last consumed offset of each assigned partition (-1 when
// nothing was consumed and no position was set).
func (c *consumerCore) held() map[int32]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[int32]int64, len(c.parts))
	for p, ps := range c.parts {
		out[p] = ps.consumed
	}
	return out
}

// positions are the offsets to commit: last consumed + 1.
func (c *consumerCore) positions() map[int32]offsets.Commit {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[int32]offsets.Commit, len(c.parts)+len(c.revoking))
	for p, cm := range c.revoking {
		out[p] = cm
	}
	for p, ps := range c.parts {
		if ps.consumed >= 0 {
			out[p] = offsets.At(ps.consumed + 1)
		}
	}
	return out
}

func (c *consumerCore) commit(ctx context.Context, only []int32) error {
	if c.group == nil {
		return ErrNoGroup
	}
	pos := c.positions()
	if only != nil {
		keep := make(map[int32]offsets.Commit, len(only))
		for _, p := range only {
			if cm, ok := pos[p]; ok {
				keep[p] = cm
			}
		}
		pos = keep
	}
	if len(pos) == 0 {
		return nil
	}
	return c.group.Commit(ctx, c.topic.name, pos, c.gen())
}

func (c *consumerCore) fetchCommitted(ctx context.Context) (map[int32]int64, error) {
	if c.group == nil {
		return nil, ErrNoGroup
	}
	committed, err := c.group.Fetch(ctx, c.topic.name, c.assignedPartitions())
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64, len(committed))
	for p, cm := range committed {
		out[p] = cm.Offset
	}
	return out, nil
}

func (c *consumerCore) startAutoCommit() {
	if !c.cfg.AutoCommit || c.group == nil {
		return
	}
	log := c.topic.client.cfg.logger
	c.auto = offsets.StartAutoCommit(c.group, c.topic.name, c.cfg.AutoCommitInterval, c.positions, c.gen,
		func(err error) { log.Warn("kafka: auto-commit failed", "group", c.cfg.ConsumerGroup, "err", err) })
}

// fail stops a consumer that cannot go on (its group membership ended for
// good): Consume returns err from now on, and the fetcher stops.
func (c *consumerCore) fail(err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.failure = err
	c.ready, c.readyPart = nil, nil
	c.mu.Unlock()
	c.fetcher.Close() // wakes a Consume blocked in Poll
}

// close stops auto-commit (which commits one last time) and the fetcher.
func (c *consumerCore) close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.ready, c.readyPart = nil, nil
	c.mu.Unlock()
	var errs []error
	if c.auto != nil {
		errs = append(errs, c.auto.Stop(ctx))
	}
	errs = append(errs, c.fetcher.Close())
	return errors.Join(errs...)
}
