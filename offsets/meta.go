package offsets

import (
	"context"
	"errors"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
)

// Topic metadata lookups shared by Commit (to confirm that a topic or
// partition the coordinator does not know is really missing) and List (to
// find each partition's leader).

// topicMetas returns the metadata of each topic: from cl's snapshot where it
// has them, the others loaded in one request, again while the cluster
// answers with a retriable error (a topic whose leaders are still being
// elected) until ctx ends. A topic the cluster does not know fails at once
// with kerr.ErrUnknownTopic. Every topic is in exactly one of the two maps.
func topicMetas(ctx context.Context, cl *cluster.Cluster, topics []string) (map[string]*cluster.TopicMeta, map[string]error) {
	metas := make(map[string]*cluster.TopicMeta, len(topics))
	errs := map[string]error{}
	snap := cl.Snapshot()
	var missing []string
	for _, topic := range topics {
		if t, err := snap.Topic(topic); err == nil {
			metas[topic] = t
		} else {
			missing = append(missing, topic)
		}
	}
	last := map[string]error{}
	for attempt := 1; len(missing) > 0; attempt++ {
		got, failed := refreshTopics(ctx, cl, missing)
		var again []string
		for _, topic := range missing {
			err := failed[topic]
			switch {
			case err == nil:
				metas[topic] = got[topic]
			case !retriable(cl, err) && !isContextErr(err):
				errs[topic] = err
			case ctx.Err() != nil:
				if isContextErr(err) {
					err = last[topic]
				}
				errs[topic] = gaveUp(ctx, err)
			default:
				last[topic] = err
				again = append(again, topic)
			}
		}
		missing = again
		if len(missing) == 0 {
			break
		}
		if serr := sleep(ctx, cl, attempt); serr != nil {
			failWaiting(ctx, serr, missing, last, errs)
			break
		}
	}
	return metas, errs
}

// refreshTopics loads the metadata of topics now, in one Metadata request
// (after which cl keeps them refreshed), and returns each topic's metadata
// or error: a request that failed is every topic's error. An unknown topic is
// a permanent error here, though the broker's code for it is retriable: the
// cluster has just said so.
func refreshTopics(ctx context.Context, cl *cluster.Cluster, topics []string) (map[string]*cluster.TopicMeta, map[string]error) {
	metas := make(map[string]*cluster.TopicMeta, len(topics))
	errs := map[string]error{}
	if err := cl.RefreshTopics(ctx, topics...); err != nil {
		for _, topic := range topics {
			errs[topic] = err
		}
		return metas, errs
	}
	snap := cl.Snapshot()
	for _, topic := range topics {
		t, err := snap.Topic(topic)
		switch {
		case errors.Is(err, kerr.ErrUnknownTopic):
			errs[topic] = permanent(err)
		case err != nil:
			errs[topic] = err
		default:
			metas[topic] = t
		}
	}
	return metas, errs
}
