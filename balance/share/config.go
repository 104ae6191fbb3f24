package share

import (
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"slices"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
)

// Config configures a Member. The zero value of every optional field means
// the default written next to it.
type Config struct {
	// Group is the share group id. Required.
	Group string
	// Topics are the topics the member reads (share groups subscribe by
	// name; a topic that does not exist yet is assigned once it does).
	// Required.
	Topics []string
	// MemberID is the member's id, which a share group member chooses
	// itself and keeps for its whole life (the ShareFetch requests of its
	// fetcher carry it too). Default: NewMemberID().
	MemberID string
	// Rack is sent to the coordinator, for rack-aware assignors. Default
	// none.
	Rack string
	// GroupConfig, when not empty, is set on the group before the member
	// joins (IncrementalAlterConfigs of the group's configs, such as
	// share.auto.offset.reset or share.record.lock.duration.ms): settings
	// of the whole group, stored by the cluster, which every member sees.
	GroupConfig map[string]string
	// Logger receives the membership's events. Default: the cluster's
	// logger.
	Logger *slog.Logger
}

// NewMemberID returns a fresh member id: 16 random bytes in unpadded
// base64url, the form of Kafka's own Uuid.toString.
func NewMemberID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// withDefaults validates c and fills in its defaults. Errors are
// *kerr.ConfigError values naming the field.
func (c Config) withDefaults() (Config, error) {
	if c.Group == "" {
		return c, kerr.Config("Config.Group", "the share group id is required")
	}
	if len(c.Topics) == 0 {
		return c, kerr.Config("Config.Topics", "no topics: the member would read nothing")
	}
	c.Topics = slices.Compact(slices.Sorted(slices.Values(c.Topics)))
	for _, t := range c.Topics {
		if err := cluster.ValidTopicName(t); err != nil {
			return c, kerr.Config("Config.Topics", "%v", err)
		}
	}
	if c.MemberID == "" {
		c.MemberID = NewMemberID()
	}
	for k := range c.GroupConfig {
		if k == "" {
			return c, kerr.Config("Config.GroupConfig", "an empty config name")
		}
	}
	return c, nil
}
