package offsets

import (
	"context"
	"fmt"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Requests to a group's coordinator other than commits and fetches: the
// admin calls (describe a group, delete its offsets or the group).

// Request sends req to the group's coordinator and gives the response to
// check, retrying as Commit does: while check's error (or the request's)
// says the coordinator moved or is loading (NOT_COORDINATOR,
// COORDINATOR_LOAD_IN_PROGRESS, a lost connection, ...; see
// CoordinatorMoved), the coordinator is looked up again and req sent again,
// with backoff, until ctx ends (or GroupOptions.Timeout passes when ctx has
// no deadline). check must return the group-level error of the response
// (kerr.ForCode of its code) so that Request can tell what to retry; any
// other error ends the call. It returns the node id of the coordinator that
// answered last. The root's admin calls describe and delete groups with it.
func (g *Group) Request(ctx context.Context, op string, req kmsg.Request, check func(kmsg.Response) error) (coordinator int32, err error) {
	ctx, cancel := withTimeout(ctx, g.opts.Timeout)
	defer cancel()
	coordinator = -1
	failed := settle(ctx, g, op, []wholeGroup{{}}, func(ctx context.Context, coord *cluster.Broker, _ []wholeGroup) (map[wholeGroup]error, error) {
		coordinator = coord.ID
		resp, err := coord.Request(ctx, req)
		if err != nil {
			return nil, err
		}
		return map[wholeGroup]error{{}: check(resp)}, nil
	})
	if err := failed[wholeGroup{}]; err != nil {
		return coordinator, fmt.Errorf("kafka: %s for group %q: %w", op, g.id, err)
	}
	return coordinator, nil
}

// DeleteOffsets removes the group's committed offsets of the given
// partitions (OffsetDelete, Kafka 2.4+), so that a consumer of the group
// starts them from its reset policy and kafka-consumer-groups stops
// listing them. Duplicates are asked once; an empty list sends nothing.
//
// The broker refuses a partition of a topic that a live member of the
// group subscribes to (kerr.GroupSubscribedToTopic), a group that does not
// exist (kerr.GroupIDNotFound, for every partition) and a group that is
// not a consumer group (kerr.NonEmptyGroup is not among them: the group may
// have members, only not on these topics). Failures are reported as in
// Commit, one *PartitionError per partition; the other partitions' offsets
// are deleted. Deleting an offset that was never committed succeeds.
func (g *Group) DeleteOffsets(ctx context.Context, partitions []TopicPartition) error {
	ctx, cancel := withTimeout(ctx, g.opts.Timeout)
	defer cancel()
	tps, failed := checkPartitions(partitions)
	for tp, err := range settle(ctx, g, "delete", tps, func(ctx context.Context, coord *cluster.Broker, tps []TopicPartition) (map[TopicPartition]error, error) {
		req := kmsg.NewPtrOffsetDeleteRequest()
		req.Group = g.id
		for _, t := range byTopic(tps) {
			rt := kmsg.NewOffsetDeleteRequestTopic()
			rt.Topic = t.topic
			for _, p := range t.parts {
				rp := kmsg.NewOffsetDeleteRequestTopicPartition()
				rp.Partition = p
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
		}
		resp, err := coord.Request(ctx, req)
		if err != nil {
			return nil, err
		}
		r := resp.(*kmsg.OffsetDeleteResponse)
		outcome := make(map[TopicPartition]error, len(tps))
		if gerr := kerr.ForCode(r.ErrorCode); gerr != nil {
			for _, tp := range tps {
				outcome[tp] = gerr
			}
			return outcome, nil
		}
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				outcome[TopicPartition{Topic: t.Topic, Partition: p.Partition}] = kerr.ForCode(p.ErrorCode)
			}
		}
		confirmUnknown(ctx, g.cl, outcome)
		return outcome, nil
	}) {
		failed[tp] = err
	}
	return joinPartitionErrors("delete", g.id, failed)
}
