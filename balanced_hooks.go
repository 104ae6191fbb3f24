package kafka

import (
	"context"
	"time"

	"github.com/gokafka/kafka/balance"
)

// hookedHandler wraps a balanced consumer's handler so that the client's
// rebalance hooks see each assignment change and how long the consumer
// took to handle it; without rebalance hooks it is h itself.
func hookedHandler(h balance.Handler, hooks *hookSet, group string) balance.Handler {
	if hooks == nil || len(hooks.rebalance) == 0 {
		return h
	}
	return rebalanceHooks{h, hooks, group}
}

type rebalanceHooks struct {
	h     balance.Handler
	hooks *hookSet
	group string
}

func (r rebalanceHooks) raise(kind RebalanceKind, tps []TopicPartition, start time.Time, err error) error {
	r.hooks.rebalanced(RebalanceEvent{Group: r.group, Kind: kind, Partitions: tps, Took: time.Since(start), Err: err})
	return err
}

func (r rebalanceHooks) Revoked(ctx context.Context, tps []TopicPartition) error {
	start := time.Now()
	return r.raise(RebalanceRevoked, tps, start, r.h.Revoked(ctx, tps))
}

func (r rebalanceHooks) Assigned(ctx context.Context, tps []TopicPartition) error {
	start := time.Now()
	return r.raise(RebalanceAssigned, tps, start, r.h.Assigned(ctx, tps))
}

func (r rebalanceHooks) Lost(ctx context.Context, tps []TopicPartition) error {
	start := time.Now()
	return r.raise(RebalanceLost, tps, start, r.h.Lost(ctx, tps))
}
