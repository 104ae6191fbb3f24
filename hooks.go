package kafka

import (
	"strconv"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Hooks let a program watch what a client does — for metrics, traces or
// logs — without wrapping the API. A hook is any value that implements one
// or more of the small interfaces below (BrokerConnectHook, ...,
// LagHook); register it with WithHooks, and the client calls each method it
// implements where the event happens. The plugin modules kprom (Prometheus)
// and kotel (OpenTelemetry) are hooks.
//
// The rules, for every hook method:
//
//   - A hook runs on the goroutine that learnt the fact (a broker's
//     sender, the producer's reporter, the caller of Consume) before that
//     goroutine goes on. A slow hook slows that path and nothing else: a
//     blocked OnRecordDelivered holds the delivery reports back, then
//     the producer's queue fills and Produce waits (or fails with
//     ErrQueueFull); a blocked OnRecordConsumed holds Consume. Nothing is
//     lost or reordered because of it; but a broker-level hook
//     (OnBrokerWrite, OnBrokerRead) that blocks longer than the request
//     timeout can make requests time out and be retried. Hooks that do
//     more than count should hand their work to a goroutine of their own.
//   - A hook that panics is recovered: the event is dropped for that hook
//     only, the first panic of each hook is logged at Error level through
//     WithLogger (later ones silently), and the client carries on.
//   - Hooks are called concurrently from many goroutines: they must be
//     safe for concurrent use.
//   - Events carry values, except the *Message of record hooks, which is
//     the user's message: OnRecordProduced may add headers to it (that is
//     how kotel sends trace context); other hooks must not modify it, nor
//     keep it past the call unless the program does not reuse messages.
//
// Both engines call the record hooks (produced, delivered, consumed), the
// group hooks (rebalance, commit) and the lag hook, which the root package
// raises. The broker and batch hooks come from gokafka's own connections
// and the pure engine: with UseRdkafka, librdkafka opens its own
// connections and builds its own batches, so OnProduceBatch and
// OnFetchBatch are not called for its producers and consumers, and the
// broker hooks see only the client's own requests (metadata, groups,
// offsets), not librdkafka's produce and fetch traffic. What librdkafka
// does tell, in its statistics (which an rdkafka producer or consumer of a
// client with hooks turns on, once a second), is mapped: each broker's
// largest throttle of the second becomes an OnBrokerThrottle (APIKey -1),
// and its request counts and round-trip percentiles show in Client.Stats
// (ProducerStats.Brokers, ConsumerStats.Brokers). A consumer's reports
// arrive while a Consume waits in the engine: one nobody reads reports
// nothing.
//
// With no hooks registered, no hook code runs: the per-message paths cost
// what they cost before hooks existed (see bench_perf_test.go).
type Hook any

// WithHooks registers hooks on the client: each is called for the events
// of the hook interfaces it implements, in the order given, for the
// client's whole life (its producers and consumers included). A value that
// implements none of them is a *ConfigError.
func WithHooks(hooks ...Hook) ClientOption {
	return func(c *clientConfig) {
		for _, h := range hooks {
			if !isHook(h) {
				c.setErr(kerr.Config("WithHooks", "%T implements no hook interface", h))
				continue
			}
			c.hooks = append(c.hooks, h)
		}
	}
}

// BrokerConnectHook is told of every connection attempt to a broker.
type BrokerConnectHook interface {
	OnBrokerConnect(BrokerConnectEvent)
}

// BrokerDisconnectHook is told when a broker connection ends, for any
// reason (ErrClosed when the client closed it).
type BrokerDisconnectHook interface {
	OnBrokerDisconnect(BrokerDisconnectEvent)
}

// BrokerThrottleHook is told when a broker's response asks the client to
// hold back (a quota, KIP-219).
type BrokerThrottleHook interface {
	OnBrokerThrottle(BrokerThrottleEvent)
}

// BrokerWriteHook is told of every request written to a broker.
type BrokerWriteHook interface {
	OnBrokerWrite(BrokerWriteEvent)
}

// BrokerReadHook is told of every response read from a broker, or of the
// failure that means it will not come.
type BrokerReadHook interface {
	OnBrokerRead(BrokerReadEvent)
}

// ProduceBatchHook is told of every record batch the pure engine sends,
// once per try.
type ProduceBatchHook interface {
	OnProduceBatch(ProduceBatchEvent)
}

// FetchBatchHook is told of the records of each partition of each Fetch
// response the pure engine decodes.
type FetchBatchHook interface {
	OnFetchBatch(FetchBatchEvent)
}

// RecordProducedHook is told of each message a producer accepted, just
// before the engine takes it (its topic, partition and timestamp are set),
// so before Produce waits for room in a full queue. It may add headers to
// m. Every message it sees gets exactly one OnRecordDelivered later (with
// Produce's error if the engine refused it).
type RecordProducedHook interface {
	OnRecordProduced(m *Message)
}

// RecordDeliveredHook is told of each produced message's outcome: err nil
// once the broker acknowledged it (m.Offset is set), or why it failed for
// good. It runs before the producer's own report (OnDelivery, the report
// channel, ProduceSync's result, ProduceAsync's callback).
type RecordDeliveredHook interface {
	OnRecordDelivered(m *Message, err error)
}

// RecordConsumedHook is told of each message a consumer (simple, balanced
// or share) hands out, before Consume returns it (or Messages yields it).
type RecordConsumedHook interface {
	OnRecordConsumed(m *Message)
}

// RebalanceHook is told of a balanced consumer's group events: it joined
// the group, was assigned partitions, had partitions revoked or lost them.
type RebalanceHook interface {
	OnRebalance(RebalanceEvent)
}

// CommitHook is told of every offset commit of a consumer's group (explicit,
// automatic, or on revocation).
type CommitHook interface {
	OnCommit(CommitEvent)
}

// LagHook is told of a partition's lag each time a consumer learns it: when
// a fetch brings the partition's high watermark, and when the consumer has
// handed out the last message of a fetch (a consumer that caught up
// reports 0 then).
type LagHook interface {
	OnLag(LagEvent)
}

// BrokerConnectEvent is one connection attempt.
type BrokerConnectEvent struct {
	Broker int32         // the broker's node id; negative for a bootstrap address
	Addr   string        // host:port dialled
	Took   time.Duration // TCP, TLS, version negotiation and SASL
	Err    error         // nil if connected
}

// BrokerDisconnectEvent is the end of one connection.
type BrokerDisconnectEvent struct {
	Broker int32
	Addr   string
	Err    error // why it ended: ErrClosed when the client closed it
}

// BrokerThrottleEvent is a broker asking the client to wait.
type BrokerThrottleEvent struct {
	Broker   int32
	Addr     string
	APIKey   int16 // the request's API key (APIKeyName); -1 from librdkafka's statistics, which do not say
	Throttle time.Duration
}

// BrokerWriteEvent is one request written.
type BrokerWriteEvent struct {
	Broker int32
	Addr   string
	APIKey int16 // the request's API key (APIKeyName)
	Bytes  int   // the frame's size, header included
	Err    error // nil if written
}

// BrokerReadEvent is one response read, or its failure.
type BrokerReadEvent struct {
	Broker int32
	Addr   string
	APIKey int16 // the request's API key (APIKeyName)
	Bytes  int   // the response's size after its length prefix; 0 on error
	// Latency is from the request written to the response read; for
	// Fetch it includes the broker's long-poll wait.
	Latency time.Duration
	Err     error // nil if read; else the connection failed or the waiter gave up
}

// ProduceBatchEvent is one record batch of one partition sent in a Produce
// request.
type ProduceBatchEvent struct {
	Broker    int32
	Topic     string
	Partition int32
	Records   int
	// Bytes is the batch's size before compression, batch header
	// included; CompressedBytes its size as sent.
	Bytes           int
	CompressedBytes int
	Took            time.Duration // the Produce request's round trip
	Err             error         // nil if the request was answered (partition errors aside)
}

// FetchBatchEvent is one partition's records in one Fetch response.
type FetchBatchEvent struct {
	Broker    int32
	Topic     string
	Partition int32
	Records   int // records decoded (transaction markers and aborted records excluded)
	// Bytes is the size of the records' keys, values and headers;
	// CompressedBytes the size of their batches as received.
	Bytes           int
	CompressedBytes int
}

// RebalanceKind is what happened to a group member.
type RebalanceKind int8

const (
	// RebalanceJoined: the member joined its group (Took: the join).
	RebalanceJoined RebalanceKind = iota + 1
	// RebalanceAssigned: partitions were given to the member.
	RebalanceAssigned
	// RebalanceRevoked: partitions were taken back in a rebalance, after
	// their positions were committed.
	RebalanceRevoked
	// RebalanceLost: partitions were lost without a chance to commit
	// (the member was expelled or its session expired).
	RebalanceLost
)

func (k RebalanceKind) String() string {
	switch k {
	case RebalanceJoined:
		return "joined"
	case RebalanceAssigned:
		return "assigned"
	case RebalanceRevoked:
		return "revoked"
	case RebalanceLost:
		return "lost"
	}
	return "RebalanceKind(" + strconv.Itoa(int(k)) + ")"
}

// RebalanceEvent is one group event of a balanced consumer.
type RebalanceEvent struct {
	Group      string
	Kind       RebalanceKind
	Partitions []TopicPartition // assigned, revoked or lost; nil for joined
	// Took is how long the member took to handle it: the join, or the
	// assignment's start offsets and OnAssign, or the revocation's commit
	// and OnRevoke, or OnLost.
	Took time.Duration
	Err  error // what the handling returned
}

// CommitEvent is one offset commit.
type CommitEvent struct {
	Group string
	// Offsets are the offsets sent, per partition: the next offset to read.
	Offsets map[TopicPartition]int64
	// Failed are the partitions whose commit failed, with why; empty when
	// all committed.
	Failed map[TopicPartition]error
	Took   time.Duration
}

// LagEvent is one partition's lag as a consumer knows it.
type LagEvent struct {
	Group         string // the consumer's group; empty without one
	Topic         string
	Partition     int32
	HighWatermark int64 // as the partition's last fetch reported it
	Position      int64 // the next offset the consumer will hand out
	Lag           int64 // HighWatermark - Position, at least 0
}

// APIKeyName names a Kafka API key ("Produce", "Fetch", ...), for labels.
func APIKeyName(key int16) string { return kmsg.NameForKey(key) }
