package kafka

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/balance/consumer"
	"github.com/gokafka/kafka/balance/managed"
	"github.com/gokafka/kafka/balance/zookeeper"
	"github.com/gokafka/kafka/offsets"
)

// BalancedConsumer is a member of a consumer group: the members of a group
// share the partitions of the topics they read, each partition read by
// exactly one member, and hand partitions over when members join or leave —
// PyKafka's balanced consumer. The group is coordinated by ZooKeeper (the
// layout of Kafka's old high-level consumer) or by Kafka itself: with the
// classic protocol of the Java client and librdkafka, which can share the
// group, or with Kafka 4's consumer protocol (GroupProtocolConsumer,
// KIP-848), where the broker assigns and a member joining or leaving stops
// no other partition's consumption (Java consumers with
// group.protocol=consumer can share the group). Members may read different
// topics: each topic's partitions are shared by the members that read it.
//
// It reads like a SimpleConsumer (Consume, Messages) over whatever
// partitions it owns at the moment. Before a partition leaves it, the
// consumer commits it if AutoCommit is on and calls OnRevoke; when partitions
// arrive it starts them from the committed offsets (or AutoOffsetReset) and
// calls OnAssign first; partitions taken without a chance to commit go to
// OnLost. Consumption is at-least-once: a message handed out but not
// committed before a rebalance is read again by the next owner.
//
// A member rides out what the cluster says will pass: coordinator moves,
// a coordinator or leader election, lost connections, a rebalance, its own
// session expiring (its partitions are then lost, it rejoins and gets new
// ones), ZooKeeper restarts. It stops for good, and Consume then returns
// the reason (Err too), only on what no retry can fix: another member
// fenced its static InstanceID, the group's protocol or its authorization
// refuses it, the client closed.
//
// A BalancedConsumer is safe for concurrent use. Close it to leave the group
// promptly (a member that vanishes is only replaced after SessionTimeout).
type BalancedConsumer struct {
	core   *consumerCore
	cfg    BalancedConsumerConfig
	topic  string // a Topic's consumer; "" for a client's
	member atomic.Pointer[memberBox]
	// joined is closed once member is set. Revocations wait for it: the
	// membership goroutine may revoke the moment Join returns, and the
	// commit inside needs the member's generation.
	joined chan struct{}
	first  atomic.Bool // the first assignment has been applied

	watchDone chan struct{} // closed when the goroutine watching the member ends
	closeOnce sync.Once
	closeErr  error
}

// memberBox lets an interface live in an atomic.Pointer.
type memberBox struct{ balance.Member }

// NewBalancedConsumer joins the group as a reader of cfg.Topics and of the
// topics matching cfg.Pattern, and returns once this member owns its first
// share of the partitions (possibly none, if the group has more members
// than partitions), positioned and fetching. ctx bounds the join.
//
// It starts the membership goroutines (session, heartbeats, watches), the
// engine's fetch goroutines and, with AutoCommit, a committing goroutine;
// Close stops them all.
func (c *Client) NewBalancedConsumer(ctx context.Context, cfg BalancedConsumerConfig) (*BalancedConsumer, error) {
	return c.newBalancedConsumer(ctx, cfg, "")
}

// NewBalancedConsumer joins the group as a reader of this topic; otherwise
// it is Client.NewBalancedConsumer (cfg.Topics and cfg.Pattern must be
// empty).
func (t *Topic) NewBalancedConsumer(ctx context.Context, cfg BalancedConsumerConfig) (*BalancedConsumer, error) {
	if len(cfg.Topics) > 0 || cfg.Pattern != "" {
		return nil, &ConfigError{Field: "BalancedConsumerConfig.Topics", Reason: "a Topic's consumer reads its topic; use Client.NewBalancedConsumer for others"}
	}
	cfg.Topics = []string{t.name}
	return t.client.newBalancedConsumer(ctx, cfg, t.name)
}

func (c *Client) newBalancedConsumer(ctx context.Context, cfg BalancedConsumerConfig, topic string) (*BalancedConsumer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	sub, err := cfg.subscription()
	if err != nil {
		return nil, err
	}
	r, err := cfg.ConsumerOptions.resolve(c, cfg.Group, "BalancedConsumerConfig")
	if err != nil {
		return nil, err
	}
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	core, err := newConsumerCore(ctx, c, r, ErrRebalanced)
	if err != nil {
		return nil, err
	}
	bc := &BalancedConsumer{core: core, cfg: cfg, topic: topic, joined: make(chan struct{}), watchDone: make(chan struct{})}
	core.generation = bc.generation
	h := hookedHandler(balancedHandler{bc}, c.cfg.hookSet, cfg.Group)
	joinStart := time.Now()
	var m balance.Member
	log := c.cfg.logger
	switch cfg.protocol() {
	case GroupProtocolConsumer:
		m, err = consumer.Join(ctx, c.cluster, consumer.Config{
			Group:            cfg.Group,
			Subscription:     sub,
			ServerAssignor:   consumer.ServerAssignor(cfg.Strategy), // RangeStrategy, UniformStrategy: the broker's names
			RebalanceTimeout: cfg.RebalanceTimeout,
			InstanceID:       cfg.InstanceID,
			ClientID:         c.cfg.clientID,
			Logger:           log,
		}, h)
	case GroupProtocolClassic:
		m, err = managed.Join(ctx, c.cluster, managed.Config{
			Group:             cfg.Group,
			Subscription:      sub,
			Strategy:          cfg.Strategy,
			SessionTimeout:    cfg.SessionTimeout,
			HeartbeatInterval: cfg.HeartbeatInterval,
			RebalanceTimeout:  cfg.RebalanceTimeout,
			InstanceID:        cfg.InstanceID,
			ClientID:          c.cfg.clientID,
			Logger:            log,
		}, h)
	default:
		var servers []string
		for _, s := range strings.Split(cfg.ZooKeeper, ",") {
			if s = strings.TrimSpace(s); s != "" {
				servers = append(servers, s)
			}
		}
		m, err = zookeeper.Join(ctx, c.cluster, zookeeper.Config{
			Servers:             servers,
			Group:               cfg.Group,
			Subscription:        sub,
			Strategy:            cfg.Strategy,
			SessionTimeout:      cfg.SessionTimeout,
			RebalanceMaxRetries: cfg.RebalanceMaxRetries,
			RebalanceBackoff:    cfg.RebalanceBackoff,
			Logger:              log,
		}, h)
	}
	if hooks := c.cfg.hookSet; hooks != nil {
		hooks.rebalanced(RebalanceEvent{Group: cfg.Group, Kind: RebalanceJoined, Took: time.Since(joinStart), Err: err})
	}
	if err != nil {
		core.close(ctx)
		return nil, err
	}
	bc.member.Store(&memberBox{m})
	close(bc.joined)
	go func() {
		// A member can end for good by itself (fenced by another static
		// member with its instance id): Consume must then fail, not wait.
		defer close(bc.watchDone)
		<-m.Done()
		if err := m.Err(); err != nil {
			core.fail(fmt.Errorf("kafka: group membership ended: %w", err))
		}
	}()
	if err := c.adopt(bc); err != nil {
		bc.Close(ctx)
		return nil, err
	}
	core.startAutoCommit()
	return bc, nil
}

func (c *BalancedConsumer) generation() offsets.Generation {
	if m := c.member.Load(); m != nil {
		return m.Generation()
	}
	return offsets.Generation{}
}

// balancedHandler is the consumer's side of the membership protocol; it is
// a separate type so that these methods are not part of the public API.
type balancedHandler struct{ c *BalancedConsumer }

func (h balancedHandler) Revoked(ctx context.Context, tps []TopicPartition) error {
	c := h.c
	select {
	case <-c.joined: // nothing is owned before Join returns
	case <-ctx.Done():
		return ctx.Err()
	}
	// Take the partitions away from Consume first, so nothing is handed
	// out after the positions committed; they stay committable (by
	// OnRevoke's CommitOffsets) until the revocation ends.
	pos, err := c.core.release(ctx, tps, true)
	defer c.core.forget(tps)
	errs := []error{err}
	if c.cfg.AutoCommit && len(pos) > 0 {
		errs = append(errs, c.core.group.Commit(ctx, pos, c.generation()))
	}
	if c.cfg.OnRevoke != nil {
		errs = append(errs, c.cfg.OnRevoke(ctx, tps))
	}
	return errors.Join(errs...)
}

func (h balancedHandler) Assigned(ctx context.Context, tps []TopicPartition) error {
	c := h.c
	if len(tps) == 0 {
		c.first.Store(true)
		return nil
	}
	ignoreCommitted := c.cfg.ResetOffsetOnStart && !c.first.Load()
	start, err := c.core.startOffsets(ctx, tps, ignoreCommitted)
	if err != nil {
		return err
	}
	if c.cfg.OnAssign != nil {
		override, err := c.cfg.OnAssign(ctx, tps, start)
		if err != nil {
			return err
		}
		if override != nil {
			resolved, err := c.core.resolve(ctx, override)
			if err != nil {
				return err
			}
			for tp, off := range resolved {
				start[tp] = off
			}
		}
	}
	c.first.Store(true)
	return c.core.seek(ctx, start, true)
}

func (h balancedHandler) Lost(ctx context.Context, tps []TopicPartition) error {
	_, err := h.c.core.release(ctx, tps, false)
	if h.c.cfg.OnLost != nil {
		err = errors.Join(err, h.c.cfg.OnLost(ctx, tps))
	}
	return err
}

// Topic is the topic of a consumer made by Topic.NewBalancedConsumer, or
// nil for one made by Client.NewBalancedConsumer.
func (c *BalancedConsumer) Topic() *Topic {
	if c.topic == "" {
		return nil
	}
	return &Topic{client: c.core.client, name: c.topic}
}

// MemberID is this member's id in the group.
func (c *BalancedConsumer) MemberID() string {
	if m := c.member.Load(); m != nil {
		return m.ID()
	}
	return ""
}

// Partitions lists the partitions this member owns now, sorted by topic,
// then partition.
func (c *BalancedConsumer) Partitions() []TopicPartition { return c.core.assigned() }

// Consume returns the next message from the partitions this member owns.
// It blocks until one is available, ctx ends, or ConsumerTimeout passes
// without a message (ErrConsumerTimeout).
func (c *BalancedConsumer) Consume(ctx context.Context) (*Message, error) {
	return c.core.consume(ctx)
}

// Messages iterates as SimpleConsumer.Messages does.
func (c *BalancedConsumer) Messages(ctx context.Context) iter.Seq2[*Message, error] {
	return messages(ctx, c.core)
}

// Err says why the last Messages loop (or Consume call) ended, as
// SimpleConsumer.Err does; after the membership ended for good, the reason.
func (c *BalancedConsumer) Err() error { return c.core.err() }

// CommitOffsets commits, for the partitions this member owns, its positions
// (with CommitMarked, the oldest message not marked processed). In a
// classic Kafka group the commit carries the member's generation: after a
// rebalance took a partition away, its commit is refused
// (ErrIllegalGeneration or ErrUnknownMemberID) rather than overwriting the
// new owner's progress. With GroupProtocolConsumer it carries the member
// epoch, and a fenced member's commit is refused the same way
// (ErrUnknownMemberID, or the broker's STALE_MEMBER_EPOCH).
func (c *BalancedConsumer) CommitOffsets(ctx context.Context) error {
	return c.core.commit(ctx, nil)
}

// Mark records that messages were processed (see CommitMarked). A message
// of a partition this member does not own any more fails with
// ErrRebalanced: its next owner reads it again.
func (c *BalancedConsumer) Mark(msgs ...*Message) error { return c.core.mark(msgs) }

// CommitMessages commits now for the messages' partitions, as
// SimpleConsumer.CommitMessages does, under the member's generation.
func (c *BalancedConsumer) CommitMessages(ctx context.Context, msgs ...*Message) error {
	return c.core.commitMessages(ctx, msgs)
}

// FetchOffsets returns the group's committed offsets of the partitions this
// member owns.
func (c *BalancedConsumer) FetchOffsets(ctx context.Context) (map[TopicPartition]int64, error) {
	return c.core.fetchCommitted(ctx)
}

// HeldOffsets returns the position (next offset to read) of each owned
// partition.
func (c *BalancedConsumer) HeldOffsets() map[TopicPartition]int64 { return c.core.positions() }

// HighWatermarks returns the high watermark of each owned partition, as its
// last fetch reported it.
func (c *BalancedConsumer) HighWatermarks() map[TopicPartition]int64 {
	return c.core.highWatermarks()
}

// Lag returns, per owned partition with a known high watermark, how many
// messages are left to read.
func (c *BalancedConsumer) Lag() map[TopicPartition]int64 { return c.core.lag() }

// Pause stops fetching owned partitions and handing out their messages,
// while the member stays in the group; Resume continues from the same
// position. A partition revoked meanwhile comes back (if it does) unpaused.
func (c *BalancedConsumer) Pause(ctx context.Context, tps ...TopicPartition) error {
	return c.core.pause(ctx, tps, true)
}

// Resume undoes Pause.
func (c *BalancedConsumer) Resume(ctx context.Context, tps ...TopicPartition) error {
	return c.core.pause(ctx, tps, false)
}

// Paused lists the paused partitions.
func (c *BalancedConsumer) Paused() []TopicPartition { return c.core.pausedPartitions() }

// ResetOffsets moves owned partitions to the given offsets (OffsetEarliest,
// OffsetLatest, or an offset), at any time, not only in OnAssign. A
// partition this member does not own fails the call with ErrRebalanced.
// The new positions are committed by the next commit.
func (c *BalancedConsumer) ResetOffsets(ctx context.Context, target map[TopicPartition]int64) error {
	return c.core.reset(ctx, target)
}

// ResetOffsetsToTime moves every owned partition to the first message with
// a timestamp at or after t.
func (c *BalancedConsumer) ResetOffsetsToTime(ctx context.Context, t time.Time) error {
	return c.core.resetToTime(ctx, t)
}

// Close leaves the group: the partitions are revoked (committed first with
// AutoCommit, then OnRevoke), the membership ends (ZooKeeper nodes removed,
// or LeaveGroup; a static member stays until its session times out), and
// every goroutine stops. Idempotent.
func (c *BalancedConsumer) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		var errs []error
		if m := c.member.Load(); m != nil {
			errs = append(errs, m.Close(ctx))
			<-c.watchDone
		}
		errs = append(errs, c.core.close(ctx))
		c.core.client.release(c)
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}
