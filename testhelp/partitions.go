package testhelp

import (
	"cmp"
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
	slices.SortFunc(out, comparePartitions[T])
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

// comparePartitions orders by topic, then partition. Type parameters have
// no fields, so it reads them through the struct both types share.
func comparePartitions[T TopicPartition](a, b T) int {
	type fields = struct {
		Topic     string
		Partition int32
	}
	x, y := fields(a), fields(b)
	if c := cmp.Compare(x.Topic, y.Topic); c != 0 {
		return c
	}
	return cmp.Compare(x.Partition, y.Partition)
}
