package offsets

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetch returns the group's committed offsets of the given partitions, of
// any topics, with one OffsetFetch request (v1 or newer). Duplicates are
// asked once; an empty list sends nothing. To learn every partition the
// group has committed, use FetchAll.
//
// A partition the group never committed (or whose commit expired) is absent
// from the map; Kafka answers offset -1 for it, which Fetch never returns.
// A present Commit.Offset is the next offset to read.
//
// Fetch asks for stable offsets (RequireStable, OffsetFetch v7+): while a
// transaction that commits offsets of the group is pending, the broker
// answers UNSTABLE_OFFSET_COMMIT, which Fetch retries, for those partitions
// alone, until the transaction ends. It retries coordinator moves and lost
// connections like Commit. Partitions that fail for good are reported as in
// Commit (an empty topic name fails with kerr.ErrInvalidTopic, a negative
// partition with kerr.ErrUnknownPartition), next to the offsets that were
// fetched.
func (g *Group) Fetch(ctx context.Context, partitions []TopicPartition) (map[TopicPartition]Commit, error) {
	ctx, cancel := withTimeout(ctx, g.opts.Timeout)
	defer cancel()
	got, failed := g.fetch(ctx, partitions)
	return got, joinPartitionErrors("fetch", g.id, failed)
}

// fetch is Fetch, under a context that already has its deadline, returning
// the failed partitions.
func (g *Group) fetch(ctx context.Context, partitions []TopicPartition) (map[TopicPartition]Commit, map[TopicPartition]error) {
	got := map[TopicPartition]Commit{}
	tps, failed := checkPartitions(partitions)
	for tp, err := range settle(ctx, g, "fetch", tps, func(ctx context.Context, coord *cluster.Broker, tps []TopicPartition) (map[TopicPartition]error, error) {
		resp, err := coord.Request(ctx, g.fetchRequest(tps))
		if err != nil {
			return nil, err
		}
		commits, outcome, gerr := fetchOutcome(resp.(*kmsg.OffsetFetchResponse), g.id)
		if gerr != nil {
			// A group-level error (v2+) is every partition's.
			outcome = make(map[TopicPartition]error, len(tps))
			for _, tp := range tps {
				outcome[tp] = gerr
			}
			return outcome, nil
		}
		for _, tp := range tps {
			if c, ok := commits[tp]; ok {
				got[tp] = c // rounds run one after another: no lock needed
			}
		}
		return outcome, nil
	}) {
		failed[tp] = err
	}
	for tp := range failed {
		delete(got, tp)
	}
	return got, failed
}

// wholeGroup is the one key of FetchAll's request, which covers the group
// rather than a list of partitions.
type wholeGroup struct{}

// FetchAll returns every offset the group has committed, of every topic,
// with one OffsetFetch request for all topics (v2 or newer; an older version
// fails with kerr.ErrUnsupportedVersion). It is how tools inspect or copy a
// group's offsets without knowing its topics.
//
// It retries like Fetch; partitions answered with a retriable error
// (UNSTABLE_OFFSET_COMMIT) are fetched again, alone, with Fetch. An error
// of the whole request (the group is not authorized, the coordinator never
// came back) is returned alone; failed partitions are reported as in Fetch,
// next to the offsets that were fetched.
func (g *Group) FetchAll(ctx context.Context) (map[TopicPartition]Commit, error) {
	ctx, cancel := withTimeout(ctx, g.opts.Timeout)
	defer cancel()
	got := map[TopicPartition]Commit{}
	failed := map[TopicPartition]error{}
	var again []TopicPartition
	whole := settle(ctx, g, "fetch", []wholeGroup{{}}, func(ctx context.Context, coord *cluster.Broker, _ []wholeGroup) (map[wholeGroup]error, error) {
		resp, err := coord.Request(ctx, g.fetchRequest(nil))
		if err != nil {
			return nil, err
		}
		r := resp.(*kmsg.OffsetFetchResponse)
		if r.Version < 2 {
			// v1 has no "all topics" form: it answered for none.
			return map[wholeGroup]error{{}: fmt.Errorf("%w: fetching all of a group's offsets needs OffsetFetch v2, the broker connection speaks v%d", kerr.ErrUnsupportedVersion, r.Version)}, nil
		}
		commits, outcome, gerr := fetchOutcome(r, g.id)
		if gerr != nil {
			return map[wholeGroup]error{{}: gerr}, nil
		}
		maps.Copy(got, commits) // the round that answers is the last
		for tp, err := range outcome {
			switch {
			case err == nil:
			case retriable(g.cl, err):
				again = append(again, tp)
			default:
				failed[tp] = err
			}
		}
		return map[wholeGroup]error{{}: nil}, nil
	})
	if err := whole[wholeGroup{}]; err != nil {
		return nil, fmt.Errorf("kafka: fetch the offsets of group %q: %w", g.id, err)
	}
	if len(again) > 0 {
		more, f := g.fetch(ctx, again)
		maps.Copy(got, more)
		maps.Copy(failed, f)
	}
	for tp := range failed {
		delete(got, tp)
	}
	return got, joinPartitionErrors("fetch", g.id, failed)
}

// fetchRequest builds one OffsetFetch for partitions tps, grouped by topic;
// nil tps asks for every topic (null topics, v2+).
func (g *Group) fetchRequest(tps []TopicPartition) *kmsg.OffsetFetchRequest {
	req := kmsg.NewPtrOffsetFetchRequest()
	// The wire layer picks the version; fill both the v1-v7 form (one
	// group) and the v8+ form (a Groups array) and let the encoder write
	// the one it needs.
	req.Group = g.id
	rg := kmsg.NewOffsetFetchRequestGroup() // MemberEpoch -1: not a KIP-848 member
	rg.Group = g.id
	if tps != nil { // nil stays nil in both forms: null, all topics
		topics := byTopic(tps)
		req.Topics = make([]kmsg.OffsetFetchRequestTopic, 0, len(topics))
		rg.Topics = make([]kmsg.OffsetFetchRequestGroupTopic, 0, len(topics))
		for _, t := range topics {
			rt := kmsg.NewOffsetFetchRequestTopic()
			rt.Topic = t.topic
			rt.Partitions = t.parts
			req.Topics = append(req.Topics, rt)
			gt := kmsg.NewOffsetFetchRequestGroupTopic()
			gt.Topic = t.topic
			gt.Partitions = t.parts
			rg.Topics = append(rg.Topics, gt)
		}
	}
	req.Groups = []kmsg.OffsetFetchRequestGroup{rg}
	req.RequireStable = true
	return req
}

// fetchOutcome reads an OffsetFetch response of either form: the committed
// offsets found and each partition's outcome, or the group-level error (v2+)
// that stands for every partition.
func fetchOutcome(resp *kmsg.OffsetFetchResponse, group string) (commits map[TopicPartition]Commit, outcome map[TopicPartition]error, groupErr error) {
	commits = map[TopicPartition]Commit{}
	outcome = map[TopicPartition]error{}
	add := func(tp TopicPartition, offset int64, epoch int32, meta *string, code int16) {
		if err := kerr.ForCode(code); err != nil {
			outcome[tp] = fetchPartitionErr(err)
			return
		}
		outcome[tp] = nil
		if offset < 0 {
			return // nothing committed
		}
		c := Commit{Offset: offset, LeaderEpoch: epoch}
		if meta != nil {
			c.Metadata = *meta
		}
		commits[tp] = c
	}
	if resp.Version >= 8 {
		for _, rg := range resp.Groups {
			if rg.Group != group {
				continue
			}
			if err := kerr.ForCode(rg.ErrorCode); err != nil {
				return nil, nil, err
			}
			for _, t := range rg.Topics {
				for _, p := range t.Partitions {
					add(TopicPartition{Topic: t.Topic, Partition: p.Partition}, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode)
				}
			}
		}
		return commits, outcome, nil
	}
	if err := kerr.ForCode(resp.ErrorCode); err != nil {
		return nil, nil, err
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			epoch := p.LeaderEpoch
			if resp.Version < 5 {
				epoch = -1 // not in the response before v5
			}
			add(TopicPartition{Topic: t.Topic, Partition: p.Partition}, p.Offset, epoch, p.Metadata, p.ErrorCode)
		}
	}
	return commits, outcome, nil
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
