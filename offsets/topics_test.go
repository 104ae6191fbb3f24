package offsets

import "github.com/gokafka/kafka/testhelp"

// Small builders that keep the tests' maps readable now that every offset is
// keyed by topic and partition.

// tps names partitions parts of topic.
func tps(topic string, parts ...int32) []TopicPartition {
	return testhelp.Partitions[TopicPartition](topic, parts...)
}

// on keys a map by partition of topic by TopicPartition.
func on[V any](topic string, m map[int32]V) map[TopicPartition]V {
	out := make(map[TopicPartition]V, len(m))
	for p, v := range m {
		out[TopicPartition{Topic: topic, Partition: p}] = v
	}
	return out
}

// part is topic/partition.
func part(topic string, partition int32) TopicPartition {
	return TopicPartition{Topic: topic, Partition: partition}
}
