// Package engine is the contract between gokafka's public API (the root
// package) and its two engines, pure Go (package pure) and librdkafka
// (package rdkafka). It plays the part of database/sql/driver: the root owns
// partitioning, offsets, consumer groups, sync mode and delivery reports; an
// engine only moves bytes — it produces records to partitions the root chose,
// and fetches partitions from offsets the root chose. One producer and one
// fetcher serve any number of topics.
//
// Rules that both engines would otherwise each enforce live here once: the
// defaults (DefaultProducerConfig, DefaultFetcherConfig), the bounded queue
// of messages a producer holds (Queue), the message size check (CheckSize)
// and the timestamp clock (Clock). The root validates and stamps every
// message before an engine sees it.
//
// The value types users see (Message, Header) are defined here once and
// re-exported by the root as aliases, so messages cross from engine to user
// without a copy.
//
// Engines register a Factory under a name in init (the rdkafka package does so
// when it is imported); the pure engine is the default and is linked in by the
// root directly.
package engine

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/records"
)

// Message is one Kafka record. The root package re-exports it as
// kafka.Message and documents every field for users there.
type Message struct {
	Topic     string
	Partition int32
	// PartitionSet (producing only) says that the user chose Partition, so
	// the root does not ask the partitioner. It sits here, in Partition's
	// padding, to keep the struct at 144 bytes.
	PartitionSet bool
	// DeliveryCount (share groups only) is how many times the record has
	// been delivered to a member of the group, this delivery included; 0
	// for other consumers. It also sits in Partition's padding.
	DeliveryCount int16
	Offset        int64
	Key           []byte
	Value         []byte
	Headers       []Header
	// Timestamp is the record's timestamp. The root stamps messages
	// produced without one before an engine sees them.
	Timestamp time.Time
	// Opaque is carried from Produce to the message's delivery report and
	// never sent to Kafka.
	Opaque any
}

// TopicPartition names one partition of one topic. It has the fields of the
// public kafka.TopicPartition (offsets.TopicPartition), which the root
// converts to and from; it is defined here so that the engine contract
// depends on no public package (and test helpers that use it can serve
// the tests of package offsets).
type TopicPartition struct {
	Topic     string
	Partition int32
}

// String is "topic/partition".
func (tp TopicPartition) String() string {
	return tp.Topic + "/" + strconv.FormatInt(int64(tp.Partition), 10)
}

// Compare orders by topic, then by partition number.
func (tp TopicPartition) Compare(other TopicPartition) int {
	if c := cmp.Compare(tp.Topic, other.Topic); c != 0 {
		return c
	}
	return cmp.Compare(tp.Partition, other.Partition)
}

// Header is a record header. Keys need not be unique.
type Header = records.Header

// DoneFunc is called exactly once for every message an engine accepted:
// with err == nil once the broker acknowledged it (m.Partition and m.Offset
// are set; Offset is -1 with acks=0), or with the reason it failed for good.
// It runs on an engine goroutine; while it blocks, the engine does not report
// further messages.
type DoneFunc func(m *Message, err error)

// Producer sends messages to any topic. Safe for concurrent use.
type Producer interface {
	// Produce queues m for sending to m.Topic, partition m.Partition. The
	// root has checked m (not nil, a partition the topic has, no larger
	// than MaxMessageBytes by CheckSize) and stamped its Timestamp; done is
	// not nil. Produce blocks while the Queue is full (or fails with
	// kerr.ErrQueueFull when configured to). If Produce returns nil, done
	// is called exactly once later; if it returns an error, done is never
	// called.
	Produce(ctx context.Context, m *Message, done DoneFunc) error
	// Flush waits until every message accepted before the call is done.
	Flush(ctx context.Context) error
	// Close flushes, then releases everything. Messages still queued when
	// ctx ends fail with kerr.ErrClosed. Idempotent.
	Close(ctx context.Context) error
}

// TxnProducer is the producer an engine returns for a ProducerConfig with a
// TransactionalID. The root keeps the transaction's state machine (no
// Produce outside a transaction, no Begin inside one, ...) and calls these
// in a valid order only; one transaction is open at a time.
type TxnProducer interface {
	Producer
	// BeginTxn opens a transaction. The first call initializes the
	// producer's transactional state: it finds the transaction
	// coordinator and gets a producer id and epoch for the
	// TransactionalID (InitProducerID), which fences any older producer
	// with the same id: that one's next request fails with an error
	// matching kerr.ErrProducerFenced.
	BeginTxn(ctx context.Context) error
	// SendOffsets adds consumer offsets of a group to the open
	// transaction: they are committed if, and only if, the transaction
	// is. The membership fields let the group coordinator refuse a member
	// that lost its partitions (KIP-447).
	SendOffsets(ctx context.Context, c GroupCommit) error
	// EndTxn waits until every message produced in the transaction is
	// acknowledged, then commits the transaction (commit) or aborts it.
	// A commit is refused with an error matching kerr.ErrAbortRequired
	// when a message or an offset of the transaction failed; the caller
	// must then abort. Fatal errors (kerr.ErrProducerFenced, an
	// authorization failure) leave the producer unusable but for Close.
	EndTxn(ctx context.Context, commit bool) error
}

// GroupCommit is what SendOffsets adds to a transaction: the next offset to
// read of each partition, for a consumer group, with the committing
// member's generation (zero values for a simple consumer).
type GroupCommit struct {
	Group      string
	Generation int32 // -1: none
	MemberID   string
	InstanceID string
	Offsets    map[TopicPartition]int64
}

// RequiredAcks is the acks field of a Produce request, valued as the
// protocol values it (the root's kafka.Acks is the user-facing form, whose
// zero value means all).
type RequiredAcks int16

const (
	RequireNone   RequiredAcks = 0
	RequireLeader RequiredAcks = 1
	RequireAll    RequiredAcks = -1
)

// ProducerConfig is the producer configuration an engine receives, with every
// default applied and validated by the root.
type ProducerConfig struct {
	Acks             RequiredAcks
	Idempotent       bool
	Linger           time.Duration // 0: send as soon as possible
	BatchBytes       int           // max bytes of one record batch
	MaxMessageBytes  int           // max encoded size of one record
	MaxQueued        int           // messages queued or in flight, at most
	MaxQueuedBytes   int           // their bytes (SizeBound each), at most; 0: no bound
	FailWhenFull     bool          // Produce fails with ErrQueueFull instead of blocking
	Compression      records.Codec
	CompressionLevel int
	DeliveryTimeout  time.Duration // give up on a message this long after Produce
	RequestTimeout   time.Duration // broker-side ack timeout of a Produce request
	RetryBackoff     time.Duration
	MaxInFlight      int // Produce requests in flight per broker
	ClientID         string
	Logger           *slog.Logger
	Security         Security             // for engines that open their own connections
	Raw              map[string]any       // engine-specific overrides (librdkafka properties)
	Observer         BatchObserver        // nil: nobody listens (observe.go)
	Windows          BrokerWindowObserver // nil: nobody listens (observe.go)

	// TransactionalID, when set, makes the producer transactional: NewProducer
	// returns a TxnProducer. The root validated it (idempotent, acks=all).
	TransactionalID string
	// TransactionTimeout is how long the transaction coordinator lets a
	// transaction stay open before it aborts it.
	TransactionTimeout time.Duration
}

// DefaultProducerConfig is the producer configuration with every default
// applied: the one place the defaults are written. The root starts from it
// (its ProducerConfig documents the same values for users) and so do the
// engines' tests.
func DefaultProducerConfig() ProducerConfig {
	return ProducerConfig{
		Acks:            RequireAll,
		Idempotent:      true,
		Linger:          5 * time.Millisecond,
		BatchBytes:      1 << 20,
		MaxMessageBytes: 1 << 20, // the broker's default message.max.bytes
		MaxQueued:       100000,
		DeliveryTimeout: 2 * time.Minute,
		RequestTimeout:  30 * time.Second,
		RetryBackoff:    100 * time.Millisecond,
		MaxInFlight:     1, // see ProducerConfig.MaxInFlight in the root
		// Java's transaction.timeout.ms.
		TransactionTimeout: time.Minute,
	}
}

// Position is the next offset to read from a partition.
type Position struct {
	TopicPartition
	Offset int64
	// Epoch is chosen by the root, which bumps it at every Assign of the
	// partition; the fetcher copies it into each Fetch of that assignment.
	// It lets the root drop a Fetch that Poll returned just before a
	// concurrent re-Assign, which no locking inside the engine can prevent.
	Epoch uint64
}

// IsolationLevel selects which records a fetch returns.
type IsolationLevel int8

const (
	ReadUncommitted IsolationLevel = 0
	ReadCommitted   IsolationLevel = 1
)

// FetcherConfig is the fetch configuration an engine receives, defaults
// applied and validated by the root.
type FetcherConfig struct {
	MinBytes          int32
	MaxBytes          int32
	PartitionMaxBytes int32
	MaxWait           time.Duration
	QueuedMaxMessages int // per partition: prefetch stops at this many buffered messages
	QueuedMaxBytes    int // all partitions: prefetch stops at this many bytes buffered; 0: no bound (the pure engine's; librdkafka ignores it)
	Isolation         IsolationLevel
	CheckCRC          bool
	ClientID          string
	Logger            *slog.Logger
	Security          Security // for engines that open their own connections
	Raw               map[string]any
	Observer          BatchObserver        // nil: nobody listens (observe.go)
	Windows           BrokerWindowObserver // nil: nobody listens (observe.go)
}

// DefaultFetcherConfig is the fetch configuration with every default
// applied: the one place the defaults are written (see
// DefaultProducerConfig).
func DefaultFetcherConfig() FetcherConfig {
	return FetcherConfig{
		MinBytes:          1,
		MaxBytes:          50 << 20,
		PartitionMaxBytes: 1 << 20,
		MaxWait:           100 * time.Millisecond,
		// Prefetch bounds: the count is librdkafka's queued.min.messages
		// default. A tenth of it (the default until 2026-12) starved a
		// fast reader of small messages: a partition's queue then holds
		// less than one round trip's worth, and the pure engine read 100 B
		// messages at half franz-go's rate (bench/results/queued-default).
		// The bytes bound memory whatever the message size; it is the
		// pure engine's alone (librdkafka bounds bytes per partition, with
		// queued.max.messages.kbytes).
		QueuedMaxMessages: 100000,
		QueuedMaxBytes:    64 << 20,
	}
}

// Fetch is what Fetcher.Poll returns: records of one partition in offset
// order, or a partition error.
type Fetch struct {
	TopicPartition
	// Epoch is the Epoch of the Assign this fetch belongs to.
	Epoch uint64
	// Messages are consecutive records of the partition (offsets may have
	// gaps on compacted topics and around transaction markers).
	Messages []*Message
	// NextOffset is the position after this fetch: the offset to fetch
	// next. It can be past the last message's offset + 1 when the fetch
	// ended on control records or compacted-away offsets.
	NextOffset int64
	// HighWatermark is the partition's high watermark at fetch time.
	HighWatermark int64
	// Err is a partition-level error that the fetcher cannot handle itself,
	// such as kerr.OffsetOutOfRange. The partition stays paused until it is
	// assigned again.
	Err error
}

// Fetcher reads the partitions, of any topics, that the root assigns to it,
// from the offsets the root chooses. Safe for concurrent use.
type Fetcher interface {
	// Assign starts fetching the given partitions at the given offsets.
	// A partition already assigned moves to the new offset: its buffered
	// messages and any fetch in flight are discarded, so Poll never returns
	// a message from before the Assign. The whole call is refused,
	// changing nothing, if a topic or partition does not exist (an error
	// matching kerr.ErrUnknownTopic or kerr.ErrUnknownPartition) or an
	// offset is negative.
	Assign(ctx context.Context, positions []Position) error
	// Unassign stops fetching the given partitions and drops what was
	// buffered for them. Partitions not assigned are ignored.
	Unassign(ctx context.Context, partitions []TopicPartition) error
	// Poll returns the next Fetch, blocking until one is ready or ctx ends.
	Poll(ctx context.Context) (Fetch, error)
	// Close stops every fetch goroutine and closes the engine's
	// connections. Idempotent.
	Close() error
}

// Engine creates producers and fetchers. Each engine gets the client's
// shared cluster view (metadata, connections), whether or not it uses it.
type Engine interface {
	NewProducer(ctx context.Context, cl *cluster.Cluster, cfg ProducerConfig) (Producer, error)
	NewFetcher(ctx context.Context, cl *cluster.Cluster, cfg FetcherConfig) (Fetcher, error)
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Engine{}
)

// Register makes an engine available under name. It is meant to be called
// from an engine package's init; registering a name twice panics, as
// database/sql.Register does, because it is a programming error.
func Register(name string, e Engine) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("gokafka: engine %q registered twice", name))
	}
	registry[name] = e
}

// Lookup returns the engine registered under name, or
// kerr.ErrEngineNotEnabled.
func Lookup(name string) (Engine, error) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	e, ok := registry[name]
	if !ok {
		return nil, kerr.ErrEngineNotEnabled
	}
	return e, nil
}
