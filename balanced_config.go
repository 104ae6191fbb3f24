package kafka

import (
	"context"
	"strings"
	"time"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/internal/kerr"
)

// Strategy is how a balanced consumer group splits a topic's partitions
// among its members. Partitions are ordered by number and members by id.
type Strategy = balance.Strategy

// Assignment strategies.
const (
	// RangeStrategy gives each member a contiguous range (the default).
	RangeStrategy = balance.Range
	// RoundRobinStrategy deals partitions to members in turn.
	RoundRobinStrategy = balance.RoundRobin
	// CooperativeStickyStrategy moves as few partitions as possible and
	// lets members keep consuming the others during a rebalance (Kafka's
	// incremental rebalancing). Managed groups only.
	CooperativeStickyStrategy = balance.CooperativeSticky
)

// BalancedConsumerConfig configures a BalancedConsumer. Group, and
// ZooKeeper unless Managed, are required; everything else has a default.
type BalancedConsumerConfig struct {
	// Group is the consumer group: its members share the topic's
	// partitions, and its offsets are stored in Kafka under this name.
	Group string
	// ZooKeeper is the comma-separated host:port list of the ZooKeeper
	// ensemble that coordinates the group (PyKafka's balanced consumer).
	// Not used when Managed.
	ZooKeeper string
	// Managed lets Kafka's group coordinator run the group (the protocol
	// of the Java client and librdkafka, which can then be members of the
	// same group). No ZooKeeper needed.
	Managed bool
	// Strategy splits partitions among members. Default RangeStrategy.
	Strategy Strategy

	// SessionTimeout: a member not heard from for this long is dropped
	// and its partitions reassigned. ZooKeeper session or group session.
	// Default 10s managed, 6s with ZooKeeper.
	SessionTimeout time.Duration
	// HeartbeatInterval (managed). Default 3s.
	HeartbeatInterval time.Duration
	// RebalanceTimeout (managed): how long members have to revoke and
	// rejoin during a rebalance. Default 60s.
	RebalanceTimeout time.Duration
	// InstanceID (managed) makes the member static (KIP-345): restarted
	// within SessionTimeout with the same id, it gets its partitions back
	// without a rebalance.
	InstanceID string
	// RebalanceMaxRetries and RebalanceBackoff (ZooKeeper) bound the
	// attempts to claim a partition another member has not released yet.
	// Defaults 10 and 500 ms.
	RebalanceMaxRetries int
	RebalanceBackoff    time.Duration

	// OnRevoke is called when partitions leave this member: Consume no
	// longer hands out their messages, and CommitOffsets, called from
	// OnRevoke, still commits their final positions (AutoCommit already
	// did). Commit here if you commit by hand.
	OnRevoke func(ctx context.Context, partitions []int32) error
	// OnAssign is called when partitions arrive, with the offsets the
	// consumer would start them from (committed, or AutoOffsetReset). It
	// may return offsets to start from instead (for any subset), like
	// PyKafka's post_rebalance_callback; nil keeps them.
	OnAssign func(ctx context.Context, partitions []int32, start map[int32]int64) (map[int32]int64, error)

	// The rest mean what they mean in ConsumerConfig.
	AutoCommit             bool
	AutoCommitInterval     time.Duration
	ConsumerTimeout        time.Duration
	AutoOffsetReset        OffsetReset
	ResetOffsetOnStart     bool // for the partitions of this consumer's first assignment
	FetchMinBytes          int32
	FetchMaxWait           time.Duration
	FetchMaxBytes          int32
	FetchPartitionMaxBytes int32
	QueuedMaxMessages      int
	Isolation              Isolation
	CheckCRCs              bool
	UseRdkafka             bool
	RdkafkaConfig          map[string]any
}

func (c BalancedConsumerConfig) consumerConfig() ConsumerConfig {
	return ConsumerConfig{
		ConsumerGroup:          c.Group,
		AutoCommit:             c.AutoCommit,
		AutoCommitInterval:     c.AutoCommitInterval,
		ConsumerTimeout:        c.ConsumerTimeout,
		AutoOffsetReset:        c.AutoOffsetReset,
		ResetOffsetOnStart:     c.ResetOffsetOnStart,
		FetchMinBytes:          c.FetchMinBytes,
		FetchMaxWait:           c.FetchMaxWait,
		FetchMaxBytes:          c.FetchMaxBytes,
		FetchPartitionMaxBytes: c.FetchPartitionMaxBytes,
		QueuedMaxMessages:      c.QueuedMaxMessages,
		Isolation:              c.Isolation,
		CheckCRCs:              c.CheckCRCs,
		UseRdkafka:             c.UseRdkafka,
		RdkafkaConfig:          c.RdkafkaConfig,
	}
}

func (c BalancedConsumerConfig) validate() error {
	const p = "BalancedConsumerConfig."
	if c.Group == "" {
		return kerr.Config(p+"Group", "required")
	}
	switch c.Strategy {
	case "", RangeStrategy, RoundRobinStrategy:
	case CooperativeStickyStrategy:
		if !c.Managed {
			return kerr.Config(p+"Strategy", "%s needs Managed: true", c.Strategy)
		}
	default:
		return kerr.Config(p+"Strategy", "unknown strategy %q", c.Strategy)
	}
	if !c.Managed && strings.TrimSpace(c.ZooKeeper) == "" {
		return kerr.Config(p+"ZooKeeper", "required unless Managed is set")
	}
	if c.Managed && c.ZooKeeper != "" {
		return kerr.Config(p+"ZooKeeper", "a managed group does not use ZooKeeper")
	}
	if !c.Managed && c.InstanceID != "" {
		return kerr.Config(p+"InstanceID", "static membership needs Managed: true")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"SessionTimeout", c.SessionTimeout}, {"HeartbeatInterval", c.HeartbeatInterval}, {"RebalanceTimeout", c.RebalanceTimeout}, {"RebalanceBackoff", c.RebalanceBackoff}} {
		if d.v < 0 {
			return kerr.Config(p+d.name, "must not be negative, got %v", d.v)
		}
	}
	if c.RebalanceMaxRetries < 0 {
		return kerr.Config(p+"RebalanceMaxRetries", "must not be negative, got %d", c.RebalanceMaxRetries)
	}
	return nil
}
