package managed

import (
	"log/slog"
	"math"
	"time"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/balance/internal/membership"
	"github.com/gokafka/kafka/internal/kerr"
)

// Config configures a Member. The zero value of every optional field means
// the default written next to it.
type Config struct {
	// Group is the consumer group id. Required.
	Group string
	// Subscription is what the member reads: a list of topics, a pattern
	// (a regular expression that must match a topic's whole name, as in
	// the Java client; Kafka's internal topics never match), or both. It
	// needs at least one topic or a pattern. Listed topics that do not
	// exist yet are subscribed anyway and assigned once they are created;
	// pattern topics are the ones the cluster's metadata shows (see the
	// package doc for when the member rejoins as they change).
	Subscription balance.Subscription
	// Strategy is the assignment strategy the member offers, under the
	// protocol name the Java client and librdkafka use ("range",
	// "roundrobin", "cooperative-sticky"). Default balance.Range. Every
	// member of a group must offer it, or the coordinator refuses the
	// newcomer with kerr.InconsistentGroupProtocol.
	Strategy balance.Strategy
	// SessionTimeout is how long the coordinator waits without a heartbeat
	// before it drops the member and gives its partitions to the others.
	// Default 10s. It must lie within the broker's
	// group.min.session.timeout.ms and group.max.session.timeout.ms
	// (6s-30m by default), or joining fails with kerr.InvalidSessionTimeout.
	SessionTimeout time.Duration
	// HeartbeatInterval is the time between heartbeats; it bounds how
	// long the member takes to notice a rebalance. Default 3s, or a third
	// of SessionTimeout when that is shorter; it must be less than
	// SessionTimeout.
	HeartbeatInterval time.Duration
	// RebalanceTimeout is how long the coordinator waits for every member
	// to rejoin during a rebalance (which includes the Handler's Revoked
	// calls). Default 60s.
	RebalanceTimeout time.Duration
	// InstanceID turns on static membership (KIP-345): the member keeps
	// its partitions across restarts that are shorter than SessionTimeout,
	// without a rebalance, and Close does not leave the group. Instance
	// ids must be unique within the group: a second member with the same
	// id fences the first (kerr.FencedInstanceID). Default "" (dynamic).
	InstanceID string
	// ClientID labels the member in logs. (The client id sent to the
	// brokers is the cluster's connection setting.)
	ClientID string
	// Logger receives the membership's events. Default: the cluster's
	// logger.
	Logger *slog.Logger
}

// Defaults not written above in a field's own comment.
const (
	defaultSessionTimeout    = 10 * time.Second
	defaultHeartbeatInterval = 3 * time.Second
	defaultRebalanceTimeout  = 60 * time.Second
)

// withDefaults validates c and fills in its defaults. Errors are
// *kerr.ConfigError values naming the field.
func (c Config) withDefaults() (Config, error) {
	sub, err := membership.CheckGroup(c.Group, c.Subscription)
	if err != nil {
		return c, err
	}
	c.Subscription = sub
	if c.Strategy, err = c.Strategy.Check("Config.Strategy", balance.Range, balance.RoundRobin, balance.CooperativeSticky); err != nil {
		return c, err
	}
	if c.SessionTimeout, err = millis("Config.SessionTimeout", c.SessionTimeout, defaultSessionTimeout); err != nil {
		return c, err
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = min(defaultHeartbeatInterval, c.SessionTimeout/3)
	}
	if c.HeartbeatInterval, err = millis("Config.HeartbeatInterval", c.HeartbeatInterval, defaultHeartbeatInterval); err != nil {
		return c, err
	}
	if c.HeartbeatInterval >= c.SessionTimeout {
		return c, kerr.Config("Config.HeartbeatInterval", "%v must be less than SessionTimeout (%v)", c.HeartbeatInterval, c.SessionTimeout)
	}
	if c.RebalanceTimeout, err = millis("Config.RebalanceTimeout", c.RebalanceTimeout, defaultRebalanceTimeout); err != nil {
		return c, err
	}
	return c, nil
}

// millis checks a duration that goes on the wire as int32 milliseconds: zero
// takes the default, and it must be at least 1ms and fit.
func millis(field string, d, def time.Duration) (time.Duration, error) {
	if d == 0 {
		d = def
	}
	if d < time.Millisecond {
		return d, kerr.Config(field, "%v is not a positive number of milliseconds", d)
	}
	if d.Milliseconds() > math.MaxInt32 {
		return d, kerr.Config(field, "%v is too long (at most %v)", d, time.Duration(math.MaxInt32)*time.Millisecond)
	}
	return d, nil
}

func ms(d time.Duration) int32 { return int32(d.Milliseconds()) }
