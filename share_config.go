package kafka

import (
	"fmt"
	"strconv"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
)

// AckType is how a share consumer acknowledges a record (Acknowledge).
type AckType = engine.AckType

const (
	// AcceptType: the record was processed; it is done for the group.
	AcceptType = engine.AckAccept
	// ReleaseType: the record was not processed; the group delivers it
	// again (to any member), with a higher delivery count — until the
	// group's delivery count limit (share.delivery.count.limit, 5 by
	// default), after which it is archived.
	ReleaseType = engine.AckRelease
	// RejectType: the record cannot be processed; it is archived and never
	// delivered again.
	RejectType = engine.AckReject
)

// ShareOffsetReset says where a share group starts reading a partition it
// has not read before: the group's share.auto.offset.reset config, which
// NewShareConsumer can set. The zero value leaves it as it is.
type ShareOffsetReset int8

const (
	// ShareResetGroupConfig leaves the group's setting alone (the
	// default). Kafka's own default is latest: a new group sees only the
	// records produced after it first reads a partition.
	ShareResetGroupConfig ShareOffsetReset = iota
	// ShareResetEarliest sets the group to start at the oldest record.
	ShareResetEarliest
	// ShareResetLatest sets the group to start after the newest record.
	ShareResetLatest
)

// ShareConsumerConfig configures a ShareConsumer: a member of a share group
// (KIP-932). The zero value of each field is its documented default; Group
// and Topics are required.
type ShareConsumerConfig struct {
	// Group is the share group id. Required. Group ids are one name
	// space: the id of an existing consumer group is not a share group's.
	Group string
	// Topics are the topics the group member reads. Required.
	Topics []string

	// ExplicitAcknowledgement makes every record handed out wait for
	// Acknowledge. Default off: implicit acknowledgement, where every
	// record handed out and not acknowledged otherwise is accepted at the
	// consumer's next fetch (when Consume needs records it does not
	// hold), and at Close — so a record counts as processed once the next
	// one was asked for.
	ExplicitAcknowledgement bool
	// MaxUnacknowledged bounds, with ExplicitAcknowledgement, the records
	// handed out and not acknowledged yet: at this many, Consume waits for
	// Acknowledge calls (or for acquisition locks to expire, which frees
	// their records). Default 10000.
	MaxUnacknowledged int

	// AutoOffsetReset sets the group's share.auto.offset.reset before
	// joining (a group-wide setting, stored by the cluster, that every
	// member sees). Default ShareResetGroupConfig: not set.
	AutoOffsetReset ShareOffsetReset
	// RecordLockDuration sets the group's share.record.lock.duration.ms
	// before joining: how long a member may hold an acquired record
	// before the group delivers it to another (a group-wide setting, like
	// AutoOffsetReset; the brokers bound it with
	// group.share.min/max.record.lock.duration.ms). Default 0: not set
	// (Kafka's default is 30s).
	RecordLockDuration time.Duration

	// ConsumerTimeout ends iteration (Messages) and makes Consume return
	// ErrConsumerTimeout when no record arrived for this long. Default 0:
	// wait forever.
	ConsumerTimeout time.Duration
	// MaxRecords is how many records one fetch asks the broker to acquire
	// (the broker may go past it to end on a record batch). Default 500,
	// as the Java client's max.poll.records.
	MaxRecords int
	// FetchMinBytes is the least data a broker gathers before answering a
	// fetch (or FetchMaxWait passes). Default 1.
	FetchMinBytes int32
	// FetchMaxWait is how long a broker holds a fetch that has less than
	// FetchMinBytes. Default 500ms.
	FetchMaxWait time.Duration
	// FetchMaxBytes bounds one fetch response. Default 50 MiB.
	FetchMaxBytes int32

	// AckResults makes the consumer post the outcome of every
	// acknowledgement on the channel returned by AckResults. You must
	// then read it: when it is full (capacity 1024 results), reporting
	// waits, and so does the fetching from the broker whose answer is
	// being reported.
	AckResults bool
	// OnAcknowledged, if set, is called with the outcome of every
	// acknowledgement, from a consumer goroutine: keep it short. It is the
	// callback form of AckResults; both may be used.
	OnAcknowledged func(ShareAckResult)

	// Rack is the member's rack, for the group's rack-aware assignment.
	// Default none.
	Rack string

	// Engine and UseRdkafka choose the engine, as for other consumers.
	// Only the pure engine has share groups: choosing librdkafka, here or
	// as the client's engine, fails with an error matching ErrUnsupported.
	Engine     Engine
	UseRdkafka bool
}

// ShareAckResult is the outcome of acknowledging the records at offsets
// FirstOffset..LastOffset (each offset a record handed out) of a partition
// with Type. Err is nil once the partition's leader took the
// acknowledgement; else it says why not: the leader refused it
// (ErrInvalidRecordState: the acquisition lock had expired, and the
// records were, or will be, delivered again), or it could not be sent (a
// lost connection or share session, a leader that moved; the records are
// delivered again when their locks expire).
type ShareAckResult struct {
	TopicPartition
	FirstOffset, LastOffset int64
	Type                    AckType
	Err                     error
}

// Records is how many records the result covers.
func (r ShareAckResult) Records() int64 { return r.LastOffset - r.FirstOffset + 1 }

// Defaults of ShareConsumerConfig not taken from other consumers.
const (
	defaultShareMaxRecords        = 500
	defaultShareMaxWait           = 500 * time.Millisecond
	defaultShareMaxUnacknowledged = 10000
	shareResultsCapacity          = 1024
)

// resolvedShare is a share consumer's configuration with defaults applied.
type resolvedShare struct {
	ShareConsumerConfig
	eng         engine.ShareEngine
	fetch       engine.ShareFetcherConfig
	groupConfig map[string]string
}

func (c ShareConsumerConfig) resolve(client *Client) (resolvedShare, error) {
	const prefix = "ShareConsumerConfig"
	r := resolvedShare{ShareConsumerConfig: c}
	if c.Group == "" {
		return r, kerr.Config(prefix+".Group", "required: the share group id")
	}
	if len(c.Topics) == 0 {
		return r, kerr.Config(prefix+".Topics", "required: the topics to read")
	}
	for _, f := range []struct {
		name string
		v    int
		def  int
		out  *int
	}{
		{"MaxRecords", c.MaxRecords, defaultShareMaxRecords, &r.MaxRecords},
		{"MaxUnacknowledged", c.MaxUnacknowledged, defaultShareMaxUnacknowledged, &r.MaxUnacknowledged},
	} {
		if f.v < 0 {
			return r, kerr.Config(prefix+"."+f.name, "must not be negative, got %d", f.v)
		}
		if f.v == 0 {
			*f.out = f.def
		}
	}
	if r.MaxRecords > 1<<20 {
		return r, kerr.Config(prefix+".MaxRecords", "%d is more than a fetch can hold (at most %d)", r.MaxRecords, 1<<20)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ConsumerTimeout", c.ConsumerTimeout}, {"FetchMaxWait", c.FetchMaxWait}, {"RecordLockDuration", c.RecordLockDuration}} {
		if d.v < 0 {
			return r, kerr.Config(prefix+"."+d.name, "must not be negative, got %v", d.v)
		}
	}
	if c.FetchMinBytes < 0 || c.FetchMaxBytes < 0 {
		return r, kerr.Config(prefix+".FetchMinBytes", "fetch sizes must not be negative")
	}
	r.groupConfig = map[string]string{}
	switch c.AutoOffsetReset {
	case ShareResetGroupConfig:
	case ShareResetEarliest:
		r.groupConfig["share.auto.offset.reset"] = "earliest"
	case ShareResetLatest:
		r.groupConfig["share.auto.offset.reset"] = "latest"
	default:
		return r, kerr.Config(prefix+".AutoOffsetReset", "unknown value %d", c.AutoOffsetReset)
	}
	if c.RecordLockDuration > 0 {
		r.groupConfig["share.record.lock.duration.ms"] = strconv.FormatInt(max(1, c.RecordLockDuration.Milliseconds()), 10)
	}
	switch {
	case c.Engine < EngineDefault || c.Engine > EngineRdkafka:
		return r, kerr.Config(prefix+".Engine", "unknown engine %d", c.Engine)
	case c.UseRdkafka && c.Engine == EnginePure:
		return r, kerr.Config(prefix+".UseRdkafka", "contradicts Engine: EnginePure")
	}
	chosen := c.Engine
	if c.UseRdkafka {
		chosen = EngineRdkafka
	} else if chosen == EngineDefault {
		chosen = client.cfg.engine
	}
	if chosen == EngineRdkafka {
		return r, fmt.Errorf("%w: share groups: the librdkafka engine has none (the librdkafka that confluent-kafka-go bundles has no share consumer); use the pure engine (Engine: EnginePure)", ErrUnsupported)
	}
	se, ok := pureEngine.(engine.ShareEngine)
	if !ok {
		return r, fmt.Errorf("%w: share groups: the pure engine has none", ErrUnsupported)
	}
	r.eng = se
	r.fetch = engine.ShareFetcherConfig{
		Group:      c.Group,
		MinBytes:   1,
		MaxBytes:   engine.DefaultFetcherConfig().MaxBytes,
		MaxWait:    defaultShareMaxWait,
		MaxRecords: int32(r.MaxRecords),
		ClientID:   client.cfg.clientID,
		Logger:     client.cfg.logger,
	}
	if c.FetchMinBytes > 0 {
		r.fetch.MinBytes = c.FetchMinBytes
	}
	if c.FetchMaxBytes > 0 {
		r.fetch.MaxBytes = c.FetchMaxBytes
	}
	if c.FetchMaxWait > 0 {
		r.fetch.MaxWait = c.FetchMaxWait
	}
	return r, nil
}
