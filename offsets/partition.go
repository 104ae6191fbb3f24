package offsets

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// TopicPartition names one partition of one topic. Offsets, positions and
// assignments are keyed by it everywhere in gokafka (the root package
// re-exports it as kafka.TopicPartition).
type TopicPartition struct {
	Topic     string
	Partition int32
}

// String is "topic/partition".
func (tp TopicPartition) String() string {
	return tp.Topic + "/" + strconv.FormatInt(int64(tp.Partition), 10)
}

// Compare orders by topic, then by partition number; it suits
// slices.SortFunc.
func (tp TopicPartition) Compare(other TopicPartition) int {
	if c := cmp.Compare(tp.Topic, other.Topic); c != 0 {
		return c
	}
	return cmp.Compare(tp.Partition, other.Partition)
}

// PartitionError is why one partition failed in Group.Commit, Group.Fetch,
// Group.FetchAll or List. Those calls return an errors.Join of one
// *PartitionError per failed partition, so errors.Is(err,
// kerr.IllegalGeneration) tests whether any partition failed for that
// reason, and errors.As finds the first failure (in topic, then partition
// order). Use Partitions to list them all.
//
// The embedded TopicPartition names the partition (pe.Topic, pe.Partition).
type PartitionError struct {
	Op    string // "commit", "fetch" or "list"
	Group string // the consumer group; empty for List
	TopicPartition
	Err error
}

func (e *PartitionError) Error() string {
	if e.Group == "" {
		return fmt.Sprintf("kafka: %s offset of %s: %v", e.Op, e.TopicPartition, e.Err)
	}
	return fmt.Sprintf("kafka: %s offset of %s for group %q: %v", e.Op, e.TopicPartition, e.Group, e.Err)
}

func (e *PartitionError) Unwrap() error { return e.Err }

// Partitions returns every *PartitionError inside err (as returned by
// Group.Commit, Group.Fetch, Group.FetchAll or List), keyed by partition. It
// returns nil for a nil err or one that holds no partition error (a bad
// argument, for example).
func Partitions(err error) map[TopicPartition]*PartitionError {
	var out map[TopicPartition]*PartitionError
	var walk func(error)
	walk = func(err error) {
		switch x := err.(type) {
		case nil:
		case *PartitionError:
			if out == nil {
				out = map[TopicPartition]*PartitionError{}
			}
			out[x.TopicPartition] = x
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(x.Unwrap())
		}
	}
	walk(err)
	return out
}

// joinPartitionErrors turns a map of per-partition failures into one error,
// partitions in order so that messages are stable.
func joinPartitionErrors(op, group string, failed map[TopicPartition]error) error {
	if len(failed) == 0 {
		return nil
	}
	errs := make([]error, 0, len(failed))
	for _, tp := range slices.SortedFunc(maps.Keys(failed), TopicPartition.Compare) {
		errs = append(errs, &PartitionError{Op: op, Group: group, TopicPartition: tp, Err: failed[tp]})
	}
	return errors.Join(errs...)
}

// topicParts is one topic's share of a request: its partitions, in order.
type topicParts struct {
	topic string
	parts []int32
}

// byTopic groups distinct partitions by topic, topics and partitions in
// order, as the requests of this package lay them out.
func byTopic(tps []TopicPartition) []topicParts {
	sorted := slices.SortedFunc(slices.Values(tps), TopicPartition.Compare)
	sorted = slices.Compact(sorted)
	var out []topicParts
	for _, tp := range sorted {
		if n := len(out); n > 0 && out[n-1].topic == tp.Topic {
			out[n-1].parts = append(out[n-1].parts, tp.Partition)
			continue
		}
		out = append(out, topicParts{topic: tp.Topic, parts: []int32{tp.Partition}})
	}
	return out
}

// dedupe returns the distinct partitions of tps in their first order.
func dedupe(tps []TopicPartition) []TopicPartition {
	seen := make(map[TopicPartition]struct{}, len(tps))
	out := make([]TopicPartition, 0, len(tps))
	for _, tp := range tps {
		if _, ok := seen[tp]; !ok {
			seen[tp] = struct{}{}
			out = append(out, tp)
		}
	}
	return out
}
