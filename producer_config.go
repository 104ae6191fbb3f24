package kafka

import (
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/records"
)

// Acks is how many replicas must have a message before the broker
// acknowledges it. The zero value is AcksAll.
type Acks int8

const (
	// AcksAll waits for every in-sync replica (the default): an
	// acknowledged message survives the loss of the leader.
	AcksAll Acks = iota
	// AcksLeader waits for the leader only.
	AcksLeader
	// AcksNone does not wait at all: fastest, and messages can be lost
	// without anyone knowing. Offsets in delivery reports are -1.
	AcksNone
)

func (a Acks) String() string {
	switch a {
	case AcksAll:
		return "all"
	case AcksLeader:
		return "1"
	case AcksNone:
		return "0"
	}
	return "invalid"
}

// Compression is the codec applied to record batches. The zero value is
// CompressionNone.
type Compression int8

const (
	CompressionNone Compression = iota
	CompressionGzip
	CompressionSnappy
	CompressionLZ4
	CompressionZstd
)

func (c Compression) String() string {
	switch c {
	case CompressionNone:
		return "none"
	case CompressionGzip:
		return "gzip"
	case CompressionSnappy:
		return "snappy"
	case CompressionLZ4:
		return "lz4"
	case CompressionZstd:
		return "zstd"
	}
	return "invalid"
}

func (c Compression) codec() records.Codec {
	switch c {
	case CompressionGzip:
		return records.CodecGzip
	case CompressionSnappy:
		return records.CodecSnappy
	case CompressionLZ4:
		return records.CodecLZ4
	case CompressionZstd:
		return records.CodecZstd
	}
	return records.CodecNone
}

// ProducerConfig configures a producer. The zero value is a good producer:
// asynchronous, lingering 5 ms, acks from all in-sync replicas, idempotent,
// the Java client's partitioning (murmur2 keys, sticky keyless), no
// compression. Each field documents its default.
type ProducerConfig struct {
	// Sync makes Produce wait until the broker acknowledged the message
	// (or it failed for good). Goroutines producing concurrently in sync
	// mode still share batches. Default: asynchronous.
	Sync bool

	// DeliveryReports makes the producer post a DeliveryReport for every
	// message on the channel returned by DeliveryReports. You must then
	// read it: when it is full, reporting blocks, then sending, then
	// Produce (see MaxQueuedMessages). Its capacity is MaxQueuedMessages.
	DeliveryReports bool

	// OnDelivery, if set, is called with every message's report, from a
	// producer goroutine: keep it short. It is the callback form of
	// DeliveryReports; both may be used.
	OnDelivery func(DeliveryReport)

	// Partitioner chooses each message's partition, unless the message
	// names one (ToPartition, Message.PartitionSet). Default:
	// NewUniformStickyPartitioner(BatchBytes, 0), the Java client's
	// default partitioner: a key's messages all go to its murmur2
	// partition (as with the Java client and librdkafka's murmur2), in
	// order; keyless messages of a topic go to one random partition until
	// they fill a batch of BatchBytes, or for DefaultStickyTime, then to
	// another. On the
	// librdkafka engine: NewStickyPartitioner(0), librdkafka's own rule
	// (keys alike; keyless messages change partition every 10 ms).
	// RandomPartitioner (PyKafka's default) picks a partition per message.
	Partitioner Partitioner

	// Compression of record batches. Default: none.
	Compression Compression
	// CompressionLevel is the codec's level; 0 means the codec's default.
	CompressionLevel int

	// Acks required from the brokers. Default: AcksAll.
	Acks Acks
	// DisableIdempotence turns off the idempotent producer. It is on by
	// default with AcksAll, so that retries neither duplicate nor reorder
	// messages; with other Acks it is always off.
	DisableIdempotence bool

	// Linger is how long a batch waits for more messages before it is
	// sent. Default 5 ms; negative: send at once.
	Linger time.Duration
	// BatchBytes is the largest record batch sent to one partition.
	// Default 1 MiB.
	BatchBytes int
	// MaxMessageBytes is the largest message accepted (its encoded
	// record); larger ones fail alone with ErrMessageTooLarge. Default
	// 1 MiB, the broker's default message.max.bytes.
	MaxMessageBytes int
	// MaxQueuedMessages bounds the messages produced and not yet
	// delivered. When the queue is full, Produce blocks, or fails with
	// ErrQueueFull if FailWhenQueueFull is set. Default 100000.
	MaxQueuedMessages int
	// MaxQueuedBytes bounds the bytes of the messages produced and not
	// yet delivered (key, value and headers, plus a few bytes of record
	// overhead each), beside MaxQueuedMessages: whichever is reached
	// first makes Produce block, or fail with ErrQueueFull. So the
	// producer's memory stays near the bound whatever the message size.
	// A message larger than the bound is accepted when nothing else is
	// queued. Default 0: no byte bound. Pure engine only: with librdkafka
	// it is a configuration error (set queue.buffering.max.kbytes in
	// RdkafkaConfig instead).
	MaxQueuedBytes int
	// FailWhenQueueFull makes Produce fail fast instead of blocking.
	FailWhenQueueFull bool

	// DeliveryTimeout is how long the producer tries to deliver a message,
	// retries included, before reporting it failed. Default 2 minutes.
	DeliveryTimeout time.Duration
	// RequestTimeout is how long brokers may take to gather the acks of
	// one request. Default 30s.
	RequestTimeout time.Duration
	// RetryBackoff is the first wait before a retry; it doubles up to 1s.
	// Default 100 ms.
	RetryBackoff time.Duration
	// MaxInFlight is the number of produce requests in flight per broker
	// (at most 5 with idempotence: the broker remembers five batches per
	// producer to deduplicate). Default 1: what is produced while a
	// request is out goes in the next one, so requests are fewer and
	// fuller when acks are slow, and fewer requests cost the brokers less
	// per message — the brokers' CPU, not the client's, bounds throughput
	// when they share the client's machine (franz-go's idempotent
	// producer works the same way). Measured side by side with franz-go
	// on a loaded 2-core machine: 5 gave 0.69-0.70x franz-go's msg/s and
	// 1.5-1.6x its broker CPU per message; 1 gave 1.28-1.41x and
	// 0.7-0.8x. More may help a producer far from its brokers.
	MaxInFlight int

	// TransactionalID makes the producer transactional: its messages are
	// written in transactions (BeginTransaction, CommitTransaction,
	// AbortTransaction) that read_committed consumers see whole or not at
	// all, and consumer offsets can be committed inside them
	// (SendOffsets). A producer that starts with the same id fences this
	// one. Needs AcksAll and idempotence. Default: none.
	TransactionalID string
	// TransactionTimeout is how long the transaction coordinator lets a
	// transaction stay open before it aborts it (at most the brokers'
	// transaction.max.timeout.ms, 15 minutes by default). Default 1 minute.
	TransactionTimeout time.Duration

	// Engine runs this producer on another engine than the client's
	// (WithEngine). Default: the client's.
	Engine Engine
	// UseRdkafka runs this producer on librdkafka, PyKafka's spelling of
	// Engine: EngineRdkafka (see the package doc to enable the engine).
	UseRdkafka bool
	// RdkafkaConfig passes librdkafka properties through, applied last,
	// e.g. {"queue.buffering.max.kbytes": 1048576}. Ignored by the pure
	// engine.
	RdkafkaConfig map[string]any
}

// engineConfig validates c, applies defaults and returns what the engine
// receives. Errors name the field.
func (c ProducerConfig) engineConfig(client *Client) (engine.ProducerConfig, error) {
	e := engine.DefaultProducerConfig()
	e.FailWhenFull = c.FailWhenQueueFull
	e.CompressionLevel = c.CompressionLevel
	e.ClientID = client.cfg.clientID
	e.Logger = client.cfg.logger
	e.Security = client.cfg.engineSecurity()
	e.Raw = c.RdkafkaConfig
	switch c.Acks {
	case AcksAll:
		e.Idempotent = e.Idempotent && !c.DisableIdempotence
	case AcksLeader:
		e.Acks, e.Idempotent = engine.RequireLeader, false
	case AcksNone:
		e.Acks, e.Idempotent = engine.RequireNone, false
	default:
		return e, kerr.Config("ProducerConfig.Acks", "unknown value %d", c.Acks)
	}
	if c.Compression < CompressionNone || c.Compression > CompressionZstd {
		return e, kerr.Config("ProducerConfig.Compression", "unknown value %d", c.Compression)
	}
	e.Compression = c.Compression.codec()
	switch {
	case c.Linger < 0:
		e.Linger = 0
	case c.Linger > 0:
		e.Linger = c.Linger
	}
	if err := positiveOrZero("ProducerConfig.BatchBytes", c.BatchBytes, &e.BatchBytes); err != nil {
		return e, err
	}
	if e.BatchBytes < 1024 {
		return e, kerr.Config("ProducerConfig.BatchBytes", "must be at least 1024, got %d", e.BatchBytes)
	}
	if err := positiveOrZero("ProducerConfig.MaxMessageBytes", c.MaxMessageBytes, &e.MaxMessageBytes); err != nil {
		return e, err
	}
	if err := positiveOrZero("ProducerConfig.MaxQueuedMessages", c.MaxQueuedMessages, &e.MaxQueued); err != nil {
		return e, err
	}
	if err := positiveOrZero("ProducerConfig.MaxQueuedBytes", c.MaxQueuedBytes, &e.MaxQueuedBytes); err != nil {
		return e, err
	}
	if e.MaxQueuedBytes > 0 && client.runsRdkafka(c.Engine, c.UseRdkafka) {
		return e, kerr.Config("ProducerConfig.MaxQueuedBytes", "not supported by the librdkafka engine: set queue.buffering.max.kbytes in RdkafkaConfig")
	}
	if err := positiveOrZero("ProducerConfig.MaxInFlight", c.MaxInFlight, &e.MaxInFlight); err != nil {
		return e, err
	}
	if e.Idempotent && e.MaxInFlight > 5 {
		return e, kerr.Config("ProducerConfig.MaxInFlight", "at most 5 with idempotence (the broker keeps 5 batches per producer to deduplicate), got %d", e.MaxInFlight)
	}
	for _, d := range []struct {
		name string
		in   time.Duration
		out  *time.Duration
	}{
		{"ProducerConfig.DeliveryTimeout", c.DeliveryTimeout, &e.DeliveryTimeout},
		{"ProducerConfig.RequestTimeout", c.RequestTimeout, &e.RequestTimeout},
		{"ProducerConfig.RetryBackoff", c.RetryBackoff, &e.RetryBackoff},
	} {
		if d.in < 0 {
			return e, kerr.Config(d.name, "must not be negative, got %v", d.in)
		}
		if d.in > 0 {
			*d.out = d.in
		}
	}
	if c.TransactionalID != "" {
		switch {
		case c.Acks != AcksAll:
			return e, kerr.Config("ProducerConfig.TransactionalID", "a transactional producer needs AcksAll, got %v", c.Acks)
		case c.DisableIdempotence:
			return e, kerr.Config("ProducerConfig.TransactionalID", "a transactional producer needs idempotence (DisableIdempotence is set)")
		}
		e.TransactionalID = c.TransactionalID
	}
	switch {
	case c.TransactionTimeout < 0:
		return e, kerr.Config("ProducerConfig.TransactionTimeout", "must not be negative, got %v", c.TransactionTimeout)
	case c.TransactionTimeout > 0 && c.TransactionalID == "":
		return e, kerr.Config("ProducerConfig.TransactionTimeout", "needs a TransactionalID")
	case c.TransactionTimeout > 0:
		e.TransactionTimeout = c.TransactionTimeout
	}
	if e.DeliveryTimeout < e.Linger {
		return e, kerr.Config("ProducerConfig.DeliveryTimeout", "%v is shorter than Linger %v", e.DeliveryTimeout, e.Linger)
	}
	return e, nil
}

// runsRdkafka reports whether a producer or consumer configured with
// chosen and useRdkafka runs on librdkafka (see engineFor; an invalid
// choice is engineFor's error).
func (c *Client) runsRdkafka(chosen Engine, useRdkafka bool) bool {
	return useRdkafka || chosen == EngineRdkafka || (chosen == EngineDefault && c.cfg.engine == EngineRdkafka)
}

// positiveOrZero copies v into *out when positive, keeps the default for
// zero and rejects negatives.
func positiveOrZero(field string, v int, out *int) error {
	if v < 0 {
		return kerr.Config(field, "must not be negative, got %d", v)
	}
	if v > 0 {
		*out = v
	}
	return nil
}
