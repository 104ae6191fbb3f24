package kafka

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"
	"time"

	"github.com/gokafka/kafka/offsets"
)

// SimpleConsumer reads a fixed set of partitions of one topic: all of them,
// or those in ConsumerConfig.Partitions. It is "simple" as in PyKafka: it
// does not coordinate with other consumers (see BalancedConsumer for that),
// but with a ConsumerGroup it stores its offsets in Kafka and resumes from
// them.
//
// The consumer prefetches in the background (bounded by QueuedMaxMessages
// per partition). Consume and Messages hand out messages in offset order per
// partition. The offset it commits for a partition is the last one consumed
// plus one — the next to read — as every Kafka client does, so consumption
// is at-least-once: a message consumed and not yet committed when the
// process dies is read again.
//
// A SimpleConsumer is safe for concurrent use; Consume calls are served one
// at a time.
type SimpleConsumer struct {
	core      *consumerCore
	closeOnce sync.Once
	closeErr  error
}

// NewSimpleConsumer creates a consumer of the topic and positions it: at the
// group's committed offsets when there are some (and ResetOffsetOnStart is
// not set), else as AutoOffsetReset says. ctx bounds that start-up.
//
// It starts the engine's fetch goroutines (one per broker that leads an
// assigned partition) and, with AutoCommit, a committing goroutine; Close
// stops them.
func (t *Topic) NewSimpleConsumer(ctx context.Context, cfg ConsumerConfig) (*SimpleConsumer, error) {
	r, err := cfg.resolve(t.name, t.client, "ConsumerConfig")
	if err != nil {
		return nil, err
	}
	all, err := t.partitionIDs()
	if err != nil {
		return nil, err
	}
	parts := all
	if cfg.Partitions != nil {
		parts = slices.Clone(cfg.Partitions)
		slices.Sort(parts)
		parts = slices.Compact(parts)
		for _, p := range parts {
			if p < 0 || int(p) >= len(all) {
				return nil, &ConfigError{Field: "ConsumerConfig.Partitions", Reason: fmt.Sprintf("topic %q has no partition %d (it has %d)", t.name, p, len(all))}
			}
		}
		if len(parts) == 0 {
			return nil, &ConfigError{Field: "ConsumerConfig.Partitions", Reason: "empty list; use nil for all partitions"}
		}
	}
	if err := t.client.checkOpen(); err != nil {
		return nil, err
	}
	core, err := newConsumerCore(ctx, t, r)
	if err != nil {
		return nil, err
	}
	c := &SimpleConsumer{core: core}
	start, err := core.startOffsets(ctx, parts, cfg.ResetOffsetOnStart)
	if err == nil {
		err = core.seek(ctx, start)
	}
	if err == nil {
		err = t.client.adopt(c)
	}
	if err != nil {
		core.close(ctx)
		return nil, err
	}
	core.startAutoCommit()
	return c, nil
}

// Topic is the topic the consumer reads.
func (c *SimpleConsumer) Topic() *Topic { return c.core.topic }

// Partitions lists the partition ids the consumer reads, sorted.
func (c *SimpleConsumer) Partitions() []int32 { return c.core.assignedPartitions() }

// Consume returns the next message. It blocks until one is available, ctx
// ends, or ConsumerTimeout passes without a message (ErrConsumerTimeout).
func (c *SimpleConsumer) Consume(ctx context.Context) (*Message, error) {
	return c.core.consume(ctx)
}

// Messages iterates over messages until ConsumerTimeout passes without one,
// ctx ends, or the consumer closes; those end the loop quietly. Any other
// error is yielded once, and ends the loop:
//
//	for msg, err := range consumer.Messages(ctx) {
//		if err != nil {
//			return err
//		}
//		handle(msg)
//	}
func (c *SimpleConsumer) Messages(ctx context.Context) iter.Seq2[*Message, error] {
	return messages(ctx, c.core.consume)
}

func messages(ctx context.Context, consume func(context.Context) (*Message, error)) iter.Seq2[*Message, error] {
	return func(yield func(*Message, error) bool) {
		for {
			m, err := consume(ctx)
			if err != nil {
				if errors.Is(err, ErrConsumerTimeout) || errors.Is(err, ErrClosed) || ctx.Err() != nil {
					return
				}
				yield(nil, err)
				return
			}
			if !yield(m, nil) {
				return
			}
		}
	}
}

// CommitOffsets stores, for every partition consumed from, the offset after
// the last message consumed, under the ConsumerGroup. It fails with
// ErrNoGroup without a group.
func (c *SimpleConsumer) CommitOffsets(ctx context.Context) error {
	return c.core.commit(ctx, nil)
}

// FetchOffsets returns the offsets committed for the group (each the next
// offset to read), per partition that has one.
func (c *SimpleConsumer) FetchOffsets(ctx context.Context) (map[int32]int64, error) {
	return c.core.fetchCommitted(ctx)
}

// HeldOffsets returns, per partition, the offset of the last message
// consumed; after a reset to offset N it is N-1. It is what CommitOffsets
// would store, minus one.
func (c *SimpleConsumer) HeldOffsets() map[int32]int64 { return c.core.held() }

// ResetOffsets moves the consumer: each partition in target to the given
// offset, which may be OffsetEarliest, OffsetLatest, or an offset. With a
// nil target every partition moves as AutoOffsetReset says. Messages
// prefetched from before the reset are dropped. The new positions are not
// committed until CommitOffsets (or the next auto-commit).
func (c *SimpleConsumer) ResetOffsets(ctx context.Context, target map[int32]int64) error {
	if target == nil {
		var at int64
		switch c.core.cfg.AutoOffsetReset {
		case ResetEarliest:
			at = OffsetEarliest
		case ResetLatest:
			at = OffsetLatest
		default:
			return fmt.Errorf("%w: ResetOffsets(nil) with AutoOffsetReset ResetNone: give the offsets", ErrOffsetOutOfRange)
		}
		target = map[int32]int64{}
		for _, p := range c.Partitions() {
			target[p] = at
		}
	}
	assigned := c.Partitions()
	for p := range target {
		if !slices.Contains(assigned, p) {
			return fmt.Errorf("%w: the consumer does not read partition %d", ErrUnknownPartition, p)
		}
	}
	resolved, err := c.core.resolve(ctx, target)
	if err != nil {
		return err
	}
	return c.core.seek(ctx, resolved)
}

// ResetOffsetsToTime moves every partition to the first message with a
// timestamp at or after t (or to the end of partitions without one).
func (c *SimpleConsumer) ResetOffsetsToTime(ctx context.Context, t time.Time) error {
	at, err := offsets.List(ctx, c.core.topic.client.cluster, c.core.topic.name, c.Partitions(), t.UnixMilli())
	if err != nil {
		return err
	}
	return c.core.seek(ctx, at)
}

// Close stops the consumer: with AutoCommit it commits the offsets consumed
// (within ctx), then stops fetching. Idempotent.
func (c *SimpleConsumer) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		c.closeErr = c.core.close(ctx)
		c.core.topic.client.release(c)
	})
	return c.closeErr
}
