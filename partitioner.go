package kafka

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Partitioner chooses the partition of a message, from 0 to numPartitions-1.
// It is called from the goroutine that calls Produce, possibly from several
// at once, so it must be safe for concurrent use.
type Partitioner func(m *Message, numPartitions int32) int32

// RandomPartitioner spreads messages uniformly at random, one choice per
// message, keys or not (PyKafka's default). Small batches follow: each
// partition gets its share of every linger's messages; the default,
// NewStickyPartitioner, fills fewer and larger ones.
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

// NewStickyPartitioner returns the partitioner of the Java client (since
// Kafka 2.4, KIP-480), librdkafka and franz-go: a message with a key goes
// where HashingPartitioner puts it; messages of a topic without a key all go
// to one partition, chosen at random, for the time d, then to another.
// Keyless messages then fill a few large batches instead of one small batch
// per partition for each linger: fewer requests, less CPU in the client and
// the brokers, more throughput. Spread over time is still uniform. Each
// topic sticks on its own. d of zero or less means 10 ms (librdkafka's
// sticky.partitioning.linger.ms). Each producer needs its own.
func NewStickyPartitioner(d time.Duration) Partitioner {
	return newSticky(d).partition
}

func newSticky(d time.Duration) *sticky {
	if d <= 0 {
		d = 10 * time.Millisecond
	}
	s := &sticky{start: time.Now(), stick: d}
	s.topics.Store(&map[string]*stickyTopic{})
	return s
}

// sticky is the state of NewStickyPartitioner: per topic, the partition of
// keyless messages and until when (monotonic, since start) it holds. The
// topic table is copied on write, so the hot path takes no lock.
type sticky struct {
	start  time.Time
	stick  time.Duration
	topics atomic.Pointer[map[string]*stickyTopic]
	mu     sync.Mutex // serializes adding topics
	// last is the topic of the previous call: a producer of one topic
	// (or of runs of messages to one) then compares a name, often the
	// same string, instead of hashing it.
	last atomic.Pointer[stickyTopic]
}

// stickyTopic is one topic's current choice. Producing goroutines race to
// replace an expired choice; the loser uses the winner's.
type stickyTopic struct {
	name string
	cur  atomic.Pointer[stickyChoice]
}

type stickyChoice struct {
	partition int32
	until     time.Duration
}

func (s *sticky) topic(name string) *stickyTopic {
	if st := s.last.Load(); st != nil && st.name == name {
		return st
	}
	if st := (*s.topics.Load())[name]; st != nil {
		s.last.Store(st)
		return st
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.topics.Load()
	if st := old[name]; st != nil {
		return st
	}
	topics := make(map[string]*stickyTopic, len(old)+1)
	for k, v := range old {
		topics[k] = v
	}
	st := &stickyTopic{name: name}
	topics[name] = st
	s.topics.Store(&topics)
	return st
}

func (s *sticky) partition(m *Message, numPartitions int32) int32 {
	if m.Key != nil {
		return HashingPartitioner(m, numPartitions)
	}
	return s.partitionAt(m, numPartitions, time.Since(s.start))
}

// partitionAt is partition for a keyless message at now (monotonic, since
// s.start). The producer that owns the default partitioner passes the time
// it stamps the message with: one clock read per message instead of two
// (a read costs 25 to over 100 ns, as much as the rest of the choice).
func (s *sticky) partitionAt(m *Message, numPartitions int32, now time.Duration) int32 {
	st := s.topic(m.Topic)
	old := st.cur.Load()
	if old != nil && now < old.until && old.partition < numPartitions {
		return old.partition
	}
	next := &stickyChoice{partition: rand.Int32N(numPartitions), until: now + s.stick}
	if numPartitions > 1 && old != nil && next.partition == old.partition {
		// Move on: staying would stretch this partition's turn.
		next.partition = (next.partition + 1 + rand.Int32N(numPartitions-1)) % numPartitions
	}
	if st.cur.CompareAndSwap(old, next) {
		return next.partition
	}
	if won := st.cur.Load(); won.partition < numPartitions {
		return won.partition
	}
	return next.partition
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
