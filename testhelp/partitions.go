package testhelp

import (
	"fmt"
	"slices"
)

// Partitions names partitions ps of topic, in the order given. T is the
// caller's TopicPartition type, as for Ledger; the tests wrap it in a
// one-line tps of their own type.
func Partitions[T TopicPartition](topic string, ps ...int32) []T {
	out := make([]T, len(ps))
	for i, p := range ps {
		out[i] = T{Topic: topic, Partition: p}
	}
	return out
}

// AllPartitions lists the partitions 0..n-1 of each topic, sorted by topic,
// then partition (the order of offsets.TopicPartition.Compare, which
// members' Assigned lists keep).
func AllPartitions[T TopicPartition](n int, topics ...string) []T {
	var out []T
	for _, t := range topics {
		out = append(out, Partitions[T](t, seq(n)...)...)
	}
	slices.SortFunc(out, compareTopicPartitions[T])
	return out
}

// seq is 0..n-1.
func seq(n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(i)
	}
	return out
}

// OwnedOnce checks what the members of a group say they own (owned[i]:
// member i's partitions) against want (sorted as AllPartitions sorts):
// every partition of want owned by exactly one member, and nothing else
// owned. The error names the first rule broken, for a test that polls
// until none is.
func OwnedOnce[T TopicPartition](want []T, owned [][]T) error {
	owner := map[T]int{}
	for i, ps := range owned {
		for _, p := range ps {
			if o, dup := owner[p]; dup {
				return fmt.Errorf("partition %v owned by members %d and %d", p, o, i)
			}
			if _, ok := slices.BinarySearchFunc(want, p, compareTopicPartitions[T]); !ok {
				return fmt.Errorf("member %d owns %v, which is not among the partitions wanted", i, p)
			}
			owner[p] = i
		}
	}
	if len(owner) != len(want) {
		return fmt.Errorf("%d of %d partitions owned: %v", len(owner), len(want), owned)
	}
	return nil
}
