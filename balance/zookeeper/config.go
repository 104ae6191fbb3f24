package zookeeper

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
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
// the default written next to it; Servers, Group and Topic are required.
type Config struct {
	// Servers lists ZooKeeper's host:port addresses (an ensemble's members,
	// or one standalone server). Required.
	Servers []string
	// Group is the consumer group. Required. It becomes a ZooKeeper path
	// element, so it must not contain '/' nor be "." or "..".
	Group string
	// Topic is the topic whose partitions the group shares. Required.
	Topic string
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
	// topic's metadata, which is how an increase of the partition count is
	// noticed (ZooKeeper does not know about partitions with KRaft).
	// Any other metadata refresh of the client is noticed at once too.
	// Default 30s.
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
	if err := topicName(c.Topic); err != nil {
		return c, kerr.Config("Topic", "%v", err)
	}
	switch c.Strategy {
	case "":
		c.Strategy = balance.Range
	case balance.Range, balance.RoundRobin:
	case balance.CooperativeSticky:
		return c, kerr.Config("Strategy", "%q needs Kafka's group coordinator (balance/managed); ZooKeeper groups support %q and %q", c.Strategy, balance.Range, balance.RoundRobin)
	default:
		return c, kerr.Config("Strategy", "unknown strategy %q (want %q or %q)", c.Strategy, balance.Range, balance.RoundRobin)
	}
	switch {
	case c.SessionTimeout == 0:
		c.SessionTimeout = DefaultSessionTimeout
	case c.SessionTimeout < time.Millisecond:
		return c, kerr.Config("SessionTimeout", "%s is not a usable session timeout", c.SessionTimeout)
	}
	switch {
	case c.RebalanceMaxRetries == 0:
		c.RebalanceMaxRetries = DefaultRebalanceMaxRetries
	case c.RebalanceMaxRetries < 0:
		return c, kerr.Config("RebalanceMaxRetries", "%d, want at least 1", c.RebalanceMaxRetries)
	}
	switch {
	case c.RebalanceBackoff == 0:
		c.RebalanceBackoff = DefaultRebalanceBackoff
	case c.RebalanceBackoff < 0:
		return c, kerr.Config("RebalanceBackoff", "negative: %s", c.RebalanceBackoff)
	}
	switch {
	case c.PartitionCheckInterval == 0:
		c.PartitionCheckInterval = DefaultPartitionCheckInterval
	case c.PartitionCheckInterval < 0:
		return c, kerr.Config("PartitionCheckInterval", "negative: %s", c.PartitionCheckInterval)
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

// topicName checks Kafka's topic name rules (which also make it a valid
// ZooKeeper path element).
func topicName(s string) error {
	switch {
	case s == "":
		return errors.New("empty")
	case s == "." || s == "..":
		return fmt.Errorf("%q is not a legal topic name", s)
	case len(s) > 249:
		return fmt.Errorf("longer than 249 characters")
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("%q contains %q; topic names use [a-zA-Z0-9._-]", s, r)
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

// subscription is the data of a member's ids node, as Kafka's old
// high-level consumer wrote it (ZookeeperConsumerConnector.registerConsumerInZK).
type subscription struct {
	Version      int            `json:"version"`
	Subscription map[string]int `json:"subscription"`
	Pattern      string         `json:"pattern"`
	Timestamp    string         `json:"timestamp"`
}

func subscriptionData(topic string, now time.Time) []byte {
	b, _ := json.Marshal(subscription{
		Version:      1,
		Subscription: map[string]int{topic: 1},
		Pattern:      "static",
		Timestamp:    strconv.FormatInt(now.UnixMilli(), 10),
	})
	return b
}

// subscribes reports whether a member whose ids node holds data consumes
// topic. Two formats are understood: the JSON above (Kafka's old consumer,
// and this package), and the bare topic name (PyKafka's balanced consumer),
// so members of either kind can share a group with this one. Anything else
// (a wildcard "white_list"/"black_list" pattern, which only Java's regex
// semantics can evaluate, or an unknown format) counts as subscribed, and
// known is false so that the caller can log it: counting a member that does
// not consume the topic leaves its share unowned, not counting one that does
// makes both claim the same partitions; either way the logs say so.
func subscribes(data []byte, topic string) (ok, known bool) {
	if string(data) == topic {
		return true, true
	}
	var s subscription
	if err := json.Unmarshal(data, &s); err != nil || s.Pattern != "static" || s.Subscription == nil {
		return true, false
	}
	_, ok = s.Subscription[topic]
	return ok, true
}
