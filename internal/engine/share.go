package engine

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
)

// The share-group (KIP-932) part of the contract. An engine that can read
// for share groups implements ShareEngine; the root type-asserts it and
// refuses share consumers (kerr.ErrUnsupported) on engines that do not.
//
// The split of work follows the rest of the contract. The root owns the
// group membership (balance/share), which tells it the partitions to read,
// and the records it handed out: which are held, how each is acknowledged,
// when implicit acknowledgement accepts them. The engine owns the share
// sessions with the partition leaders (ShareFetch, ShareAcknowledge), the
// records it acquired and has not handed to Poll yet, and the offsets of
// acquired ranges that hold no record (control records, compacted ones),
// which it acknowledges itself.

// ShareEngine is implemented by engines that read for share groups.
type ShareEngine interface {
	NewShareFetcher(ctx context.Context, cl *cluster.Cluster, cfg ShareFetcherConfig) (ShareFetcher, error)
}

// AckType is how a record is acknowledged, with the protocol's values.
type AckType int8

const (
	// AckGap acknowledges offsets that hold no record (engine use only).
	AckGap AckType = 0
	// AckAccept: processed; the record is done.
	AckAccept AckType = 1
	// AckRelease: not processed; the record goes back to the group to be
	// delivered again, with a higher delivery count.
	AckRelease AckType = 2
	// AckReject: unprocessable; the record is archived, never delivered
	// again.
	AckReject AckType = 3
)

func (t AckType) String() string {
	switch t {
	case AckGap:
		return "gap"
	case AckAccept:
		return "accept"
	case AckRelease:
		return "release"
	case AckReject:
		return "reject"
	}
	return "AckType(" + strconv.Itoa(int(t)) + ")"
}

// ShareAck acknowledges the records at offsets FirstOffset..LastOffset of
// one partition, all with one Type. Session is the ShareFetch's that
// delivered them: acknowledgements go to the share session that acquired
// the records, and fail, unsent, once it has ended.
type ShareAck struct {
	TopicPartition
	FirstOffset, LastOffset int64
	Type                    AckType
	Session                 uint64
}

// ShareAckResult is the outcome of a ShareAck: Err is nil once the
// partition's leader accepted the acknowledgement.
type ShareAckResult struct {
	ShareAck
	Err error
}

// ShareFetcherConfig is the configuration of a share fetcher, defaults
// applied and validated by the root.
type ShareFetcherConfig struct {
	Group    string
	MemberID string // the member id the group membership uses
	MinBytes int32
	MaxBytes int32
	MaxWait  time.Duration
	// MaxRecords is how many records one ShareFetch asks to acquire (the
	// broker may exceed it to end on a batch boundary).
	MaxRecords int32
	ClientID   string
	Logger     *slog.Logger
	// Acked receives the outcome of every ShareAck given to Acknowledge,
	// exactly once, from an engine goroutine; while it blocks, that
	// broker's fetching waits. Required.
	Acked func([]ShareAckResult)
}

// ShareFetch is what ShareFetcher.Poll returns: records of one partition
// that the broker acquired for this member, or a partition error.
type ShareFetch struct {
	TopicPartition
	// Messages are the acquired records, in offset order, each with its
	// DeliveryCount set.
	Messages []*Message
	// LockDeadline is when the acquisition locks of these records expire,
	// as the client reckons it (from the answer's arrival): after it, the
	// broker may deliver them to another member.
	LockDeadline time.Time
	// Session names the share session that acquired the records, for
	// their ShareAcks. A session ends with its connection (the broker
	// then releases what it acquired), or when the broker forgets it:
	// records of an ended session are no longer the member's, and are
	// delivered again.
	Session uint64
	// Err is an error the engine cannot handle itself (not a leader move,
	// not a lost connection), such as an authorization failure.
	Err error
}

// ShareFetcher reads, for one member of a share group, the partitions the
// root assigns to it. Safe for concurrent use.
type ShareFetcher interface {
	// Assign adds partitions to read. It is refused, changing nothing, if
	// a topic or partition does not exist (kerr.ErrUnknownTopic,
	// kerr.ErrUnknownPartition).
	Assign(ctx context.Context, partitions []TopicPartition) error
	// Unassign stops reading partitions. Records acquired from them
	// before can still be acknowledged.
	Unassign(ctx context.Context, partitions []TopicPartition) error
	// Poll returns the next ShareFetch, blocking until one is ready or
	// ctx ends.
	Poll(ctx context.Context) (ShareFetch, error)
	// Acknowledge queues acknowledgements for the partitions' leaders;
	// each ShareAck's outcome goes to ShareFetcherConfig.Acked. It does
	// not block: the acknowledgements ride on the next ShareFetch to the
	// leader, or go in a ShareAcknowledge of their own.
	Acknowledge(acks []ShareAck)
	// Flush sends the acknowledgements queued before the call and waits
	// until their outcomes have been given to Acked, or ctx ends.
	Flush(ctx context.Context) error
	// Close releases the records acquired and not yet polled, sends the
	// acknowledgements still queued, closes the share sessions, and stops
	// every goroutine; what ctx cuts short is reported to Acked as failed.
	// Idempotent.
	Close(ctx context.Context) error
}
