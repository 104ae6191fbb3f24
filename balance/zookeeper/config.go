package zookeeper

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/internal/kerr"
)

// Config configures a Member. The zero value of each optional field means
// the default written next to it; Servers, Group and Subscription are
// required.
type Config struct {
	// Servers lists ZooKeeper's host:port addresses (an ensemble's members,
	// or one standalone server). Required.
	Servers []string
	// Group is the consumer group. Required. It becomes a ZooKeeper path
	// element, so it must not contain '/' nor be "." or "..".
	Group string
	// Subscription is what the member reads: a list of topics, a pattern
	// (a topic matches when the whole name matches, Kafka's internal
	// topics never do), or both. Required: at least one topic or a
	// pattern. Members of one group may subscribe differently; each
	// topic's partitions are shared by the members that read it. Listed
	// topics must exist when Join is called; a pattern may match nothing
	// yet.
	Subscription balance.Subscription
	// Strategy is balance.Range (default) or balance.RoundRobin.
	// balance.CooperativeSticky needs Kafka's group coordinator and is a
	// configuration error here.
	Strategy balance.Strategy
	// SessionTimeout is the ZooKeeper session timeout: how long after a
	// member stops answering (crash, network partition) its registration
	// and owner nodes vanish and the others take its partitions. The
	// server may negotiate it into its [2, 20] x tickTime range; the
	// negotiated value is the one used. Default 6s.
	SessionTimeout time.Duration
	// RebalanceMaxRetries is how many times one rebalance tries to claim a
	// partition that another member still owns. Default 10.
	RebalanceMaxRetries int
	// RebalanceBackoff is the wait between two claim attempts, jittered by
	// up to a quarter either way. Default 500ms.
	RebalanceBackoff time.Duration
	// PartitionCheckInterval is how often the member asks Kafka for the
	// metadata of the group's topics (of every topic, while a member of
	// the group subscribes to a pattern), which is how a changed partition
	// count, a new topic matching a pattern and a deleted topic are
	// noticed (ZooKeeper does not know about topics with KRaft). Any other
	// metadata refresh of the client is noticed at once too. Default 30s.
	PartitionCheckInterval time.Duration
	// ConsumerID is the member's id in the group: the name of its node
	// under /consumers/<group>/ids and the content of its owner nodes.
	// Default "<group>_<hostname>-<unix ms>-<8 random hex digits>", the form
	// Kafka's old high-level consumer used. Must not contain '/'. Two live
	// members must never share one.
	ConsumerID string
	// Logger receives the member's log lines (rebalances at Info, trouble
	// at Warn, ZooKeeper client chatter at Debug). Default: discard.
	Logger *slog.Logger

	// dialer replaces net.DialTimeout for ZooKeeper connections (tests cut
	// connections with it to simulate crashes and partitions).
	dialer zk.Dialer
}

// Defaults, each written here only.
const (
	DefaultSessionTimeout         = 6 * time.Second
	DefaultRebalanceMaxRetries    = 10
	DefaultRebalanceBackoff       = 500 * time.Millisecond
	DefaultPartitionCheckInterval = 30 * time.Second
)

var (
	// ErrZooKeeper: ZooKeeper could not be reached, or did not answer in
	// time. Join returns it when no session could be established.
	ErrZooKeeper = errors.New("kafka: zookeeper unavailable")
	// ErrRebalanceFailed: a rebalance could not claim every partition it
	// was assigned, because other members kept owning them (they may be
	// slow to give them up, or see another membership or partition count).
	// The member logs it and rebalances again later; Join returns it when
	// its deadline passes before a rebalance completed.
	ErrRebalanceFailed = errors.New("kafka: rebalance could not claim every assigned partition")
)

// withDefaults validates c and fills in the defaults. Errors are
// *kerr.ConfigError naming the field (errors.Is(err, kerr.ErrInvalidConfig)).
func (c Config) withDefaults() (Config, error) {
	c.Servers = append([]string(nil), c.Servers...)
	servers := c.Servers[:0]
	for _, s := range c.Servers {
		if s = strings.TrimSpace(s); s != "" {
			servers = append(servers, s)
		}
	}
	c.Servers = servers
	if len(c.Servers) == 0 {
		return c, kerr.Config("Servers", "no ZooKeeper server given")
	}
	if err := pathElement(c.Group); err != nil {
		return c, kerr.Config("Group", "%v", err)
	}
	sub, err := c.Subscription.Check("Subscription")
	if err != nil {
		return c, err
	}
	c.Subscription = sub
	if c.Strategy == balance.CooperativeSticky {
		return c, kerr.Config("Strategy", "%q needs Kafka's group coordinator (balance/managed); ZooKeeper groups support %q and %q", c.Strategy, balance.Range, balance.RoundRobin)
	}
	if c.Strategy, err = c.Strategy.Check("Strategy", balance.Range, balance.RoundRobin); err != nil {
		return c, err
	}
	if c.SessionTimeout, err = orDefault("SessionTimeout", c.SessionTimeout, DefaultSessionTimeout, time.Millisecond); err != nil {
		return c, err
	}
	if c.RebalanceMaxRetries, err = orDefault("RebalanceMaxRetries", c.RebalanceMaxRetries, DefaultRebalanceMaxRetries, 1); err != nil {
		return c, err
	}
	if c.RebalanceBackoff, err = orDefault("RebalanceBackoff", c.RebalanceBackoff, DefaultRebalanceBackoff, 0); err != nil {
		return c, err
	}
	if c.PartitionCheckInterval, err = orDefault("PartitionCheckInterval", c.PartitionCheckInterval, DefaultPartitionCheckInterval, 0); err != nil {
		return c, err
	}
	if c.ConsumerID == "" {
		c.ConsumerID = defaultConsumerID(c.Group)
	} else if err := pathElement(c.ConsumerID); err != nil {
		return c, kerr.Config("ConsumerID", "%v", err)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// orDefault is v, or def when v is zero (unset); a v below least is a
// ConfigError naming field.
func orDefault[T int | time.Duration](field string, v, def, least T) (T, error) {
	switch {
	case v == 0:
		return def, nil
	case v < least:
		return v, kerr.Config(field, "%v, want at least %v", v, least)
	}
	return v, nil
}

// pathElement checks that s can be one element of a ZooKeeper path.
func pathElement(s string) error {
	switch {
	case s == "":
		return errors.New("empty")
	case s == "." || s == "..":
		return fmt.Errorf("%q is not a valid ZooKeeper path element", s)
	case strings.Contains(s, "/"):
		return fmt.Errorf("%q contains '/'", s)
	}
	for _, r := range s {
		// ZooKeeper rejects these in paths (PathUtils.validatePath).
		if r == 0 || (r > 0 && r < 0x20) || (r >= 0x7f && r <= 0x9f) ||
			(r >= 0xd800 && r <= 0xf8ff) || (r >= 0xfff0 && r <= 0xffff) {
			return fmt.Errorf("%q contains the character %U, which ZooKeeper paths may not hold", s, r)
		}
	}
	return nil
}

// defaultConsumerID is "<group>_<hostname>-<unix ms>-<random>", as Kafka's
// old consumer named its members (it used a UUID's first 8 hex digits).
func defaultConsumerID(group string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	host = strings.ReplaceAll(host, "/", "_")
	var b [4]byte
	_, _ = rand.Read(b[:])
	return group + "_" + host + "-" + strconv.FormatInt(time.Now().UnixMilli(), 10) + "-" + hex.EncodeToString(b[:])
}
