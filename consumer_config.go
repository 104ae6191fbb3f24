package kafka

import (
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
)

// OffsetReset says where a consumer starts in a partition that has no
// committed offset, or whose offset is out of range (deleted by retention).
// The zero value is ResetEarliest.
type OffsetReset int8

const (
	// ResetEarliest starts at the oldest message still stored (the
	// default, as in PyKafka).
	ResetEarliest OffsetReset = iota
	// ResetLatest starts after the newest message: only new messages.
	ResetLatest
	// ResetNone does not reset: consuming fails with ErrOffsetOutOfRange.
	ResetNone
)

// Isolation says whether consumers see messages of transactions that are
// still open or were aborted. The zero value is ReadUncommitted, as in the
// Java client.
type Isolation int8

const (
	ReadUncommitted Isolation = iota
	ReadCommitted
)

// ConsumerOptions are the settings every consumer shares, simple or
// balanced: where it starts, how it commits, how it fetches, which engine.
// ConsumerConfig and BalancedConsumerConfig embed it. The zero value of
// each field is its documented default.
type ConsumerOptions struct {
	// AutoCommit commits the consumer's positions every AutoCommitInterval,
	// before partitions leave it in a rebalance, and when it closes. Needs
	// a consumer group. Default off: call CommitOffsets yourself, as in
	// PyKafka.
	AutoCommit bool
	// AutoCommitInterval. Default 5s.
	AutoCommitInterval time.Duration
	// CommitMarked makes every commit (CommitOffsets, auto-commit, the
	// commit before a rebalance or Close) store only what was marked
	// processed (Mark, CommitMessages): a partition's committed position
	// passes a message only once it and every message handed out before
	// it on that partition were marked. Processing may then run
	// concurrently, out of order, and stay at-least-once. Default off: a
	// commit stores the position after the last message handed out.
	CommitMarked bool

	// ConsumerTimeout ends iteration (Messages) and makes Consume return
	// ErrConsumerTimeout when no message arrived for this long. Default 0:
	// wait forever.
	ConsumerTimeout time.Duration

	// AutoOffsetReset: where to start without a committed offset, or when
	// the offset is out of range. Default ResetEarliest.
	AutoOffsetReset OffsetReset
	// ResetOffsetOnStart ignores committed offsets at start (for a
	// balanced consumer: in its first assignment) and applies
	// AutoOffsetReset to every partition.
	ResetOffsetOnStart bool
	// Isolation: ReadUncommitted (default) or ReadCommitted.
	Isolation Isolation

	// FetchMinBytes is the least data a broker gathers before answering a
	// fetch (or FetchMaxWait passes). Default 1.
	FetchMinBytes int32
	// FetchMaxWait is how long a broker holds a fetch that has less than
	// FetchMinBytes. Default 100 ms.
	FetchMaxWait time.Duration
	// FetchMaxBytes bounds one fetch response. Default 50 MiB.
	FetchMaxBytes int32
	// FetchPartitionMaxBytes bounds one partition's share of a response.
	// Default 1 MiB. A larger message is still returned, alone.
	FetchPartitionMaxBytes int32
	// QueuedMaxMessages bounds the messages prefetched per partition:
	// fetching a partition pauses while this many wait to be consumed (a
	// fetch already under way may add up to one record batch more).
	// Default 100000 (librdkafka's queued.min.messages default): a
	// partition read as fast as Kafka serves it needs more than one round
	// trip's worth queued, which a smaller bound cuts short for small
	// messages.
	QueuedMaxMessages int
	// QueuedMaxBytes bounds the bytes prefetched across all partitions,
	// beside the per-partition QueuedMaxMessages, so that memory stays
	// near the bound whatever the message size. It counts what stays in
	// memory: a request in flight its size limit; a fetch response's
	// record data from its arrival until the consumer has handed out the
	// last message decoded from it (decoding does not copy, so one message
	// left keeps its whole response alive); and per queued message its
	// bookkeeping (40 bytes) and, for compressed batches, its
	// decompressed key, value and headers. Fetching pauses when it is
	// reached and resumes once half of it is consumed; a request may bring
	// one record batch beyond it (brokers return a first batch whole).
	// Default 64 MiB; for no byte bound set it above what the process may
	// use (math.MaxInt). Pure engine only: with librdkafka setting it is a
	// configuration error (librdkafka bounds bytes per partition, with
	// queued.max.messages.kbytes in RdkafkaConfig, 64 MiB by default).
	QueuedMaxBytes int
	// CheckCRCs verifies the checksum of every record batch fetched.
	// Default off: TCP already checksums, and the broker verified the
	// batch on the way in.
	CheckCRCs bool

	// Engine fetches with another engine than the client's (WithEngine).
	// Offsets and group membership stay in Go whatever the engine.
	// Default: the client's.
	Engine Engine
	// UseRdkafka fetches with librdkafka, PyKafka's spelling of Engine:
	// EngineRdkafka (see the package doc to enable the engine).
	UseRdkafka bool
	// RdkafkaConfig passes librdkafka properties through, applied last.
	// Ignored by the pure engine.
	RdkafkaConfig map[string]any
}

// ConsumerConfig configures a SimpleConsumer: a consumer of chosen
// partitions that does not coordinate with others. The zero value reads
// every partition of the topic from the earliest offset, without a consumer
// group. Each field documents its default.
type ConsumerConfig struct {
	// ConsumerGroup is the group under which offsets are committed and
	// from whose committed offsets the consumer resumes. Default: none
	// (offsets are not stored).
	ConsumerGroup string
	// Partitions restricts a Topic's consumer (Topic.NewSimpleConsumer) to
	// these partition ids. Default: all partitions of the topic.
	Partitions []int32
	// Topics are what a client's consumer (Client.NewSimpleConsumer)
	// reads: each topic's listed partitions, or all of them for a nil
	// list. Required there; not used by a Topic's consumer.
	Topics map[string][]int32

	ConsumerOptions
}

// resolvedConsumer is a consumer's options with defaults applied, and the
// configuration its engine receives.
type resolvedConsumer struct {
	ConsumerOptions
	group string
	fetch engine.FetcherConfig
	eng   engine.Engine
}

// resolve validates the options and applies their defaults; prefix names
// the config in errors ("ConsumerConfig", "BalancedConsumerConfig").
func (c ConsumerOptions) resolve(client *Client, group, prefix string) (resolvedConsumer, error) {
	r := resolvedConsumer{ConsumerOptions: c, group: group}
	r.fetch = engine.DefaultFetcherConfig()
	r.fetch.CheckCRC = c.CheckCRCs
	r.fetch.ClientID = client.cfg.clientID
	r.fetch.Logger = client.cfg.logger
	r.fetch.Security = client.cfg.engineSecurity()
	r.fetch.Raw = c.RdkafkaConfig
	if c.AutoCommit && group == "" {
		return r, kerr.Config(prefix+".AutoCommit", "needs a consumer group to commit to")
	}
	if c.CommitMarked && group == "" {
		return r, kerr.Config(prefix+".CommitMarked", "needs a consumer group to commit to")
	}
	if c.AutoCommitInterval < 0 {
		return r, kerr.Config(prefix+".AutoCommitInterval", "must not be negative, got %v", c.AutoCommitInterval)
	}
	if r.AutoCommitInterval == 0 {
		r.AutoCommitInterval = 5 * time.Second
	}
	if c.ConsumerTimeout < 0 {
		return r, kerr.Config(prefix+".ConsumerTimeout", "must not be negative, got %v", c.ConsumerTimeout)
	}
	if c.AutoOffsetReset < ResetEarliest || c.AutoOffsetReset > ResetNone {
		return r, kerr.Config(prefix+".AutoOffsetReset", "unknown value %d", c.AutoOffsetReset)
	}
	switch c.Isolation {
	case ReadUncommitted:
	case ReadCommitted:
		r.fetch.Isolation = engine.ReadCommitted
	default:
		return r, kerr.Config(prefix+".Isolation", "unknown value %d", c.Isolation)
	}
	for _, f := range []struct {
		name string
		in   int32
		out  *int32
	}{
		{"FetchMinBytes", c.FetchMinBytes, &r.fetch.MinBytes},
		{"FetchMaxBytes", c.FetchMaxBytes, &r.fetch.MaxBytes},
		{"FetchPartitionMaxBytes", c.FetchPartitionMaxBytes, &r.fetch.PartitionMaxBytes},
	} {
		if f.in < 0 {
			return r, kerr.Config(prefix+"."+f.name, "must not be negative, got %d", f.in)
		}
		if f.in > 0 {
			*f.out = f.in
		}
	}
	if c.FetchMaxWait < 0 {
		return r, kerr.Config(prefix+".FetchMaxWait", "must not be negative, got %v", c.FetchMaxWait)
	}
	if c.FetchMaxWait > 0 {
		r.fetch.MaxWait = c.FetchMaxWait
	}
	if err := positiveOrZero(prefix+".QueuedMaxMessages", c.QueuedMaxMessages, &r.fetch.QueuedMaxMessages); err != nil {
		return r, err
	}
	if err := positiveOrZero(prefix+".QueuedMaxBytes", c.QueuedMaxBytes, &r.fetch.QueuedMaxBytes); err != nil {
		return r, err
	}
	if c.QueuedMaxBytes > 0 && client.runsRdkafka(c.Engine, c.UseRdkafka) {
		return r, kerr.Config(prefix+".QueuedMaxBytes", "not supported by the librdkafka engine (its queued.max.messages.kbytes is per partition)")
	}
	eng, err := client.engineFor(prefix, c.Engine, c.UseRdkafka)
	if err != nil {
		return r, err
	}
	r.eng = eng
	return r, nil
}
