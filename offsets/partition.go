package offsets

import (
	"cmp"
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
