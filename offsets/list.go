package offsets

import (
	"context"
	"errors"
	"fmt"
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

// List returns an offset of each of topic's partitions (nil partitions: every
// partition), with ListOffsets v1 or newer sent to each partition's leader:
//
//   - timestampMs Earliest: the log start offset;
//   - timestampMs Latest: the log end offset (see Isolation);
//   - timestampMs >= 0, a time in milliseconds since the Unix epoch: the
//     offset of the first message whose timestamp is at or after it. When
//     no message is that recent Kafka answers -1; List returns the log end
//     offset instead (what Latest returns), where a consumer seeking to that
//     time should start: it will read the next message produced.
//
// Partitions whose leader moved (NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH,
// ...), is being elected (LEADER_NOT_AVAILABLE) or has not caught up yet
// (OFFSET_NOT_AVAILABLE) are retried after a metadata refresh, with backoff,
// until ctx ends (or DefaultTimeout passes when ctx has no deadline).
// Partitions that fail for good are reported as in Group.Commit, next to the
// offsets found. A topic the cluster does not know fails with
// kerr.ErrUnknownTopic, a partition it does not have with
// kerr.ErrUnknownPartition, another timestamp with kerr.ErrInvalidConfig.
//
// List loads and then keeps tracking the topic's metadata in cl.
func List(ctx context.Context, cl *cluster.Cluster, topic string, partitions []int32, timestampMs int64, opts ...ListOption) (map[int32]int64, error) {
	var cfg listConfig
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case cl == nil:
		return nil, kerr.Config("cluster", "nil *cluster.Cluster")
	case topic == "":
		return nil, fmt.Errorf("%w: empty topic name", kerr.ErrInvalidTopic)
	case timestampMs < 0 && timestampMs != Earliest && timestampMs != Latest:
		return nil, kerr.Config("timestampMs", "%d is neither Earliest (-2), Latest (-1) nor a time (>= 0)", timestampMs)
	case cfg.isolation != ReadUncommitted && cfg.isolation != ReadCommitted:
		return nil, kerr.Config("Isolation", "unknown isolation level %d", cfg.isolation)
	}
	ctx, cancel := withTimeout(ctx, DefaultTimeout)
	defer cancel()

	t, err := topicMeta(ctx, cl, topic)
	if err != nil {
		return nil, fmt.Errorf("kafka: list offsets of %s: %w", topic, err)
	}
	if partitions == nil {
		for _, p := range t.Partitions {
			partitions = append(partitions, p.ID)
		}
	}
	l := &lister{cl: cl, topic: topic, isolation: cfg.isolation, query: map[int32]int64{}, found: map[int32]int64{}, failed: map[int32]error{}}
	var pending []int32
	for _, p := range dedupe(partitions) {
		if _, err := t.Partition(p); err != nil {
			// Perhaps partitions were added since our metadata: look
			// again once before failing.
			if fresh, rerr := refreshTopic(ctx, cl, topic); rerr == nil {
				t = fresh
				_, err = t.Partition(p)
			}
			if err != nil {
				l.failed[p] = err
				continue
			}
		}
		l.query[p] = timestampMs
		pending = append(pending, p)
	}
	l.run(ctx, pending)
	return l.found, joinPartitionErrors("list", "", topic, l.failed)
}

// lister is one List call.
type lister struct {
	cl        *cluster.Cluster
	topic     string
	isolation Isolation

	query  map[int32]int64 // the timestamp still to ask for, per pending partition
	found  map[int32]int64
	failed map[int32]error
}

// run asks the leaders of the pending partitions, one request per leader in
// parallel, until every partition is found or failed for good.
func (l *lister) run(ctx context.Context, pending []int32) {
	last := map[int32]error{}
	for attempt := 1; len(pending) > 0; {
		outcome := l.round(ctx, pending)
		var again []int32
		retry := false
		for _, p := range pending {
			err := outcome[p]
			switch {
			case err == nil:
				if l.query[p] >= 0 && l.found[p] < 0 {
					// No message at or after the time: ask for the
					// end offset, straight away.
					l.query[p] = Latest
					delete(l.found, p)
					again = append(again, p)
				}
			case !retriable(l.cl, err) && !isContextErr(err):
				l.failed[p] = err
			case ctx.Err() != nil:
				if isContextErr(err) && last[p] != nil {
					err = last[p]
				}
				l.failed[p] = gaveUp(ctx, err)
			default:
				last[p] = err
				again = append(again, p)
				retry = true
			}
		}
		pending = again
		if !retry || len(pending) == 0 {
			continue
		}
		l.cl.Logger().Debug("offsets: list: retrying", "topic", l.topic, "partitions", len(pending), "attempt", attempt)
		// The leaders we know are stale, or the new ones not ready:
		// refresh the metadata, then back off.
		if _, err := refreshTopic(ctx, l.cl, l.topic); err != nil && !retriable(l.cl, err) && !isContextErr(err) {
			for _, p := range pending {
				l.failed[p] = err
			}
			return
		}
		if err := sleep(ctx, l.cl, attempt); err != nil {
			for _, p := range pending {
				if errors.Is(err, kerr.ErrClosed) {
					l.failed[p] = err
				} else {
					l.failed[p] = gaveUp(ctx, last[p])
				}
			}
			return
		}
		attempt++
	}
}

// round sends one ListOffsets per leader and returns each partition's
// outcome; the offsets found go to l.found.
func (l *lister) round(ctx context.Context, pending []int32) map[int32]error {
	outcome := make(map[int32]error, len(pending))
	type leaderReq struct {
		b   *cluster.Broker
		req *kmsg.ListOffsetsRequest
		ps  []int32
	}
	byLeader := map[int32]*leaderReq{}
	for _, p := range pending {
		b, meta, err := l.cl.Leader(l.topic, p)
		if err != nil {
			if errors.Is(err, kerr.ErrUnknownTopic) || errors.Is(err, kerr.ErrUnknownPartition) {
				err = permanent(err) // deleted meanwhile: no leader will come
			}
			outcome[p] = err
			continue
		}
		lr := byLeader[b.ID]
		if lr == nil {
			req := kmsg.NewPtrListOffsetsRequest() // ReplicaID -1: a consumer
			req.IsolationLevel = int8(l.isolation)
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = l.topic
			req.Topics = []kmsg.ListOffsetsRequestTopic{rt}
			lr = &leaderReq{b: b, req: req}
			byLeader[b.ID] = lr
		}
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = p
		// Our leader epoch lets the broker tell us when our metadata
		// is stale (FENCED_LEADER_EPOCH) or its own (UNKNOWN_LEADER_EPOCH).
		rp.CurrentLeaderEpoch = meta.LeaderEpoch
		rp.Timestamp = l.query[p]
		rp.MaxNumOffsets = 1 // v0 only, which gokafka never sends
		lr.req.Topics[0].Partitions = append(lr.req.Topics[0].Partitions, rp)
		lr.ps = append(lr.ps, p)
	}

	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, lr := range byLeader {
		wg.Go(func() {
			resp, err := lr.b.Request(ctx, lr.req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				for _, p := range lr.ps {
					outcome[p] = err
				}
				return
			}
			l.apply(resp.(*kmsg.ListOffsetsResponse), lr.ps, outcome)
		})
	}
	wg.Wait()
	return outcome
}

// apply records one ListOffsets response. Caller holds the round's lock.
func (l *lister) apply(resp *kmsg.ListOffsetsResponse, asked []int32, outcome map[int32]error) {
	isAsked := make(map[int32]bool, len(asked))
	for _, p := range asked {
		isAsked[p] = true
		outcome[p] = fmt.Errorf("%w: partition missing from the ListOffsets response", kerr.ErrCorruptResponse)
	}
	for _, t := range resp.Topics {
		if t.Topic != l.topic {
			continue
		}
		for _, rp := range t.Partitions {
			if !isAsked[rp.Partition] {
				continue
			}
			if err := kerr.ForCode(rp.ErrorCode); err != nil {
				outcome[rp.Partition] = err
				continue
			}
			outcome[rp.Partition] = nil
			l.found[rp.Partition] = rp.Offset
		}
	}
}

// topicMeta returns the topic's metadata, loading it if cl has none yet and
// retrying while the cluster answers with a retriable error (a topic whose
// leaders are still being elected). A topic the cluster does not know fails
// at once with kerr.ErrUnknownTopic.
func topicMeta(ctx context.Context, cl *cluster.Cluster, topic string) (*cluster.TopicMeta, error) {
	if t, err := cl.Snapshot().Topic(topic); err == nil {
		return t, nil
	}
	var last error
	for attempt := 1; ; attempt++ {
		t, err := refreshTopic(ctx, cl, topic)
		if err == nil {
			return t, nil
		}
		if ctx.Err() != nil {
			return nil, gaveUp(ctx, last)
		}
		if !retriable(cl, err) {
			return nil, err
		}
		last = err
		if serr := sleep(ctx, cl, attempt); serr != nil {
			if errors.Is(serr, kerr.ErrClosed) {
				return nil, serr
			}
			return nil, gaveUp(ctx, last)
		}
	}
}

// refreshTopic loads the topic's metadata now. An unknown topic is a
// permanent error here, though the broker's code for it is retriable: the
// cluster has just said so.
func refreshTopic(ctx context.Context, cl *cluster.Cluster, topic string) (*cluster.TopicMeta, error) {
	if err := cl.RefreshTopics(ctx, topic); err != nil {
		return nil, err
	}
	t, err := cl.Snapshot().Topic(topic)
	if errors.Is(err, kerr.ErrUnknownTopic) {
		err = permanent(err)
	}
	return t, err
}
