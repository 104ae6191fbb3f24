package consumer

import (
	"log/slog"
	"math"
	"time"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/balance/internal/membership"
	"github.com/gokafka/kafka/internal/kerr"
)

// ServerAssignor names the assignor the group's coordinator runs to split
// the partitions among the members (the broker's group.consumer.assignors
// lists the ones it has).
type ServerAssignor string

const (
	// Uniform spreads the partitions of all the topics evenly over the
	// members and keeps each where it is when it can: only what the balance
	// requires moves (the broker's default, "uniform"; what the classic
	// protocol's cooperative-sticky did on the client).
	Uniform ServerAssignor = "uniform"
	// Range gives each member a contiguous range of each topic's
	// partitions, so that members reading several co-partitioned topics get
	// the same partition numbers of each ("range").
	Range ServerAssignor = "range"
)

// Config configures a Member. The zero value of every optional field means
// the default written next to it. What the classic protocol lets each
// member choose and the consumer protocol leaves to the broker (the session
// timeout, the heartbeat interval) is not here: see the package doc.
type Config struct {
	// Group is the consumer group id. Required.
	Group string
	// Subscription is what the member reads: a list of topics, a pattern,
	// or both. It needs at least one topic or a pattern. The coordinator
	// resolves it: listed topics that do not exist yet are assigned once
	// they are created, and the pattern is sent as it is
	// (SubscribedTopicRegex) and matched by the broker against whole topic
	// names, with RE2J, whose syntax is Go's (RE2) but for a few rarely
	// used forms; one the broker cannot compile makes Join fail with
	// kerr.InvalidRegularExpression (and kerr.ErrInvalidConfig). See the package doc for when the
	// broker notices new matching topics.
	Subscription balance.Subscription
	// ServerAssignor is the assignor the member asks the coordinator to
	// run: Uniform, Range, or the name of another one the broker was
	// configured with. Default "": the broker's default (the first of
	// group.consumer.assignors, Uniform unless configured otherwise). When
	// members ask for different assignors, the coordinator runs the one
	// most of them ask for; one it does not have makes Join fail with
	// kerr.UnsupportedAssignor.
	ServerAssignor ServerAssignor
	// RebalanceTimeout is how long the coordinator gives the member to
	// revoke partitions it must give up (the Handler's Revoked included)
	// before it fences the member. Default 60s.
	RebalanceTimeout time.Duration
	// InstanceID makes the member static (KIP-345 over KIP-848): the
	// coordinator keeps its partitions for it while it restarts, and
	// gives them back without moving anything, if it returns within the
	// group's session timeout; Close then leaves with epoch -2 ("will
	// rejoin") rather than -1. Instance ids must be unique within the
	// group: while one member holds an id, a second one cannot join with
	// it (the coordinator answers kerr.UnreleasedInstanceID, and Join
	// retries until its ctx ends). Default "" (dynamic).
	InstanceID string
	// ClientID labels the member in logs. (The client id sent to the
	// brokers is the cluster's connection setting.)
	ClientID string
	// Logger receives the membership's events. Default: the cluster's
	// logger.
	Logger *slog.Logger
}

// defaultRebalanceTimeout is Config.RebalanceTimeout's default.
const defaultRebalanceTimeout = 60 * time.Second

// withDefaults validates c and fills in its defaults. Errors are
// *kerr.ConfigError values naming the field.
func (c Config) withDefaults() (Config, error) {
	sub, err := membership.CheckGroup(c.Group, c.Subscription)
	if err != nil {
		return c, err
	}
	c.Subscription = sub
	if c.RebalanceTimeout == 0 {
		c.RebalanceTimeout = defaultRebalanceTimeout
	}
	if c.RebalanceTimeout < time.Millisecond || c.RebalanceTimeout.Milliseconds() > math.MaxInt32 {
		return c, kerr.Config("Config.RebalanceTimeout", "%v is not a positive number of milliseconds that fits in 32 bits", c.RebalanceTimeout)
	}
	return c, nil
}
