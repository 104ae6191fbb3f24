package testhelp

import (
	"fmt"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
)

// Snapshot is cluster metadata written by hand, for the unit tests of what
// reads it (no broker involved): topics maps each topic's name to its
// partition count, without leaders; a negative count is a topic in error
// (LEADER_NOT_AVAILABLE), and __consumer_offsets is internal.
func Snapshot(topics map[string]int) *cluster.Snapshot {
	s := &cluster.Snapshot{Topics: map[string]*cluster.TopicMeta{}}
	for name, n := range topics {
		t := &cluster.TopicMeta{Name: name, Internal: name == "__consumer_offsets"}
		if n < 0 {
			t.Err = kerr.LeaderNotAvailable
		} else {
			t.Partitions = make([]cluster.PartitionMeta, n)
		}
		s.Topics[name] = t
	}
	return s
}

// ManyTopics is the Snapshot of a large cluster, for the benchmarks of
// what a group member does at each metadata update: n topics of partitions
// partitions each, the first matching of them named events-0000,
// events-0001, ... and the others other-NNNN (NNNN counting on).
func ManyTopics(n, matching, partitions int) *cluster.Snapshot {
	topics := make(map[string]int, n)
	for i := range n {
		name := fmt.Sprintf("other-%04d", i)
		if i < matching {
			name = fmt.Sprintf("events-%04d", i)
		}
		topics[name] = partitions
	}
	return Snapshot(topics)
}
