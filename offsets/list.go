package offsets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Special timestamps of List (Kafka's ListOffsets).
const (
	// Earliest asks for the log start offset: the oldest offset still
	// readable (0 until retention deletes or compaction removes data).
	Earliest int64 = -2
	// Latest asks for the log end offset: the offset the next message
	// produced will get, one past the last readable message. A consumer
	// that starts there reads only new messages.
	Latest int64 = -1
)

// Isolation selects which messages of transactions List counts.
type Isolation int8

const (
	// ReadUncommitted (the default) counts every message written: Latest is
	// the high watermark.
	ReadUncommitted Isolation = 0
	// ReadCommitted stops at the last stable offset, before the first
	// message of a still-open transaction: Latest is what a read_committed
	// consumer can reach.
	ReadCommitted Isolation = 1
)

// ListOption adjusts List.
type ListOption func(*listConfig)

type listConfig struct {
	isolation Isolation
}

// WithIsolation makes List answer for consumers of isolation level iso.
func WithIsolation(iso Isolation) ListOption {
	return func(c *listConfig) { c.isolation = iso }
}

// List returns an offset of each of the given partitions, of any topics,
// with ListOffsets v1 or newer: one request per partition leader, covering
// every partition it leads, all leaders in parallel.
//
//   - timestampMs Earliest: the log start offset;
//   - timestampMs Latest: the log end offset (see Isolation);
//   - timestampMs >= 0, a time in milliseconds since the Unix epoch: the
//     offset of the first message whose timestamp is at or after it. When
//     no message is that recent Kafka answers -1; List returns the log end
//     offset instead (what Latest returns), where a consumer seeking to that
//     time should start: it will read the next message produced.
//
// The caller names the partitions: there is no "every partition" form (take
// the partition count from the cluster metadata). Duplicates are asked once;
// an empty list sends nothing.
//
// Partitions whose leader moved (NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH,
// ...), is being elected (LEADER_NOT_AVAILABLE) or has not caught up yet
// (OFFSET_NOT_AVAILABLE) are retried, alone, after a metadata refresh, with
// backoff, until ctx ends (or DefaultTimeout passes when ctx has no
// deadline). Partitions that fail for good are reported as in Group.Commit,
// next to the offsets found: a topic the cluster does not know fails its
// partitions with kerr.ErrUnknownTopic, a partition it does not have with
// kerr.ErrUnknownPartition, an empty topic name with kerr.ErrInvalidTopic.
// A nil cluster, a timestamp below Earliest or an unknown Isolation fail the
// whole call with kerr.ErrInvalidConfig.
//
// List loads the metadata of the topics cl does not know yet, and cl keeps
// them refreshed from then on.
func List(ctx context.Context, c Cluster, partitions []TopicPartition, timestampMs int64, opts ...ListOption) (map[TopicPartition]int64, error) {
	var cfg listConfig
	for _, o := range opts {
		o(&cfg)
	}
	cl, err := cluster.From(c)
	switch {
	case err != nil:
		return nil, err
	case timestampMs < 0 && timestampMs != Earliest && timestampMs != Latest:
		return nil, kerr.Config("timestampMs", "%d is neither Earliest (-2), Latest (-1) nor a time (>= 0)", timestampMs)
	case cfg.isolation != ReadUncommitted && cfg.isolation != ReadCommitted:
		return nil, kerr.Config("Isolation", "unknown isolation level %d", cfg.isolation)
	}
	ctx, cancel := withTimeout(ctx, DefaultTimeout)
	defer cancel()

	l := &lister{cl: cl, isolation: cfg.isolation, query: map[TopicPartition]int64{}, found: map[TopicPartition]int64{}, failed: map[TopicPartition]error{}}
	var tps []TopicPartition
	var topics []string
	for _, tp := range dedupe(partitions) {
		if tp.Topic == "" {
			l.failed[tp] = fmt.Errorf("%w: empty topic name", kerr.ErrInvalidTopic)
			continue
		}
		if !slices.Contains(topics, tp.Topic) {
			topics = append(topics, tp.Topic)
		}
		tps = append(tps, tp)
	}
	if len(tps) == 0 {
		return l.found, joinPartitionErrors("list", "", l.failed)
	}
	metas, errs := topicMetas(ctx, cl, topics)
	// A partition our metadata does not have may have been added since:
	// look at its topic again, once, before failing it.
	var stale []string
	for _, tp := range tps {
		if t := metas[tp.Topic]; t != nil && !slices.Contains(stale, tp.Topic) {
			if _, err := t.Partition(tp.Partition); err != nil && tp.Partition >= 0 {
				stale = append(stale, tp.Topic)
			}
		}
	}
	if len(stale) > 0 {
		fresh, ferrs := refreshTopics(ctx, cl, stale)
		for _, topic := range stale {
			if fresh[topic] != nil {
				metas[topic] = fresh[topic]
			} else if !retriable(cl, ferrs[topic]) {
				delete(metas, topic)
				errs[topic] = ferrs[topic] // deleted meanwhile
			}
		}
	}
	var pending []TopicPartition
	for _, tp := range tps {
		if err := errs[tp.Topic]; err != nil {
			l.failed[tp] = err
			continue
		}
		if _, err := metas[tp.Topic].Partition(tp.Partition); err != nil {
			l.failed[tp] = err
			continue
		}
		l.query[tp] = timestampMs
		pending = append(pending, tp)
	}
	l.run(ctx, pending)
	return l.found, joinPartitionErrors("list", "", l.failed)
}

// lister is one List call.
type lister struct {
	cl        *cluster.Cluster
	isolation Isolation

	query  map[TopicPartition]int64 // the timestamp still to ask for, per pending partition
	found  map[TopicPartition]int64
	failed map[TopicPartition]error
}

// run asks the leaders of the pending partitions, one request per leader in
// parallel, until every partition is found or failed for good.
func (l *lister) run(ctx context.Context, pending []TopicPartition) {
	last := map[TopicPartition]error{}
	for attempt := 1; len(pending) > 0; {
		outcome := l.round(ctx, pending)
		var again []TopicPartition
		retry := false
		for _, tp := range pending {
			err := outcome[tp]
			switch {
			case err == nil:
				if l.query[tp] >= 0 && l.found[tp] < 0 {
					// No message at or after the time: ask for the
					// end offset, straight away.
					l.query[tp] = Latest
					delete(l.found, tp)
					again = append(again, tp)
				}
			case !retriable(l.cl, err) && !isContextErr(err):
				l.failed[tp] = err
			case ctx.Err() != nil:
				if isContextErr(err) && last[tp] != nil {
					err = last[tp]
				}
				l.failed[tp] = gaveUp(ctx, err)
			default:
				last[tp] = err
				again = append(again, tp)
				retry = true
			}
		}
		pending = again
		if !retry || len(pending) == 0 {
			continue
		}
		l.cl.Logger().Debug("offsets: list: retrying", "partitions", len(pending), "attempt", attempt)
		// The leaders we know are stale, or the new ones not ready:
		// refresh the metadata of the topics concerned, then back off.
		// A topic deleted meanwhile fails its partitions now.
		var topics []string
		for _, tp := range pending {
			if !slices.Contains(topics, tp.Topic) {
				topics = append(topics, tp.Topic)
			}
		}
		_, errs := refreshTopics(ctx, l.cl, topics)
		pending = slices.DeleteFunc(pending, func(tp TopicPartition) bool {
			if err := errs[tp.Topic]; err != nil && !retriable(l.cl, err) && !isContextErr(err) {
				l.failed[tp] = err
				return true
			}
			return false
		})
		if len(pending) == 0 {
			return
		}
		if err := sleep(ctx, l.cl, attempt); err != nil {
			for _, tp := range pending {
				if errors.Is(err, kerr.ErrClosed) {
					l.failed[tp] = err
				} else {
					l.failed[tp] = gaveUp(ctx, last[tp])
				}
			}
			return
		}
		attempt++
	}
}

// leaderReq is one ListOffsets request of a round: every pending partition
// that one broker leads, of any topics.
type leaderReq struct {
	b      *cluster.Broker
	req    *kmsg.ListOffsetsRequest
	topics map[string]int // index of each topic in req.Topics
	asked  []TopicPartition
}

// round sends one ListOffsets per leader, covering all the pending
// partitions it leads, and returns each partition's outcome; the offsets
// found go to l.found.
func (l *lister) round(ctx context.Context, pending []TopicPartition) map[TopicPartition]error {
	byLeader, outcome := l.plan(pending)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, lr := range byLeader {
		wg.Go(func() {
			resp, err := lr.b.Request(ctx, lr.req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				for _, tp := range lr.asked {
					outcome[tp] = err
				}
				return
			}
			l.apply(resp.(*kmsg.ListOffsetsResponse), lr.asked, outcome)
		})
	}
	wg.Wait()
	return outcome
}

// plan builds a round's requests, one per leader, from the current
// metadata. A partition without a leader gets its outcome here instead.
func (l *lister) plan(pending []TopicPartition) (map[int32]*leaderReq, map[TopicPartition]error) {
	outcome := make(map[TopicPartition]error, len(pending))
	byLeader := map[int32]*leaderReq{}
	for _, tp := range pending {
		b, meta, err := l.cl.Leader(tp.Topic, tp.Partition)
		if err != nil {
			if errors.Is(err, kerr.ErrUnknownTopic) || errors.Is(err, kerr.ErrUnknownPartition) {
				err = permanent(err) // deleted meanwhile: no leader will come
			}
			outcome[tp] = err
			continue
		}
		lr := byLeader[b.ID]
		if lr == nil {
			req := kmsg.NewPtrListOffsetsRequest() // ReplicaID -1: a consumer
			req.IsolationLevel = int8(l.isolation)
			lr = &leaderReq{b: b, req: req, topics: map[string]int{}}
			byLeader[b.ID] = lr
		}
		i, ok := lr.topics[tp.Topic]
		if !ok {
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = tp.Topic
			i = len(lr.req.Topics)
			lr.req.Topics = append(lr.req.Topics, rt)
			lr.topics[tp.Topic] = i
		}
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = tp.Partition
		// Our leader epoch lets the broker tell us when our metadata
		// is stale (FENCED_LEADER_EPOCH) or its own (UNKNOWN_LEADER_EPOCH).
		rp.CurrentLeaderEpoch = meta.LeaderEpoch
		rp.Timestamp = l.query[tp]
		rp.MaxNumOffsets = 1 // v0 only, which gokafka never sends
		lr.req.Topics[i].Partitions = append(lr.req.Topics[i].Partitions, rp)
		lr.asked = append(lr.asked, tp)
	}
	return byLeader, outcome
}

// apply records one ListOffsets response. Caller holds the round's lock.
func (l *lister) apply(resp *kmsg.ListOffsetsResponse, asked []TopicPartition, outcome map[TopicPartition]error) {
	isAsked := make(map[TopicPartition]bool, len(asked))
	for _, tp := range asked {
		isAsked[tp] = true
		outcome[tp] = fmt.Errorf("%w: partition missing from the ListOffsets response", kerr.ErrCorruptResponse)
	}
	for _, t := range resp.Topics {
		for _, rp := range t.Partitions {
			tp := TopicPartition{Topic: t.Topic, Partition: rp.Partition}
			if !isAsked[tp] {
				continue
			}
			if err := kerr.ForCode(rp.ErrorCode); err != nil {
				outcome[tp] = err
				continue
			}
			outcome[tp] = nil
			l.found[tp] = rp.Offset
		}
	}
}
