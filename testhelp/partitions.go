package testhelp

import "slices"

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
