package kafka

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/balance/managed"
	"github.com/gokafka/kafka/balance/zookeeper"
	"github.com/gokafka/kafka/offsets"
)

// BalancedConsumer is a member of a consumer group: the members of a group
// share the topic's partitions, each partition read by exactly one member,
// and hand partitions over when members join or leave — PyKafka's balanced
// consumer. The group is coordinated by ZooKeeper (the layout of Kafka's old
// high-level consumer) or, with Managed, by Kafka itself (the protocol of the
// Java client and librdkafka).
//
// It reads like a SimpleConsumer (Consume, Messages) over whatever
// partitions it owns at the moment. Before a partition leaves it, the
// consumer commits it if AutoCommit is on and calls OnRevoke; when partitions
// arrive it starts them from the committed offsets (or AutoOffsetReset) and
// calls OnAssign first. Consumption is at-least-once: a message handed out
// but not committed before a rebalance is read again by the next owner.
//
// A BalancedConsumer is safe for concurrent use. Close it to leave the group
// promptly (a member that vanishes is only replaced after SessionTimeout).
type BalancedConsumer struct {
	core   *consumerCore
	cfg    BalancedConsumerConfig
	member atomic.Pointer[memberBox]
	// joined is closed once member is set. Revocations wait for it: the
	// membership goroutine may revoke the moment Join returns, and the
	// commit inside needs the member's generation.
	joined chan struct{}
	first  atomic.Bool // the first assignment has been applied

	closeOnce sync.Once
	closeErr  error
}

// memberBox lets an interface live in an atomic.Pointer.
type memberBox struct{ balance.Member }

// NewBalancedConsumer joins the group and returns once this member owns its
// first share of the partitions (possibly none, if the group has more
// members than partitions), positioned and fetching. ctx bounds the join.
//
// It starts the membership goroutines (session, heartbeats, watches), the
// engine's fetch goroutines and, with AutoCommit, a committing goroutine;
// Close stops them all.
func (t *Topic) NewBalancedConsumer(ctx context.Context, cfg BalancedConsumerConfig) (*BalancedConsumer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r, err := cfg.consumerConfig().resolve(t.name, t.client, "BalancedConsumerConfig")
	if err != nil {
		return nil, err
	}
	if err := t.client.checkOpen(); err != nil {
		return nil, err
	}
	core, err := newConsumerCore(ctx, t, r)
	if err != nil {
		return nil, err
	}
	c := &BalancedConsumer{core: core, cfg: cfg, joined: make(chan struct{})}
	core.generation = c.generation
	h := balancedHandler{c}
	var m balance.Member
	log := t.client.cfg.logger
	if cfg.Managed {
		m, err = managed.Join(ctx, t.client.cluster, managed.Config{
			Group:             cfg.Group,
			Topic:             t.name,
			Strategy:          cfg.Strategy,
			SessionTimeout:    cfg.SessionTimeout,
			HeartbeatInterval: cfg.HeartbeatInterval,
			RebalanceTimeout:  cfg.RebalanceTimeout,
			InstanceID:        cfg.InstanceID,
			ClientID:          t.client.cfg.clientID,
			Logger:            log,
		}, h)
	} else {
		var servers []string
		for _, s := range strings.Split(cfg.ZooKeeper, ",") {
			if s = strings.TrimSpace(s); s != "" {
				servers = append(servers, s)
			}
		}
		m, err = zookeeper.Join(ctx, t.client.cluster, zookeeper.Config{
			Servers:             servers,
			Group:               cfg.Group,
			Topic:               t.name,
			Strategy:            cfg.Strategy,
			SessionTimeout:      cfg.SessionTimeout,
			RebalanceMaxRetries: cfg.RebalanceMaxRetries,
			RebalanceBackoff:    cfg.RebalanceBackoff,
			Logger:              log,
		}, h)
	}
	if err != nil {
		core.close(ctx)
		return nil, err
	}
	c.member.Store(&memberBox{m})
	close(c.joined)
	if d, ok := m.(interface {
		Done() <-chan struct{}
		Err() error
	}); ok {
		// A member can end for good by itself (fenced by another static
		// member with its instance id): Consume must then fail, not wait.
		go func() {
			<-d.Done()
			if err := d.Err(); err != nil {
				core.fail(fmt.Errorf("kafka: group membership ended: %w", err))
			}
		}()
	}
	if err := t.client.adopt(c); err != nil {
		c.Close(ctx)
		return nil, err
	}
	core.startAutoCommit()
	return c, nil
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

func (h balancedHandler) Revoked(ctx context.Context, partitions []int32) error {
	c := h.c
	select {
	case <-c.joined: // nothing is owned before Join returns
	case <-ctx.Done():
		return ctx.Err()
	}
	// Take the partitions away from Consume first, so nothing is handed
	// out after the positions committed; they stay committable (by
	// OnRevoke's CommitOffsets) until the revocation ends.
	pos, err := c.core.release(ctx, partitions, true)
	defer c.core.forget(partitions)
	errs := []error{err}
	if c.cfg.AutoCommit && len(pos) > 0 {
		errs = append(errs, c.core.group.Commit(ctx, c.core.topic.name, pos, c.generation()))
	}
	if c.cfg.OnRevoke != nil {
		errs = append(errs, c.cfg.OnRevoke(ctx, partitions))
	}
	return errors.Join(errs...)
}

func (h balancedHandler) Assigned(ctx context.Context, partitions []int32) error {
	c := h.c
	if len(partitions) == 0 {
		c.first.Store(true)
		return nil
	}
	ignoreCommitted := c.cfg.ResetOffsetOnStart && !c.first.Load()
	start, err := c.core.startOffsets(ctx, partitions, ignoreCommitted)
	if err != nil {
		return err
	}
	if c.cfg.OnAssign != nil {
		override, err := c.cfg.OnAssign(ctx, partitions, start)
		if err != nil {
			return err
		}
		if override != nil {
			resolved, err := c.core.resolve(ctx, override)
			if err != nil {
				return err
			}
			for p, off := range resolved {
				start[p] = off
			}
		}
	}
	c.first.Store(true)
	return c.core.seek(ctx, start)
}

func (h balancedHandler) Lost(ctx context.Context, partitions []int32) error {
	_, err := h.c.core.release(ctx, partitions, false)
	return err
}

// Topic is the topic the consumer reads.
func (c *BalancedConsumer) Topic() *Topic { return c.core.topic }

// MemberID is this member's id in the group.
func (c *BalancedConsumer) MemberID() string {
	if m := c.member.Load(); m != nil {
		return m.ID()
	}
	return ""
}

// Partitions lists the partitions this member owns now, sorted.
func (c *BalancedConsumer) Partitions() []int32 { return c.core.assignedPartitions() }

// Consume returns the next message from the partitions this member owns.
// It blocks until one is available, ctx ends, or ConsumerTimeout passes
// without a message (ErrConsumerTimeout).
func (c *BalancedConsumer) Consume(ctx context.Context) (*Message, error) {
	return c.core.consume(ctx)
}

// Messages iterates as SimpleConsumer.Messages does.
func (c *BalancedConsumer) Messages(ctx context.Context) iter.Seq2[*Message, error] {
	return messages(ctx, c.core.consume)
}

// CommitOffsets commits, for the partitions this member owns, the offset
// after the last message consumed. In a managed group the commit carries the
// member's generation: after a rebalance took a partition away, its commit
// is refused (ErrIllegalGeneration or ErrUnknownMemberID) rather than
// overwriting the new owner's progress.
func (c *BalancedConsumer) CommitOffsets(ctx context.Context) error {
	return c.core.commit(ctx, nil)
}

// FetchOffsets returns the group's committed offsets of the partitions this
// member owns.
func (c *BalancedConsumer) FetchOffsets(ctx context.Context) (map[int32]int64, error) {
	return c.core.fetchCommitted(ctx)
}

// HeldOffsets returns the last consumed offset per owned partition.
func (c *BalancedConsumer) HeldOffsets() map[int32]int64 { return c.core.held() }

// Close leaves the group: the partitions are revoked (committed first with
// AutoCommit, then OnRevoke), the membership ends (ZooKeeper nodes removed,
// or LeaveGroup; a static member stays until its session times out), and
// every goroutine stops. Idempotent.
func (c *BalancedConsumer) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		var errs []error
		if m := c.member.Load(); m != nil {
			errs = append(errs, m.Close(ctx))
		}
		errs = append(errs, c.core.close(ctx))
		c.core.topic.client.release(c)
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}
