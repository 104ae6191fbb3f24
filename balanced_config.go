package kafka

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/internal/kerr"
)

// Strategy is how a balanced consumer group splits partitions among its
// members. Partitions are ordered by topic and number, members by id.
type Strategy = balance.Strategy

// Assignment strategies.
const (
	// RangeStrategy gives each member a contiguous range of each topic's
	// partitions (the default).
	RangeStrategy = balance.Range
	// RoundRobinStrategy deals the partitions of all topics to the
	// members in turn.
	RoundRobinStrategy = balance.RoundRobin
	// CooperativeStickyStrategy moves as few partitions as possible and
	// lets members keep consuming the others during a rebalance (Kafka's
	// incremental rebalancing). Classic Kafka protocol only.
	CooperativeStickyStrategy = balance.CooperativeSticky
)

// GroupProtocol is how a consumer group is coordinated. The zero value,
// GroupProtocolDefault, is ZooKeeper when BalancedConsumerConfig.ZooKeeper
// is set, else Kafka's classic protocol.
type GroupProtocol int8

const (
	GroupProtocolDefault GroupProtocol = iota
	// GroupProtocolZooKeeper coordinates through ZooKeeper, with the
	// layout of Kafka's old high-level consumer (PyKafka's balanced
	// consumer).
	GroupProtocolZooKeeper
	// GroupProtocolClassic lets Kafka's group coordinator run the group
	// with the classic protocol (JoinGroup/SyncGroup), which the Java
	// client and librdkafka speak, so they can be members of the same
	// group.
	GroupProtocolClassic
)

func (p GroupProtocol) String() string {
	switch p {
	case GroupProtocolDefault:
		return "default"
	case GroupProtocolZooKeeper:
		return "zookeeper"
	case GroupProtocolClassic:
		return "classic"
	}
	return "invalid"
}

// BalancedConsumerConfig configures a BalancedConsumer. Group is required;
// a client's consumer also needs Topics or a Pattern. Everything else has a
// default.
type BalancedConsumerConfig struct {
	// Group is the consumer group: its members share the partitions of
	// the topics they read, and its offsets are stored in Kafka under
	// this name.
	Group string
	// Topics are the topics a client's consumer (Client.NewBalancedConsumer)
	// reads; a Topic's consumer reads its topic.
	Topics []string
	// Pattern, a regular expression (Go's syntax), adds every topic whose
	// whole name matches it, Kafka's internal topics excepted: topics
	// created later that match are picked up, and deleted ones dropped,
	// within the client's metadata refresh interval
	// (WithMetadataMaxAge).
	Pattern string

	// Protocol coordinates the group. Default: ZooKeeper when ZooKeeper
	// is set, else Kafka's classic protocol.
	Protocol GroupProtocol
	// Managed is PyKafka's spelling of Protocol: GroupProtocolClassic.
	Managed bool
	// ZooKeeper is the comma-separated host:port list of the ZooKeeper
	// ensemble of a GroupProtocolZooKeeper group.
	ZooKeeper string
	// Strategy splits partitions among members. Default RangeStrategy.
	Strategy Strategy

	// SessionTimeout: a member not heard from for this long is dropped
	// and its partitions reassigned. ZooKeeper session or group session.
	// Default 10s classic, 6s with ZooKeeper.
	SessionTimeout time.Duration
	// HeartbeatInterval (classic). Default 3s.
	HeartbeatInterval time.Duration
	// RebalanceTimeout (classic): how long members have to revoke and
	// rejoin during a rebalance. Default 60s.
	RebalanceTimeout time.Duration
	// InstanceID (classic) makes the member static (KIP-345): restarted
	// within SessionTimeout with the same id, it gets its partitions back
	// without a rebalance.
	InstanceID string
	// RebalanceMaxRetries and RebalanceBackoff (ZooKeeper) bound the
	// attempts to claim a partition another member has not released yet.
	// Defaults 10 and 500 ms.
	RebalanceMaxRetries int
	RebalanceBackoff    time.Duration

	// OnRevoke is called when partitions leave this member in a
	// rebalance: Consume no longer hands out their messages, and
	// CommitOffsets, called from OnRevoke, still commits their final
	// positions (AutoCommit already did). Commit here if you commit by
	// hand.
	OnRevoke func(ctx context.Context, partitions []TopicPartition) error
	// OnAssign is called when partitions arrive, with the offsets the
	// consumer would start them from (committed, or AutoOffsetReset). It
	// may return offsets to start from instead (for any subset), like
	// PyKafka's post_rebalance_callback; nil keeps them.
	OnAssign func(ctx context.Context, partitions []TopicPartition, start map[TopicPartition]int64) (map[TopicPartition]int64, error)
	// OnLost is called when partitions were taken from this member
	// without a chance to commit (its session expired, it was fenced):
	// another member may already read them, so do not commit them.
	// Default: OnRevoke is not called for them either.
	OnLost func(ctx context.Context, partitions []TopicPartition) error

	ConsumerOptions
}

// protocol resolves the group protocol.
func (c *BalancedConsumerConfig) protocol() GroupProtocol {
	switch {
	case c.Protocol != GroupProtocolDefault:
		return c.Protocol
	case c.Managed:
		return GroupProtocolClassic
	case strings.TrimSpace(c.ZooKeeper) != "":
		return GroupProtocolZooKeeper
	}
	return GroupProtocolClassic
}

// subscription validates Topics and Pattern (balance.Subscription.Check,
// the rule every coordination protocol applies).
func (c *BalancedConsumerConfig) subscription() (balance.Subscription, error) {
	s := balance.Subscription{Topics: c.Topics}
	if c.Pattern != "" {
		re, err := regexp.Compile(c.Pattern)
		if err != nil {
			return s, kerr.Config("BalancedConsumerConfig.Pattern", "not a regular expression: %v", err)
		}
		s.Pattern = re
	}
	return s.Check("BalancedConsumerConfig")
}

func (c *BalancedConsumerConfig) validate() error {
	const p = "BalancedConsumerConfig."
	if c.Group == "" {
		return kerr.Config(p+"Group", "required")
	}
	proto := c.protocol()
	switch {
	case c.Protocol < GroupProtocolDefault || c.Protocol > GroupProtocolClassic:
		return kerr.Config(p+"Protocol", "unknown value %d", c.Protocol)
	case c.Managed && c.Protocol == GroupProtocolZooKeeper:
		return kerr.Config(p+"Managed", "contradicts Protocol: GroupProtocolZooKeeper")
	case proto == GroupProtocolZooKeeper && strings.TrimSpace(c.ZooKeeper) == "":
		return kerr.Config(p+"ZooKeeper", "required by GroupProtocolZooKeeper")
	case proto != GroupProtocolZooKeeper && c.ZooKeeper != "":
		return kerr.Config(p+"ZooKeeper", "a %s group does not use ZooKeeper", proto)
	case proto != GroupProtocolClassic && c.InstanceID != "":
		return kerr.Config(p+"InstanceID", "static membership needs GroupProtocolClassic")
	}
	switch c.Strategy {
	case "", RangeStrategy, RoundRobinStrategy:
	case CooperativeStickyStrategy:
		if proto != GroupProtocolClassic {
			return kerr.Config(p+"Strategy", "%s needs GroupProtocolClassic", c.Strategy)
		}
	default:
		return kerr.Config(p+"Strategy", "unknown strategy %q", c.Strategy)
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
