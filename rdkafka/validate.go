//go:build cgo && !nordkafka

package rdkafka

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
)

// metadataTimeout bounds the metadata refresh that Assign makes for topics
// or partitions the client's metadata does not know yet.
const metadataTimeout = 10 * time.Second

// validate checks positions before Assign changes anything, so that a
// refused call leaves the assignment as it was: every position names a
// topic and a partition the cluster has, at an offset that is not negative,
// and no partition comes twice.
//
// librdkafka would accept an unknown topic or partition and only log
// about it, fetching nothing, so the check is the engine's. It uses the
// client's metadata; topics missing from it, or with fewer partitions than
// asked for (partitions added since), are looked up once more before the
// call is refused.
func (f *fetcher) validate(ctx context.Context, positions []engine.Position) error {
	seen := make(map[engine.TopicPartition]bool, len(positions))
	for _, po := range positions {
		switch {
		case po.Topic == "":
			return fmt.Errorf("%w: empty topic name (partition %d)", kerr.ErrInvalidTopic, po.Partition)
		case po.Partition < 0:
			return fmt.Errorf("%w: %s", kerr.ErrUnknownPartition, po.TopicPartition)
		case po.Offset < 0:
			return fmt.Errorf("%w: %s: offset %d (the fetcher takes real offsets only)", kerr.ErrOffsetOutOfRange, po.TopicPartition, po.Offset)
		case seen[po.TopicPartition]:
			return fmt.Errorf("%w: %s assigned twice in one call", kerr.ErrInvalidConfig, po.TopicPartition)
		}
		seen[po.TopicPartition] = true
	}
	snap := f.cl.Snapshot()
	var stale []string
	for _, po := range positions {
		if !known(snap, po.TopicPartition) && !slices.Contains(stale, po.Topic) {
			stale = append(stale, po.Topic)
		}
	}
	if len(stale) > 0 {
		rctx, cancel := context.WithTimeout(ctx, metadataTimeout)
		err := f.cl.RefreshTopics(rctx, stale...)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("rdkafka: assign: cannot look up topics %q: %w", stale, err)
		}
		snap = f.cl.Snapshot()
	}
	for _, po := range positions {
		t, err := snap.Topic(po.Topic)
		if err == nil {
			_, err = t.Partition(po.Partition)
		}
		if err != nil {
			// The metadata's errors name the topic (and partition)
			// and match kerr.ErrUnknownTopic or ErrUnknownPartition;
			// others (a topic without a leader yet) are retriable.
			return fmt.Errorf("rdkafka: assign %s: %w", po.TopicPartition, err)
		}
	}
	return nil
}

// known reports whether snap has tp.
func known(snap *cluster.Snapshot, tp engine.TopicPartition) bool {
	t, err := snap.Topic(tp.Topic)
	if err != nil {
		return false
	}
	_, err = t.Partition(tp.Partition)
	return err == nil
}
