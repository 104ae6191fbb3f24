package membership

import (
	"log/slog"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/offsets"
)

// Start checks the arguments of a member's Join: c must hold a cluster
// (cluster.From), h must not be nil, and cfg gets its defaults (each
// member's withDefaults, which names a field it refuses). All three fail
// with kerr.ErrInvalidConfig.
func Start[C any](c offsets.Cluster, h balance.Handler, cfg C, withDefaults func(C) (C, error)) (*cluster.Cluster, C, error) {
	cl, err := cluster.From(c)
	if err != nil {
		return nil, cfg, err
	}
	if h == nil {
		return nil, cfg, kerr.Config("Handler", "nil balance.Handler")
	}
	cfg, err = withDefaults(cfg)
	if err != nil {
		return nil, cfg, err
	}
	return cl, cfg, nil
}

// Logger is a member's logger: base (nil: the cluster's) with the group,
// the subscription's topics and pattern, and the client id if there is
// one.
func Logger(base *slog.Logger, cl *cluster.Cluster, group string, sub balance.Subscription, clientID string) *slog.Logger {
	if base == nil {
		base = cl.Logger()
	}
	log := base.With("group", group, "topics", sub.Topics)
	if sub.Pattern != nil {
		log = log.With("pattern", sub.Pattern.String())
	}
	if clientID != "" {
		log = log.With("client", clientID)
	}
	return log
}

// CheckGroup checks the group and the subscription of a consumer group
// member's Config (Kafka's protocols; a ZooKeeper group's name has rules
// of its own): the group id is required, and the subscription must pass
// balance.Subscription.Check, which copies and sorts its topics (the
// caller's slice may change after Join).
func CheckGroup(group string, sub balance.Subscription) (balance.Subscription, error) {
	if group == "" {
		return sub, kerr.Config("Config.Group", "the consumer group id is required")
	}
	return sub.Check("Config.Subscription")
}
