// Package kerr holds every error value that gokafka's packages share: one
// *Error per Kafka protocol error code, and the client-side sentinels (closed
// client, full queue, invalid configuration, ...). The root package re-exports
// them so that users compare with errors.Is against kafka.ErrXxx; the engines
// and the shared layers return them without importing the root.
package kerr

import (
	"errors"
	"fmt"
	"strconv"
)

// Error is an error code returned by a Kafka broker.
//
// Each code has exactly one *Error value, so errors.Is(err, kerr.NotCoordinator)
// works through any amount of wrapping.
type Error struct {
	Code        int16
	Name        string // the protocol name, e.g. NOT_LEADER_OR_FOLLOWER
	Retriable   bool   // whether retrying the same request may succeed
	Description string
}

func (e *Error) Error() string {
	return "kafka: broker error " + e.Name + " (" + strconv.Itoa(int(e.Code)) + "): " + e.Description
}

// ForCode returns the error for a protocol error code, or nil for code 0.
// Codes this package does not know get a fresh, non-retriable *Error.
func ForCode(code int16) error {
	if code == 0 {
		return nil
	}
	if e, ok := codes[code]; ok {
		return e
	}
	return &Error{Code: code, Name: "UNKNOWN_CODE_" + strconv.Itoa(int(code)), Description: "an error code this client does not know"}
}

// WithMessage is ForCode plus the broker's own error message, when it sent one.
// errors.Is still matches the code's *Error.
func WithMessage(code int16, msg *string) error {
	err := ForCode(code)
	if err == nil || msg == nil || *msg == "" {
		return err
	}
	return fmt.Errorf("%w (broker says: %s)", err, *msg)
}

// IsRetriable reports whether err is a broker error that may succeed when the
// request is retried, or a connection-level failure (ErrConnection).
func IsRetriable(err error) bool {
	var ke *Error
	if errors.As(err, &ke) {
		return ke.Retriable
	}
	return errors.Is(err, ErrConnection) || errors.Is(err, ErrRequestTimeout)
}

// Client-side sentinels. Messages start with "kafka:" so they are easy to
// spot in logs.
var (
	// ErrClosed: the client, producer or consumer was closed.
	ErrClosed = errors.New("kafka: closed")
	// ErrConnection: a broker connection failed (dial, read or write); the
	// request may or may not have reached the broker.
	ErrConnection = errors.New("kafka: broker connection failed")
	// ErrRequestTimeout: a broker did not answer within the request timeout.
	ErrRequestTimeout = errors.New("kafka: request timed out")
	// ErrUnsupportedVersion: the broker does not support any version of a
	// request that this client can speak.
	ErrUnsupportedVersion = errors.New("kafka: broker does not support a usable version of the request")
	// ErrCorruptResponse: a broker sent bytes that do not decode.
	ErrCorruptResponse = errors.New("kafka: corrupt or truncated response")
	// ErrNoBrokers: none of the bootstrap brokers could be reached.
	ErrNoBrokers = errors.New("kafka: no broker reachable")
	// ErrInvalidConfig: a configuration field is invalid; the error is a
	// *ConfigError naming the field.
	ErrInvalidConfig = errors.New("kafka: invalid configuration")
	// ErrUnknownTopic: the topic does not exist (and was not auto-created).
	ErrUnknownTopic = errors.New("kafka: unknown topic")
	// ErrUnknownPartition: the partition does not exist in the topic.
	ErrUnknownPartition = errors.New("kafka: unknown partition")
	// ErrInvalidTopic: the topic name is not a legal Kafka topic name.
	ErrInvalidTopic = errors.New("kafka: invalid topic name")
	// ErrQueueFull: the producer's queue is full and the producer is
	// configured to fail fast rather than block.
	ErrQueueFull = errors.New("kafka: producer queue full")
	// ErrMessageTooLarge: a message exceeds the producer's MaxMessageBytes.
	ErrMessageTooLarge = errors.New("kafka: message too large")
	// ErrDeliveryTimeout: the producer gave up on a message because it was
	// not acknowledged within the producer's DeliveryTimeout, retries
	// included. A message that was sent before it timed out may still have
	// been written.
	ErrDeliveryTimeout = errors.New("kafka: message not delivered within the delivery timeout")
	// ErrNilMessage: a nil *Message was passed.
	ErrNilMessage = errors.New("kafka: nil message")
	// ErrConsumerTimeout: iteration ended because no message arrived within
	// ConsumerTimeout.
	ErrConsumerTimeout = errors.New("kafka: consumer timeout, no new messages")
	// ErrNoGroup: an offset operation needs a consumer group and none was set.
	ErrNoGroup = errors.New("kafka: no consumer group configured")
	// ErrEngineNotEnabled: UseRdkafka was set but the librdkafka engine was
	// not compiled in or not registered.
	ErrEngineNotEnabled = errors.New("kafka: librdkafka engine not enabled: build with cgo and add the blank import _ \"github.com/gokafka/kafka/rdkafka\"")
	// ErrAuthentication: TLS or SASL authentication with a broker failed.
	ErrAuthentication = errors.New("kafka: authentication failed")
	// ErrOffsetOutOfRange is the one value for an offset out of range,
	// whoever found it: the broker's OFFSET_OUT_OF_RANGE code itself, so
	// that errors.Is matches the broker's answer and the client's own
	// checks (a negative offset, ResetNone with nothing committed) alike.
	ErrOffsetOutOfRange = OffsetOutOfRange
	// ErrUnsupported: the cluster, or the engine, cannot do what was
	// asked (a protocol the brokers lack, a feature an engine lacks); the
	// message says which.
	ErrUnsupported = errors.New("kafka: not supported")
	// ErrProducerFenced: another producer with the same transactional id
	// started, so this one may not write any more (fatal; Close it).
	// Kafka's PRODUCER_FENCED, and INVALID_PRODUCER_EPOCH when the
	// transaction coordinator answers it, are wrapped with it (from a
	// partition leader, INVALID_PRODUCER_EPOCH only fails the
	// transaction, as with the Java client).
	ErrProducerFenced = errors.New("kafka: producer fenced by a newer producer with the same transactional id")
	// ErrNoTransaction: a transactional producer was asked to produce,
	// commit, abort or add offsets outside a transaction.
	ErrNoTransaction = errors.New("kafka: no transaction is open")
	// ErrTransactionOpen: BeginTransaction while a transaction is open.
	ErrTransactionOpen = errors.New("kafka: a transaction is already open")
	// ErrAbortRequired: the transaction cannot commit (a message or an
	// offset of it failed, or it timed out); abort it, then go on.
	ErrAbortRequired = errors.New("kafka: the transaction failed and must be aborted")
	// ErrTransactionAborted: the message was dropped unwritten because its
	// transaction was aborted (or failed): the report of such a message.
	ErrTransactionAborted = errors.New("kafka: the message's transaction was aborted before it was written")
	// ErrRebalanced: the partition is not, or no longer, owned by this
	// group member.
	ErrRebalanced = errors.New("kafka: partition not owned by this member (revoked by a rebalance, or never assigned)")
)

// ConfigError reports an invalid configuration field. It matches
// ErrInvalidConfig with errors.Is.
type ConfigError struct {
	Field  string // e.g. "ProducerConfig.Linger"
	Reason string
}

func (e *ConfigError) Error() string {
	return "kafka: invalid configuration: " + e.Field + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalidConfig) true.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// Config returns a *ConfigError for field.
func Config(field, format string, args ...any) error {
	return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
