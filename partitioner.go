package kafka

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/kafka/internal/records"
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
//
// A fixed time suits a busy topic; a topic that gets a few messages in d
// sends a few-message batch per turn. NewUniformStickyPartitioner, the
// pure engine's default, counts bytes as well.
func NewStickyPartitioner(d time.Duration) Partitioner {
	if d <= 0 {
		d = librdkafkaStick
	}
	return newSticky(d, 0).partition
}

// NewUniformStickyPartitioner returns the pure engine's default
// partitioner: a message with a key goes where HashingPartitioner puts it;
// keyless messages of a topic go to one partition, chosen at random, until
// they fill a record batch of n bytes or for the time most, whichever
// comes first, then to another. This is the Java client's rule since Kafka
// 3.3 (KIP-794, without its adaptive part) with a time limit added: a turn
// then gives its partition one batch of about n bytes however fast the
// topic is written, where a fixed time (NewStickyPartitioner) gives a
// slowly written topic a few messages a turn and sends them as small
// batches, and the limit keeps a topic written a few messages a second from
// staying on one partition for minutes. Each topic has its own turns.
//
// A turn counts its messages as a batch holds them: key, value and headers,
// each record's framing at its largest (lengths and the offset and time
// deltas, a few bytes), and the batch's 61-byte header. A message that
// would take the turn past n starts the next turn (one larger than n is a
// turn of its own), so that a turn's messages fit in one batch of n bytes:
// with n the producer's BatchBytes, as the default partitioner has it, a
// busy topic's batches go out full, not each followed by a small one with
// the turn's last few messages.
//
// n of zero or less means DefaultStickyBytes; most of zero means
// DefaultStickyTime, less than zero no time limit. Each producer needs its
// own.
func NewUniformStickyPartitioner(n int, most time.Duration) Partitioner {
	return newDefaultSticky(n, most).partition
}

// DefaultStickyBytes and DefaultStickyTime end a turn of
// NewUniformStickyPartitioner(0, 0): a turn fills one batch of the default
// BatchBytes. (A producer's default partitioner fills one of the
// producer's own BatchBytes.)
// Measured with the bench (bench/results/sticky, producing 100 B messages
// on 3 brokers): on a topic of 1 000 partitions the brokers spent 35, 19, 7
// and 5 µs of CPU per message with turns of 16 KiB (the Java client's
// batch.size), 64 KiB, 256 KiB and 1 MiB; over 50 topics of 12
// partitions 28 µs with 10 ms turns (librdkafka's) and 11 with these.
const (
	DefaultStickyBytes = 1 << 20
	DefaultStickyTime  = time.Second
)

func newDefaultSticky(n int, most time.Duration) *sticky {
	if n <= 0 {
		n = DefaultStickyBytes
	}
	switch {
	case most == 0:
		most = DefaultStickyTime
	case most < 0:
		most = 0
	}
	// The batch's header is not the turn's: a turn of n bytes counts its
	// records' (at least one byte's worth, so that each message of a tiny n
	// is a turn of its own rather than of no bytes at all).
	return newSticky(most, int64(max(n-records.HeaderSize, 1)))
}

// engineSticky is the producer's default partitioner: on the pure engine
// NewUniformStickyPartitioner with turns of one batch of batchBytes and the
// default time limit; on the librdkafka engine
// librdkafka's own rule, NewStickyPartitioner(0) (sticky.partitioning.
// linger.ms, 10 ms), which is what its users expect of it and what it ran
// fastest with (bench/results/sticky: 1.41-1.55x raw confluent-kafka-go's
// rate with 10 ms turns, 1.34x with 1 MiB ones, 1.24x with 256 KiB).
func engineSticky(rdkafka bool, batchBytes int) *sticky {
	if rdkafka {
		return newSticky(librdkafkaStick, 0)
	}
	return newDefaultSticky(batchBytes, 0)
}

// librdkafkaStick is librdkafka's sticky.partitioning.linger.ms default.
const librdkafkaStick = 10 * time.Millisecond

// newSticky makes a sticky partitioner whose turns end after d (if not
// zero) or after n bytes (if not zero), whichever comes first.
func newSticky(d time.Duration, n int64) *sticky {
	s := &sticky{start: time.Now(), stick: d, stickBytes: n}
	s.topics.Store(&map[string]*stickyTopic{})
	return s
}

// sticky is the state of a sticky partitioner: per topic, the partition of
// keyless messages and until when (monotonic, since start) or for how many
// more bytes it holds. The topic table is copied on write, so the hot path
// takes no lock.
type sticky struct {
	start      time.Time
	stick      time.Duration // a turn's length; 0: no time limit
	stickBytes int64         // a turn's bytes of records (recordBytes); 0: no byte limit
	topics     atomic.Pointer[map[string]*stickyTopic]
	mu         sync.Mutex // serializes adding topics
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
	left      atomic.Int64 // bytes the turn has left
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
	var now time.Duration
	if s.stick > 0 {
		now = time.Since(s.start)
	}
	return s.partitionAt(m, numPartitions, now)
}

// partitionAt is partition for a keyless message at now (monotonic, since
// s.start; read only by a partitioner with a time limit). The producer that
// owns the default partitioner passes the time it stamps the message with:
// one clock read per message instead of two (a read costs 25 to over
// 100 ns, as much as the rest of the choice).
func (s *sticky) partitionAt(m *Message, numPartitions int32, now time.Duration) int32 {
	st := s.topic(m.Topic)
	for {
		old := st.cur.Load()
		if old != nil && old.partition < numPartitions && s.holds(old, m, now) {
			return old.partition
		}
		next := &stickyChoice{partition: rand.Int32N(numPartitions), until: now + s.stick}
		if numPartitions > 1 && old != nil && next.partition == old.partition {
			// Move on: staying would stretch this partition's turn.
			next.partition = (next.partition + 1 + rand.Int32N(numPartitions-1)) % numPartitions
		}
		if s.stickBytes > 0 { // the message that starts a turn is its first
			next.left.Store(s.stickBytes - recordBytes(m))
		}
		if st.cur.CompareAndSwap(old, next) {
			return next.partition
		}
		// Another goroutine started the next turn first: join it, and
		// count m against it.
	}
}

// holds reports whether m still belongs to the turn c, and if so counts
// its bytes against the turn. A message that would take the turn past its
// bytes belongs to the next turn (and so does every message after it, as
// the count stays below zero): the turn's messages fit in one batch.
func (s *sticky) holds(c *stickyChoice, m *Message, now time.Duration) bool {
	if s.stick > 0 && now >= c.until {
		return false
	}
	if s.stickBytes == 0 {
		return true
	}
	return c.left.Add(-recordBytes(m)) >= 0
}

// recordBytes is what m takes in a record batch, at most: records.RecordSize
// with the largest deltas of a batch of up to 2^20 records written within
// 8 s (3 and 2 bytes, where the smallest take 1 each). Counting the largest
// keeps a turn inside its batch at the price of a batch up to about 2 %
// short of full with 100 B values (exact deltas would need the batch,
// which the engine keeps). A turn written more slowly than that may count
// a byte short per record, but its batches leave at their linger long
// before they fill.
func recordBytes(m *Message) int64 {
	return int64(records.RecordSize(m.Key, m.Value, m.Headers, turnMaxTsDelta, turnMaxOffsetDelta))
}

const (
	turnMaxTsDelta     = 8191      // ms; zigzag 16 382: 2 bytes
	turnMaxOffsetDelta = 1<<20 - 1 // zigzag 2^21-2: 3 bytes
)

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
