package offsets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Commit is a committed offset of one partition.
type Commit struct {
	// Offset is the NEXT offset to consume: the offset of the last message
	// processed plus one. A consumer restarting from this commit begins
	// at Offset. (Committing the last processed offset itself would read
	// that message twice after every restart.)
	Offset int64
	// LeaderEpoch is the leader epoch of the last consumed record (from
	// its record batch), or -1 if unknown. Consumers that find it in a
	// commit use it to detect log truncation (KIP-320). Epoch 0 is a real
	// epoch, so a Commit built by hand needs -1 here: use At.
	LeaderEpoch int32
	// Metadata is free text stored with the offset (the broker caps it,
	// 4096 bytes by default: offset.metadata.max.bytes).
	Metadata string
}

// At returns a Commit of offset with an unknown leader epoch and no
// metadata.
func At(offset int64) Commit { return Commit{Offset: offset, LeaderEpoch: -1} }

// Generation identifies the group membership a commit is made under.
//
// The zero value is a "simple" commit, made outside of any membership
// (generation -1, no member id): what a consumer that assigns its own
// partitions does, like PyKafka's SimpleConsumer. The broker accepts it only
// while the group has no active members.
//
// A member of a group (a balanced consumer) commits with the generation id
// and member id that its JoinGroup returned; the broker then rejects commits
// from a stale generation (ILLEGAL_GENERATION), from a member it dropped
// (UNKNOWN_MEMBER_ID) or made during a rebalance (REBALANCE_IN_PROGRESS), so
// that a consumer that lost its partitions cannot overwrite the offsets of
// the one that took them over.
//
// A member of a group on the consumer protocol (KIP-848, balance/consumer)
// has no generations: ID is its member epoch, which OffsetCommit v9 and
// newer carry in the same field (GenerationIDOrMemberEpoch; Kafka refuses a
// consumer-protocol member's commit at an older version). The coordinator
// takes a commit at the member's current epoch; one at an older epoch only
// for partitions the member owned since that epoch (Kafka 4.3, KIP-1251;
// Kafka 4.0-4.2 take the current epoch only), and refuses the others with
// STALE_MEMBER_EPOCH; a member it dropped gets UNKNOWN_MEMBER_ID.
type Generation struct {
	ID         int32   // generation id, or member epoch; ignored (sent as -1) while MemberID is empty
	MemberID   string  // empty: simple commit
	InstanceID *string // static membership (KIP-345), or nil
}

func (gen Generation) id() int32 {
	if gen.MemberID == "" {
		return -1
	}
	return gen.ID
}

// Commit stores the offsets of any number of partitions, of any topics, for
// the group, in one OffsetCommit request (v2 or newer; offsets are kept until
// the group is empty plus the broker's offsets.retention.minutes, as Kafka
// 2.1+ does for every commit).
//
// Each Commit.Offset is the next offset to read: last consumed + 1.
//
// Every partition has its own outcome. Partitions that fail retriably (the
// coordinator moved or is loading, REQUEST_TIMED_OUT, a lost connection) are
// retried, alone, with backoff, until they succeed or ctx ends (or
// GroupOptions.Timeout passes when ctx has no deadline). Partitions that fail
// for good are reported in the returned error (see PartitionError and
// Partitions); the others are committed. The errors a group member must
// react to match with errors.Is: kerr.IllegalGeneration,
// kerr.UnknownMemberID, kerr.RebalanceInProgress, kerr.FencedInstanceID,
// kerr.StaleMemberEpoch (consumer protocol), and
// kerr.OffsetMetadataTooLarge for metadata past the broker's limit. A
// topic or partition that the cluster's metadata confirms does not exist
// fails at once, alone, with kerr.ErrUnknownTopic or
// kerr.ErrUnknownPartition; an empty topic name with kerr.ErrInvalidTopic, a
// negative partition with kerr.ErrUnknownPartition, a negative offset with
// kerr.ErrInvalidConfig (none of these is sent). An empty offsets map sends
// nothing and returns nil.
func (g *Group) Commit(ctx context.Context, offsets map[TopicPartition]Commit, gen Generation) error {
	return joinPartitionErrors("commit", g.id, g.commit(ctx, offsets, gen))
}

// commit is Commit returning the failed partitions, for the auto-committer
// that needs to know which partitions did commit.
func (g *Group) commit(ctx context.Context, offsets map[TopicPartition]Commit, gen Generation) (failed map[TopicPartition]error) {
	if len(offsets) == 0 {
		return nil
	}
	if g.opts.OnCommit != nil {
		defer func(start time.Time) { g.opts.OnCommit(offsets, failed, time.Since(start)) }(time.Now())
	}
	ctx, cancel := withTimeout(ctx, g.opts.Timeout)
	defer cancel()
	tps, failed := checkCommits(offsets)
	for tp, err := range settle(ctx, g, "commit", tps, func(ctx context.Context, coord *cluster.Broker, tps []TopicPartition) (map[TopicPartition]error, error) {
		resp, err := coord.Request(ctx, g.commitRequest(offsets, tps, gen))
		if err != nil {
			return nil, err
		}
		outcome := commitOutcome(resp.(*kmsg.OffsetCommitResponse))
		confirmUnknown(ctx, g.cl, outcome)
		return outcome, nil
	}) {
		failed[tp] = err
	}
	return failed
}

// checkCommits splits offsets into the partitions to send and those that
// fail before anything is sent (checkPartition, a negative offset), for
// Commit and TxnCommit.
func checkCommits(offsets map[TopicPartition]Commit) (tps []TopicPartition, failed map[TopicPartition]error) {
	failed = map[TopicPartition]error{}
	tps = make([]TopicPartition, 0, len(offsets))
	for tp, c := range offsets {
		if err := checkPartition(tp); err != nil {
			failed[tp] = err
			continue
		}
		if c.Offset < 0 {
			// The broker would store it, and every consumer of the
			// group would then start from its reset policy: almost
			// certainly a caller passing an unset position.
			failed[tp] = kerr.Config("Commit.Offset", "negative offset %d", c.Offset)
			continue
		}
		tps = append(tps, tp)
	}
	return tps, failed
}

// checkPartitions is partitions without repeats, split into those to send
// and those that fail checkPartition, for Fetch and DeleteOffsets.
func checkPartitions(partitions []TopicPartition) (tps []TopicPartition, failed map[TopicPartition]error) {
	failed = map[TopicPartition]error{}
	for _, tp := range dedupe(partitions) {
		if err := checkPartition(tp); err != nil {
			failed[tp] = err
			continue
		}
		tps = append(tps, tp)
	}
	return tps, failed
}

// checkPartition refuses what no broker could have: an empty topic name, a
// negative partition.
func checkPartition(tp TopicPartition) error {
	if tp.Topic == "" {
		return fmt.Errorf("%w: empty topic name", kerr.ErrInvalidTopic)
	}
	if tp.Partition < 0 {
		return fmt.Errorf("%w: partition %d", kerr.ErrUnknownPartition, tp.Partition)
	}
	return nil
}

// commitRequest builds one OffsetCommit for partitions tps, grouped by topic.
func (g *Group) commitRequest(offsets map[TopicPartition]Commit, tps []TopicPartition, gen Generation) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest() // RetentionTimeMillis -1: the broker's retention
	req.Group = g.id
	req.Generation = gen.id()
	req.MemberID = gen.MemberID
	req.InstanceID = gen.InstanceID
	req.Topics = commitTopics(offsets, tps, func(topic string, ps []kmsg.OffsetCommitRequestTopicPartition) kmsg.OffsetCommitRequestTopic {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic, rt.Partitions = topic, ps
		return rt
	}, func(p int32, c Commit, meta *string) kmsg.OffsetCommitRequestTopicPartition {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = p, c.Offset, c.LeaderEpoch, meta
		return rp
	})
	return req
}

// commitTopics is the topics of a commit request (OffsetCommit or
// TxnOffsetCommit) for partitions tps, grouped by topic: part makes a
// partition's entry from its Commit, topic a topic's from its entries.
func commitTopics[T, P any](offsets map[TopicPartition]Commit, tps []TopicPartition, topic func(string, []P) T, part func(p int32, c Commit, meta *string) P) []T {
	topics := byTopic(tps)
	out := make([]T, 0, len(topics))
	// Every partition's metadata is a *string: point into one slice
	// rather than allocating a string header per partition.
	metas := make([]string, 0, len(tps))
	for _, t := range topics {
		ps := make([]P, 0, len(t.parts))
		for _, p := range t.parts {
			c := offsets[TopicPartition{Topic: t.topic, Partition: p}]
			metas = append(metas, c.Metadata)
			ps = append(ps, part(p, c, &metas[len(metas)-1]))
		}
		out = append(out, topic(t.topic, ps))
	}
	return out
}

// commitOutcome reads each partition's error from an OffsetCommit response.
// Group-level errors (NOT_COORDINATOR, ILLEGAL_GENERATION, ...) come
// repeated in every partition.
func commitOutcome(resp *kmsg.OffsetCommitResponse) map[TopicPartition]error {
	out := map[TopicPartition]error{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out[TopicPartition{Topic: t.Topic, Partition: p.Partition}] = kerr.ForCode(p.ErrorCode)
		}
	}
	return out
}

// confirmUnknown settles UNKNOWN_TOPIC_OR_PARTITION answers. Kafka calls the
// code retriable, for the coordinator may not know a topic created a moment
// ago; but a topic or partition that does not exist would be retried until
// the deadline. So ask the cluster's metadata, once for all the topics
// concerned: if it does not have the topic or partition either, the error
// becomes permanent (kerr.ErrUnknownTopic or kerr.ErrUnknownPartition), for
// that topic's partitions alone.
func confirmUnknown(ctx context.Context, cl *cluster.Cluster, outcome map[TopicPartition]error) {
	var topics []string
	for tp, err := range outcome {
		if errors.Is(err, kerr.UnknownTopicOrPartition) && !slices.Contains(topics, tp.Topic) {
			topics = append(topics, tp.Topic)
		}
	}
	if len(topics) == 0 {
		return
	}
	metas, errs := refreshTopics(ctx, cl, topics)
	for tp, err := range outcome {
		if !errors.Is(err, kerr.UnknownTopicOrPartition) {
			continue
		}
		if terr := errs[tp.Topic]; terr != nil {
			if !retriable(cl, terr) {
				outcome[tp] = terr // permanent: wraps kerr.ErrUnknownTopic
			}
			continue
		}
		if n := len(metas[tp.Topic].Partitions); int(tp.Partition) >= n {
			outcome[tp] = permanent(fmt.Errorf("%w: %s (topic has %d partitions): %w", kerr.ErrUnknownPartition, tp, n, err))
		}
	}
}
