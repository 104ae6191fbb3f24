package offsets

import (
	"context"
	"errors"
	"fmt"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetch returns the group's committed offsets of topic's partitions
// (OffsetFetch v1 or newer). nil partitions means every partition the topic
// has now (from the cluster metadata).
//
// A partition the group never committed (or whose commit expired) is absent
// from the map; Kafka answers offset -1 for it, which Fetch never returns.
// A present Commit.Offset is the next offset to read.
//
// Fetch asks for stable offsets (RequireStable, OffsetFetch v7+): while a
// transaction that commits offsets of the group is pending, the broker
// answers UNSTABLE_OFFSET_COMMIT, which Fetch retries until the transaction
// ends. It retries coordinator moves and lost connections like Commit.
// Partitions that fail for good are reported as in Commit, next to the
// offsets that were fetched.
func (g *Group) Fetch(ctx context.Context, topic string, partitions []int32) (map[int32]Commit, error) {
	if topic == "" {
		return nil, fmt.Errorf("%w: empty topic name", kerr.ErrInvalidTopic)
	}
	ctx, cancel := withTimeout(ctx, g.opts.Timeout)
	defer cancel()
	if partitions == nil {
		t, err := topicMeta(ctx, g.cl, topic)
		if err != nil {
			return nil, fmt.Errorf("kafka: fetch offsets of %s for group %q: %w", topic, g.id, err)
		}
		for _, p := range t.Partitions {
			partitions = append(partitions, p.ID)
		}
	}
	got := map[int32]Commit{}
	failed := map[int32]error{}
	var ps []int32
	for _, p := range dedupe(partitions) {
		if p < 0 {
			failed[p] = fmt.Errorf("%w: partition %d", kerr.ErrUnknownPartition, p)
			continue
		}
		ps = append(ps, p)
	}
	for p, err := range g.settle(ctx, "fetch", ps, func(ctx context.Context, coord *cluster.Broker, ps []int32) (map[int32]error, error) {
		resp, err := coord.Request(ctx, g.fetchRequest(topic, ps))
		if err != nil {
			return nil, err
		}
		commits, outcome := fetchOutcome(resp.(*kmsg.OffsetFetchResponse), g.id, topic, ps)
		for p, c := range commits {
			got[p] = c // rounds run one after another: no lock needed
		}
		return outcome, nil
	}) {
		failed[p] = err
	}
	for p := range failed {
		delete(got, p)
	}
	return got, joinPartitionErrors("fetch", g.id, topic, failed)
}

// fetchRequest builds one OffsetFetch for partitions ps.
func (g *Group) fetchRequest(topic string, ps []int32) *kmsg.OffsetFetchRequest {
	req := kmsg.NewPtrOffsetFetchRequest()
	// The wire layer picks the version; fill both the v1-v7 form (one
	// group) and the v8+ form (a Groups array) and let the encoder write
	// the one it needs.
	req.Group = g.id
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = topic
	rt.Partitions = ps
	req.Topics = []kmsg.OffsetFetchRequestTopic{rt}
	rg := kmsg.NewOffsetFetchRequestGroup() // MemberEpoch -1: not a KIP-848 member
	rg.Group = g.id
	gt := kmsg.NewOffsetFetchRequestGroupTopic()
	gt.Topic = topic
	gt.Partitions = ps
	rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{gt}
	req.Groups = []kmsg.OffsetFetchRequestGroup{rg}
	req.RequireStable = true
	return req
}

// fetchOutcome reads an OffsetFetch response of either form: the committed
// offsets found, and each partition's outcome. A group-level error (v2+)
// becomes every partition's outcome.
func fetchOutcome(resp *kmsg.OffsetFetchResponse, group, topic string, ps []int32) (map[int32]Commit, map[int32]error) {
	commits := map[int32]Commit{}
	outcome := map[int32]error{}
	groupOutcome := func(err error) map[int32]error {
		for _, p := range ps {
			outcome[p] = err
		}
		return outcome
	}
	add := func(p int32, offset int64, epoch int32, meta *string, code int16) {
		if err := kerr.ForCode(code); err != nil {
			outcome[p] = fetchPartitionErr(err)
			return
		}
		outcome[p] = nil
		if offset < 0 {
			return // nothing committed
		}
		c := Commit{Offset: offset, LeaderEpoch: epoch}
		if meta != nil {
			c.Metadata = *meta
		}
		commits[p] = c
	}
	if resp.Version >= 8 {
		for _, rg := range resp.Groups {
			if rg.Group != group {
				continue
			}
			if err := kerr.ForCode(rg.ErrorCode); err != nil {
				return nil, groupOutcome(err)
			}
			for _, t := range rg.Topics {
				if t.Topic != topic {
					continue
				}
				for _, p := range t.Partitions {
					add(p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode)
				}
			}
		}
		return commits, outcome
	}
	if err := kerr.ForCode(resp.ErrorCode); err != nil {
		return nil, groupOutcome(err)
	}
	for _, t := range resp.Topics {
		if t.Topic != topic {
			continue
		}
		for _, p := range t.Partitions {
			epoch := p.LeaderEpoch
			if resp.Version < 5 {
				epoch = -1 // not in the response before v5
			}
			add(p.Partition, p.Offset, epoch, p.Metadata, p.ErrorCode)
		}
	}
	return commits, outcome
}

// fetchPartitionErr adjusts a partition error of OffsetFetch. Kafka's
// classic coordinator answered UNKNOWN_TOPIC_OR_PARTITION for a topic that
// does not exist; retrying cannot help, as Java's consumer concluded too.
func fetchPartitionErr(err error) error {
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return permanent(fmt.Errorf("%w: %w", kerr.ErrUnknownTopic, err))
	}
	return err
}
