package kafka

import (
	"context"
	"fmt"
	"maps"

	"github.com/gokafka/kafka/offsets"
)

// This file is the consumers' offset logic, written once for the simple and
// the balanced consumers and for both engines: where partitions start, what
// a commit stores, and marks.

// startOffsets decides where to start reading partitions: the committed
// offset when there is one (unless ignoreCommitted), else AutoOffsetReset.
func (c *consumerCore) startOffsets(ctx context.Context, tps []TopicPartition, ignoreCommitted bool) (map[TopicPartition]int64, error) {
	start := make(map[TopicPartition]int64, len(tps))
	var missing []TopicPartition
	if c.group != nil && !ignoreCommitted {
		committed, err := c.group.Fetch(ctx, tps)
		if err != nil {
			return nil, fmt.Errorf("fetch committed offsets of group %q: %w", c.cfg.group, err)
		}
		for _, tp := range tps {
			if cm, ok := committed[tp]; ok && cm.Offset >= 0 {
				start[tp] = cm.Offset
			} else {
				missing = append(missing, tp)
			}
		}
	} else {
		missing = tps
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
		return nil, fmt.Errorf("%w: no committed offset for %v and AutoOffsetReset is ResetNone", ErrOffsetOutOfRange, missing)
	}
	listed, err := offsets.List(ctx, c.client.cluster, missing, at)
	if err != nil {
		return nil, err
	}
	maps.Copy(start, listed)
	return start, nil
}

// resolve turns OffsetEarliest and OffsetLatest into real offsets.
func (c *consumerCore) resolve(ctx context.Context, target map[TopicPartition]int64) (map[TopicPartition]int64, error) {
	out := make(map[TopicPartition]int64, len(target))
	bySpecial := map[int64][]TopicPartition{}
	for tp, off := range target {
		switch {
		case off == OffsetEarliest || off == OffsetLatest:
			bySpecial[off] = append(bySpecial[off], tp)
		case off < 0:
			return nil, fmt.Errorf("%w: offset %d for %s", ErrOffsetOutOfRange, off, tp)
		default:
			out[tp] = off
		}
	}
	for at, tps := range bySpecial {
		listed, err := offsets.List(ctx, c.client.cluster, tps, at)
		if err != nil {
			return nil, err
		}
		maps.Copy(out, listed)
	}
	return out, nil
}

// commitPosition is what a commit of the partition stores: its position,
// or with CommitMarked the oldest message handed out and not marked. false:
// nothing to commit (no position yet).
func (ps *partState) commitPosition() (offsets.Commit, bool) {
	pos := ps.pos
	if ps.marks != nil {
		if off, ok := ps.marks.oldest(); ok {
			pos = off
		}
	}
	if pos < 0 {
		return offsets.Commit{}, false
	}
	return offsets.At(pos), true
}

// commitPositions are the offsets a commit stores now, revoking partitions
// included.
func (c *consumerCore) commitPositions() map[TopicPartition]offsets.Commit {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[TopicPartition]offsets.Commit, len(c.parts)+len(c.revoking))
	maps.Copy(out, c.revoking)
	for tp, ps := range c.parts {
		if cm, ok := ps.commitPosition(); ok {
			out[tp] = cm
		}
	}
	return out
}

// commit commits the positions of the partitions in only (nil: all).
func (c *consumerCore) commit(ctx context.Context, only []TopicPartition) error {
	if c.group == nil {
		return ErrNoGroup
	}
	pos := c.commitPositions()
	if only != nil {
		keep := make(map[TopicPartition]offsets.Commit, len(only))
		for _, tp := range only {
			if cm, ok := pos[tp]; ok {
				keep[tp] = cm
			}
		}
		pos = keep
	}
	if len(pos) == 0 {
		return nil
	}
	return c.group.Commit(ctx, pos, c.gen())
}

// mark records messages as processed (CommitMarked). A message of a
// partition the consumer does not read any more is refused with notOwned.
func (c *consumerCore) mark(msgs []*Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var lost []TopicPartition
	for _, m := range msgs {
		if m == nil {
			return ErrNilMessage
		}
		tp := TopicPartition{Topic: m.Topic, Partition: m.Partition}
		ps := c.parts[tp]
		if ps == nil {
			lost = append(lost, tp)
			continue
		}
		if ps.marks != nil {
			ps.marks.mark(m.Offset)
		}
	}
	if len(lost) > 0 {
		return fmt.Errorf("%w: %v", c.notOwned, lost)
	}
	return nil
}

// commitMessages commits the messages' partitions: with CommitMarked, the
// marked positions after marking them; otherwise each partition's highest
// message offset + 1, as given.
func (c *consumerCore) commitMessages(ctx context.Context, msgs []*Message) error {
	if c.group == nil {
		return ErrNoGroup
	}
	if len(msgs) == 0 {
		return nil
	}
	if c.cfg.CommitMarked {
		markErr := c.mark(msgs)
		var tps []TopicPartition
		seen := map[TopicPartition]bool{}
		for _, m := range msgs {
			tp := TopicPartition{Topic: m.Topic, Partition: m.Partition}
			if !seen[tp] {
				seen[tp] = true
				tps = append(tps, tp)
			}
		}
		if err := c.commit(ctx, tps); err != nil {
			return err
		}
		return markErr
	}
	pos := map[TopicPartition]offsets.Commit{}
	for _, m := range msgs {
		if m == nil {
			return ErrNilMessage
		}
		tp := TopicPartition{Topic: m.Topic, Partition: m.Partition}
		if cm, ok := pos[tp]; !ok || m.Offset+1 > cm.Offset {
			pos[tp] = offsets.At(m.Offset + 1)
		}
	}
	return c.group.Commit(ctx, pos, c.gen())
}

// fetchCommitted returns the group's committed offsets of the assigned
// partitions.
func (c *consumerCore) fetchCommitted(ctx context.Context) (map[TopicPartition]int64, error) {
	if c.group == nil {
		return nil, ErrNoGroup
	}
	committed, err := c.group.Fetch(ctx, c.assigned())
	out := make(map[TopicPartition]int64, len(committed))
	for tp, cm := range committed {
		out[tp] = cm.Offset
	}
	return out, err
}

func (c *consumerCore) startAutoCommit() {
	if !c.cfg.AutoCommit || c.group == nil {
		return
	}
	log := c.client.cfg.logger
	c.auto = offsets.StartAutoCommit(c.group, c.cfg.AutoCommitInterval, c.commitPositions, c.gen,
		func(err error) { log.Warn("kafka: auto-commit failed", "group", c.cfg.group, "err", err) })
}
