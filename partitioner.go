package kafka

import (
	"math/rand/v2"
	"sync/atomic"
)

// Partitioner chooses the partition of a message, from 0 to numPartitions-1.
// It is called from the goroutine that calls Produce, possibly from several
// at once, so it must be safe for concurrent use.
type Partitioner func(m *Message, numPartitions int32) int32

// RandomPartitioner spreads messages uniformly at random. It is the default,
// as in PyKafka.
func RandomPartitioner(_ *Message, numPartitions int32) int32 {
	return rand.Int32N(numPartitions)
}

// NewRoundRobinPartitioner returns a partitioner that cycles through the
// partitions in order. Each producer needs its own.
func NewRoundRobinPartitioner() Partitioner {
	var next atomic.Uint32
	return func(_ *Message, numPartitions int32) int32 {
		return int32((next.Add(1) - 1) % uint32(numPartitions))
	}
}

// HashingPartitioner puts all messages with the same key on the same
// partition: the one the Java client's default partitioner and librdkafka's
// "murmur2" partitioner choose (murmur2 of the key, sign bit cleared, modulo
// the partition count). Messages without a key (nil) go to a random
// partition.
func HashingPartitioner(m *Message, numPartitions int32) int32 {
	if m.Key == nil {
		return rand.Int32N(numPartitions)
	}
	return int32(murmur2(m.Key)&0x7fffffff) % numPartitions
}

// murmur2 is the 32-bit MurmurHash2 variant of Kafka's Java client
// (org.apache.kafka.common.utils.Utils.murmur2): seed 0x9747b28c, input read
// as little-endian 32-bit words.
func murmur2(data []byte) uint32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	n := len(data)
	h := uint32(seed) ^ uint32(n)
	i := 0
	for ; i+4 <= n; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch n - i {
	case 3:
		h ^= uint32(data[i+2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[i+1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[i])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}
