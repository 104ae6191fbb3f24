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

// SimpleConsumer reads a fixed set of partitions, of one topic
// (Topic.NewSimpleConsumer) or of several (Client.NewSimpleConsumer). It is
// "simple" as in PyKafka: it does not coordinate with other consumers (see
// BalancedConsumer for that), but with a ConsumerGroup it stores its offsets
// in Kafka and resumes from them.
//
// The consumer prefetches in the background (bounded by QueuedMaxMessages
// per partition and, with the pure engine, QueuedMaxBytes across them).
// Consume and Messages hand out messages in offset order per partition.
// The offset it commits for a partition is its position — the last message
// handed out plus one, the next to read — as every Kafka client does (or,
// with CommitMarked, the oldest message not yet marked processed), so
// consumption is at-least-once: a message consumed and not yet committed
// when the process dies is read again.
//
// A SimpleConsumer is safe for concurrent use; Consume calls are served one
// at a time.
type SimpleConsumer struct {
	core      *consumerCore
	topic     string // for Topic(); "" for a client's consumer
	closeOnce sync.Once
	closeErr  error
}

// NewSimpleConsumer creates a consumer of the partitions cfg.Topics lists
// (a nil list: every partition of the topic) and positions it: at the
// group's committed offsets when there are some (and ResetOffsetOnStart is
// not set), else as AutoOffsetReset says. ctx bounds that start-up.
//
// It starts the engine's fetch goroutines (one per broker that leads an
// assigned partition) and, with AutoCommit, a committing goroutine; Close
// stops them.
func (c *Client) NewSimpleConsumer(ctx context.Context, cfg ConsumerConfig) (*SimpleConsumer, error) {
	if cfg.Partitions != nil {
		return nil, &ConfigError{Field: "ConsumerConfig.Partitions", Reason: "is for a Topic's consumer; a client's consumer reads ConsumerConfig.Topics"}
	}
	if len(cfg.Topics) == 0 {
		return nil, &ConfigError{Field: "ConsumerConfig.Topics", Reason: "required: the topics (and partitions) to read"}
	}
	var tps []TopicPartition
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range cfg.Topics {
			if !yield(k) {
				return
			}
		}
	}) {
		got, err := c.partitionsOf(ctx, name, cfg.Topics[name], "ConsumerConfig.Topics")
		if err != nil {
			return nil, err
		}
		tps = append(tps, got...)
	}
	return c.newSimpleConsumer(ctx, cfg, tps, "")
}

// NewSimpleConsumer creates a consumer of the topic's partitions
// (cfg.Partitions, or all of them); otherwise it is Client.NewSimpleConsumer.
func (t *Topic) NewSimpleConsumer(ctx context.Context, cfg ConsumerConfig) (*SimpleConsumer, error) {
	if cfg.Topics != nil {
		return nil, &ConfigError{Field: "ConsumerConfig.Topics", Reason: "is for a client's consumer; a Topic's consumer reads ConsumerConfig.Partitions of its topic"}
	}
	if cfg.Partitions != nil && len(cfg.Partitions) == 0 {
		return nil, &ConfigError{Field: "ConsumerConfig.Partitions", Reason: "empty list; use nil for all partitions"}
	}
	tps, err := t.client.partitionsOf(ctx, t.name, cfg.Partitions, "ConsumerConfig.Partitions")
	if err != nil {
		return nil, err
	}
	return t.client.newSimpleConsumer(ctx, cfg, tps, t.name)
}

// partitionsOf returns the listed partitions of a topic (all of them for
// nil), sorted and deduplicated, after checking that the topic has them.
func (c *Client) partitionsOf(ctx context.Context, topic string, ids []int32, field string) ([]TopicPartition, error) {
	meta, err := c.loadTopic(ctx, topic)
	if err != nil {
		return nil, err
	}
	n := int32(len(meta.Partitions))
	if ids == nil {
		ids = make([]int32, n)
		for i := range ids {
			ids[i] = int32(i)
		}
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	out := make([]TopicPartition, 0, len(ids))
	for _, p := range ids {
		if p < 0 || p >= n {
			return nil, &ConfigError{Field: field, Reason: fmt.Sprintf("topic %q has no partition %d (it has %d)", topic, p, n)}
		}
		out = append(out, TopicPartition{Topic: topic, Partition: p})
	}
	return out, nil
}

func (c *Client) newSimpleConsumer(ctx context.Context, cfg ConsumerConfig, tps []TopicPartition, topic string) (*SimpleConsumer, error) {
	r, err := cfg.ConsumerOptions.resolve(c, cfg.ConsumerGroup, "ConsumerConfig")
	if err != nil {
		return nil, err
	}
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	core, err := newConsumerCore(ctx, c, r, ErrUnknownPartition)
	if err != nil {
		return nil, err
	}
	sc := &SimpleConsumer{core: core, topic: topic}
	start, err := core.startOffsets(ctx, tps, cfg.ResetOffsetOnStart)
	if err == nil {
		err = core.seek(ctx, start, true)
	}
	if err == nil {
		err = c.adopt(sc)
	}
	if err != nil {
		core.close(ctx)
		return nil, err
	}
	core.startAutoCommit()
	return sc, nil
}

// Topic is the topic of a consumer made by Topic.NewSimpleConsumer, or nil
// for one made by Client.NewSimpleConsumer.
func (c *SimpleConsumer) Topic() *Topic {
	if c.topic == "" {
		return nil
	}
	return &Topic{client: c.core.client, name: c.topic}
}

// Partitions lists the partitions the consumer reads, sorted by topic, then
// partition.
func (c *SimpleConsumer) Partitions() []TopicPartition { return c.core.assigned() }

// Consume returns the next message. It blocks until one is available, ctx
// ends, or ConsumerTimeout passes without a message (ErrConsumerTimeout).
func (c *SimpleConsumer) Consume(ctx context.Context) (*Message, error) {
	return c.core.consume(ctx)
}

// Messages iterates over messages until ConsumerTimeout passes without one,
// ctx ends, or the consumer closes; those end the loop quietly, and Err
// then tells which it was. Any other error is yielded once, and ends the
// loop:
//
//	for msg, err := range consumer.Messages(ctx) {
//		if err != nil {
//			return err
//		}
//		handle(msg)
//	}
//	if errors.Is(consumer.Err(), kafka.ErrConsumerTimeout) { ... } // idle
func (c *SimpleConsumer) Messages(ctx context.Context) iter.Seq2[*Message, error] {
	return messages(ctx, c.core)
}

// Err says why the last Messages loop (or Consume call) ended:
// ErrConsumerTimeout, ErrClosed, the context's error, or the error Messages
// yielded. It is nil until one ended.
func (c *SimpleConsumer) Err() error { return c.core.err() }

// consumeEnder is what messages iterates over: a consumer core, or a
// share consumer.
type consumeEnder interface {
	consume(ctx context.Context) (*Message, error)
	endedWith(err error)
}

func messages(ctx context.Context, core consumeEnder) iter.Seq2[*Message, error] {
	return func(yield func(*Message, error) bool) {
		for {
			m, err := core.consume(ctx)
			if err != nil {
				if errors.Is(err, ErrConsumerTimeout) || errors.Is(err, ErrClosed) || ctx.Err() != nil {
					return
				}
				yield(nil, err)
				return
			}
			if !yield(m, nil) {
				core.endedWith(nil) // the caller broke out
				return
			}
		}
	}
}

// CommitOffsets stores, for every partition read, its position (the offset
// after the last message consumed; with CommitMarked, the oldest message not
// marked processed), under the ConsumerGroup. It fails with ErrNoGroup
// without a group.
func (c *SimpleConsumer) CommitOffsets(ctx context.Context) error {
	return c.core.commit(ctx, nil)
}

// Mark records that messages were processed (see CommitMarked; without it,
// Mark has no effect on what is committed). A message of a partition the
// consumer does not read fails with ErrUnknownPartition.
func (c *SimpleConsumer) Mark(msgs ...*Message) error { return c.core.mark(msgs) }

// CommitMessages commits now for the messages' partitions: with
// CommitMarked, it marks them and commits the marked positions; otherwise
// it commits each partition's highest given offset + 1.
func (c *SimpleConsumer) CommitMessages(ctx context.Context, msgs ...*Message) error {
	return c.core.commitMessages(ctx, msgs)
}

// FetchOffsets returns the offsets committed for the group (each the next
// offset to read), per partition read that has one.
func (c *SimpleConsumer) FetchOffsets(ctx context.Context) (map[TopicPartition]int64, error) {
	return c.core.fetchCommitted(ctx)
}

// HeldOffsets returns, per partition, the consumer's position: the next
// offset it will read (the last message consumed + 1, or where a reset put
// it), the unit of FetchOffsets and of what CommitOffsets stores.
func (c *SimpleConsumer) HeldOffsets() map[TopicPartition]int64 { return c.core.positions() }

// HighWatermarks returns, per partition, its high watermark (the offset the
// next message produced will get) as the last fetch reported it.
func (c *SimpleConsumer) HighWatermarks() map[TopicPartition]int64 { return c.core.highWatermarks() }

// Lag returns, per partition with a known high watermark, how many messages
// are left to read: HighWatermarks minus HeldOffsets.
func (c *SimpleConsumer) Lag() map[TopicPartition]int64 { return c.core.lag() }

// Pause stops fetching the partitions and handing out their messages;
// Resume continues from the same position. Messages prefetched for them
// are dropped (and fetched again on Resume).
func (c *SimpleConsumer) Pause(ctx context.Context, tps ...TopicPartition) error {
	return c.core.pause(ctx, tps, true)
}

// Resume undoes Pause.
func (c *SimpleConsumer) Resume(ctx context.Context, tps ...TopicPartition) error {
	return c.core.pause(ctx, tps, false)
}

// Paused lists the paused partitions.
func (c *SimpleConsumer) Paused() []TopicPartition { return c.core.pausedPartitions() }

// ResetOffsets moves the consumer: each partition in target to the given
// offset, which may be OffsetEarliest, OffsetLatest, or an offset. With a
// nil target every partition moves as AutoOffsetReset says. Messages
// prefetched from before the reset are dropped. The new positions are not
// committed until CommitOffsets (or the next auto-commit).
func (c *SimpleConsumer) ResetOffsets(ctx context.Context, target map[TopicPartition]int64) error {
	return c.core.reset(ctx, target)
}

// ResetOffsetsToTime moves every partition to the first message with a
// timestamp at or after t (or to the end of partitions without one).
func (c *SimpleConsumer) ResetOffsetsToTime(ctx context.Context, t time.Time) error {
	return c.core.resetToTime(ctx, t)
}

// Close stops the consumer: with AutoCommit it commits its positions (within
// ctx), then stops fetching. Idempotent.
func (c *SimpleConsumer) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		c.closeErr = c.core.close(ctx)
		c.core.client.release(c)
	})
	return c.closeErr
}

// reset is ResetOffsets for both kinds of consumer.
func (c *consumerCore) reset(ctx context.Context, target map[TopicPartition]int64) error {
	assigned := c.assigned()
	if target == nil {
		var at int64
		switch c.cfg.AutoOffsetReset {
		case ResetEarliest:
			at = OffsetEarliest
		case ResetLatest:
			at = OffsetLatest
		default:
			return fmt.Errorf("%w: ResetOffsets(nil) with AutoOffsetReset ResetNone: give the offsets", ErrOffsetOutOfRange)
		}
		target = make(map[TopicPartition]int64, len(assigned))
		for _, tp := range assigned {
			target[tp] = at
		}
	}
	for tp := range target {
		if !slices.Contains(assigned, tp) {
			return fmt.Errorf("%w: the consumer does not read %s", c.notOwned, tp)
		}
	}
	resolved, err := c.resolve(ctx, target)
	if err != nil {
		return err
	}
	return c.seek(ctx, resolved, false)
}

func (c *consumerCore) resetToTime(ctx context.Context, t time.Time) error {
	at, err := offsets.List(ctx, c.client.cluster, c.assigned(), t.UnixMilli())
	if err != nil {
		return err
	}
	return c.seek(ctx, at, false)
}
