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
// members. Partitions are ordered by topic and number, members by id. With
// GroupProtocolConsumer the broker splits them, and Strategy names the
// assignor it runs: RangeStrategy or UniformStrategy.
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
	// UniformStrategy is the broker's "uniform" assignor, the default of
	// GroupProtocolConsumer (and only valid there): the partitions of all
	// topics spread evenly, each kept where it is when it can — what
	// CooperativeStickyStrategy is to the classic protocol. With that
	// protocol RangeStrategy is the broker's "range" assignor.
	UniformStrategy Strategy = "uniform"
)

// GroupProtocol is how a consumer group is coordinated. The zero value,
// GroupProtocolDefault, is ZooKeeper when BalancedConsumerConfig.ZooKeeper
// is set, else Kafka's classic protocol. (GroupProtocolConsumer is never the
// default: Kafka 3.x lacks it, and the Java client too defaults to classic.)
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
	// GroupProtocolConsumer is Kafka's consumer group protocol (KIP-848,
	// Kafka 4.0 and newer; the Java client's group.protocol=consumer, with
	// which it shares groups): the broker assigns the partitions, and a
	// member joining or leaving moves only the partitions that must move,
	// while every other partition is read on without a pause. The session
	// timeout and heartbeat interval are the broker's (the group's
	// consumer.session.timeout.ms and consumer.heartbeat.interval.ms, else
	// group.consumer.*), and the pattern is matched by the broker (see
	// BalancedConsumerConfig.Pattern). Members of a classic group move to
	// it by restarting with it (see balance/consumer). On a cluster without
	// it, NewBalancedConsumer fails with ErrUnsupported.
	GroupProtocolConsumer
)

func (p GroupProtocol) String() string {
	switch p {
	case GroupProtocolDefault:
		return "default"
	case GroupProtocolZooKeeper:
		return "zookeeper"
	case GroupProtocolClassic:
		return "classic"
	case GroupProtocolConsumer:
		return "consumer"
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
	// (WithMetadataMaxAge). With GroupProtocolConsumer the broker matches
	// it, with RE2J (Go's syntax but for rare forms; one it refuses fails
	// with ErrInvalidConfig and the broker's INVALID_REGULAR_EXPRESSION),
	// notices new topics on its own schedule (seconds), and does not
	// leave Kafka's internal topics out.
	Pattern string

	// Protocol coordinates the group. Default: ZooKeeper when ZooKeeper
	// is set, else Kafka's classic protocol.
	Protocol GroupProtocol
	// Managed is PyKafka's spelling of Protocol: GroupProtocolClassic.
	Managed bool
	// ZooKeeper is the comma-separated host:port list of the ZooKeeper
	// ensemble of a GroupProtocolZooKeeper group.
	ZooKeeper string
	// Strategy splits partitions among members. Default RangeStrategy;
	// with GroupProtocolConsumer, the broker's default assignor (uniform,
	// unless group.consumer.assignors says otherwise), and only
	// RangeStrategy and UniformStrategy are valid.
	Strategy Strategy

	// SessionTimeout: a member not heard from for this long is dropped
	// and its partitions reassigned. ZooKeeper session or group session.
	// Default 10s classic, 6s with ZooKeeper. Not with
	// GroupProtocolConsumer, where the broker decides.
	SessionTimeout time.Duration
	// HeartbeatInterval (classic). Default 3s. (GroupProtocolConsumer
	// heartbeats at the interval the broker dictates.)
	HeartbeatInterval time.Duration
	// RebalanceTimeout (classic, consumer): how long members have to
	// revoke (and, classic, rejoin) during a rebalance; a consumer-protocol
	// member that takes longer is fenced. Default 60s.
	RebalanceTimeout time.Duration
	// InstanceID (classic, consumer) makes the member static (KIP-345):
	// restarted within the session timeout with the same id, it gets its
	// partitions back without a rebalance. With GroupProtocolConsumer,
	// Close leaves with epoch -2: the broker keeps the partitions for the
	// member until its session times out, and a second member with the
	// id waits until the first has left.
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
	case c.Protocol < GroupProtocolDefault || c.Protocol > GroupProtocolConsumer:
		return kerr.Config(p+"Protocol", "unknown value %d", c.Protocol)
	case c.Managed && c.Protocol != GroupProtocolDefault && c.Protocol != GroupProtocolClassic:
		return kerr.Config(p+"Managed", "contradicts Protocol: %s (Managed is the classic protocol)", c.Protocol)
	case proto == GroupProtocolZooKeeper && strings.TrimSpace(c.ZooKeeper) == "":
		return kerr.Config(p+"ZooKeeper", "required by GroupProtocolZooKeeper")
	case proto != GroupProtocolZooKeeper && c.ZooKeeper != "":
		return kerr.Config(p+"ZooKeeper", "a %s group does not use ZooKeeper", proto)
	case proto == GroupProtocolZooKeeper && c.InstanceID != "":
		return kerr.Config(p+"InstanceID", "static membership needs GroupProtocolClassic or GroupProtocolConsumer")
	case proto == GroupProtocolConsumer && c.SessionTimeout != 0:
		return kerr.Config(p+"SessionTimeout", "the broker's with GroupProtocolConsumer: the group's consumer.session.timeout.ms, else group.consumer.session.timeout.ms")
	case proto == GroupProtocolConsumer && c.HeartbeatInterval != 0:
		return kerr.Config(p+"HeartbeatInterval", "the broker's with GroupProtocolConsumer: the group's consumer.heartbeat.interval.ms, else group.consumer.heartbeat.interval.ms")
	}
	switch c.Strategy {
	case "", RangeStrategy:
	case RoundRobinStrategy, CooperativeStickyStrategy:
		if proto == GroupProtocolConsumer {
			return kerr.Config(p+"Strategy", "%s is a client-side assignor: with GroupProtocolConsumer the broker assigns (RangeStrategy or UniformStrategy; UniformStrategy is sticky)", c.Strategy)
		}
		if c.Strategy == CooperativeStickyStrategy && proto != GroupProtocolClassic {
			return kerr.Config(p+"Strategy", "%s needs GroupProtocolClassic", c.Strategy)
		}
	case UniformStrategy:
		if proto != GroupProtocolConsumer {
			return kerr.Config(p+"Strategy", "%s is the broker's assignor: it needs GroupProtocolConsumer", c.Strategy)
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
