//go:build cgo && !nordkafka

package rdkafka

import (
	"errors"
	"fmt"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/gokafka/kafka/internal/kerr"
)

// mapError turns an error from confluent-kafka-go into gokafka's typed
// errors, so that callers test it with errors.Is(err, kafka.ErrXxx) whichever
// engine they use. The librdkafka error stays in the chain too (errors.As
// with a kafka.Error still works), and its text ends the message because it
// often says more than the code (which broker, which property).
//
// Codes >= 0 are Kafka protocol codes and become the matching *kerr.Error;
// librdkafka's local codes (< 0) map to the client sentinel with the same
// meaning where there is one, and are returned as they are otherwise.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	var ke kafka.Error
	if !errors.As(err, &ke) {
		return err
	}
	if target := sentinelFor(ke.Code()); target != nil {
		return &rdError{target: target, rd: ke}
	}
	return err
}

// sentinelFor is the gokafka error of a librdkafka error code, or nil when
// gokafka has no counterpart.
func sentinelFor(code kafka.ErrorCode) error {
	if code >= 0 {
		return kerr.ForCode(int16(code))
	}
	switch code {
	case kafka.ErrMsgTimedOut:
		return kerr.ErrDeliveryTimeout
	case kafka.ErrQueueFull:
		return kerr.ErrQueueFull
	case kafka.ErrTransport, kafka.ErrAllBrokersDown, kafka.ErrResolve, kafka.ErrSsl, kafka.ErrDestroyBroker:
		return kerr.ErrConnection
	case kafka.ErrTimedOut, kafka.ErrTimedOutQueue:
		return kerr.ErrRequestTimeout
	case kafka.ErrPurgeQueue, kafka.ErrPurgeInflight, kafka.ErrDestroy:
		// Only Close purges or destroys, so these mean "closed before
		// delivery".
		return kerr.ErrClosed
	case kafka.ErrUnknownTopic:
		return kerr.ErrUnknownTopic
	case kafka.ErrUnknownPartition:
		return kerr.ErrUnknownPartition
	case kafka.ErrAuthentication:
		return kerr.ErrAuthentication
	case kafka.ErrAutoOffsetReset:
		// auto.offset.reset=error: the fetch offset was out of range.
		return kerr.OffsetOutOfRange
	case kafka.ErrBadMsg, kafka.ErrBadCompression:
		return kerr.ErrCorruptResponse
	case kafka.ErrUnsupportedFeature, kafka.ErrNotImplemented:
		return kerr.ErrUnsupportedVersion
	case kafka.ErrFenced:
		// librdkafka's name for PRODUCER_FENCED and, for a
		// transactional producer, INVALID_PRODUCER_EPOCH.
		return kerr.ErrProducerFenced
	}
	return nil
}

// rdError is a librdkafka error with its gokafka meaning.
type rdError struct {
	target error // a kerr sentinel or *kerr.Error
	rd     kafka.Error
}

func (e *rdError) Error() string {
	return e.target.Error() + " (librdkafka: " + e.rd.Error() + ")"
}

// Unwrap exposes both the gokafka error and the librdkafka one.
func (e *rdError) Unwrap() []error { return []error{e.target, e.rd} }

// produceError maps an error that Producer.Produce returned synchronously.
// librdkafka rejects a message over message.max.bytes with the broker's
// MSG_SIZE_TOO_LARGE code; at Produce time that is our ErrMessageTooLarge.
func produceError(err error) error {
	var ke kafka.Error
	if errors.As(err, &ke) && (ke.Code() == kafka.ErrMsgSizeTooLarge || ke.Code() == kafka.ErrInvalidMsgSize) {
		return fmt.Errorf("%w: librdkafka refused it: %w", kerr.ErrMessageTooLarge, mapError(err))
	}
	return mapError(err)
}

// fatalError resolves librdkafka's _FATAL code into the error that made the
// instance unusable (for example an idempotence sequence error), which
// librdkafka keeps aside and rd.GetFatalError returns.
func fatalError(err error, rd interface{ GetFatalError() error }) error {
	var ke kafka.Error
	if !errors.As(err, &ke) || ke.Code() != kafka.ErrFatal {
		return mapError(err)
	}
	if fe := rd.GetFatalError(); fe != nil {
		return fmt.Errorf("rdkafka: fatal error, the instance is unusable: %w", mapError(fe))
	}
	return mapError(err)
}

// fencedCode reports whether a librdkafka code means that a newer producer
// with the same transactional id took over: librdkafka's own _FENCED, or
// the broker codes it stands for.
func fencedCode(code kafka.ErrorCode) bool {
	return code == kafka.ErrFenced || code == kafka.ErrProducerFenced || code == kafka.ErrInvalidProducerEpoch
}

// txnError gives an error of a transactional producer (from a transactional
// call or a delivery report) its transaction meaning, on top of mapError's:
//
//   - fenced (librdkafka's _FENCED, PRODUCER_FENCED, INVALID_PRODUCER_EPOCH,
//     directly or as the cause of a _FATAL): kerr.ErrProducerFenced, and the
//     broker code when there is one;
//   - other fatal errors: the cause, saying that the producer is unusable;
//   - abortable (librdkafka's TxnRequiresAbort): kerr.ErrAbortRequired, and
//     the cause (the broker code, e.g. kerr.IllegalGeneration for offsets of
//     a stale group member).
func txnError(err error, rd interface{ GetFatalError() error }) error {
	var ke kafka.Error
	if !errors.As(err, &ke) {
		return err
	}
	cause, fatal := ke, ke.IsFatal()
	if ke.Code() == kafka.ErrFatal {
		fatal = true
		var fe kafka.Error
		if errors.As(rd.GetFatalError(), &fe) {
			cause = fe
		}
	}
	switch {
	case fencedCode(cause.Code()):
		// The coordinator bumps the epoch when it aborts a transaction
		// that outlived the transaction timeout, which looks the same.
		const why = "(a newer producer with the same transactional id started, or the coordinator aborted a transaction that outlived the transaction timeout)"
		if cause.Code() == kafka.ErrFenced {
			return fmt.Errorf("rdkafka: fenced %s: %w", why, mapError(cause)) // mapError: ErrProducerFenced
		}
		return fmt.Errorf("rdkafka: fenced %s: %w: %w", why, kerr.ErrProducerFenced, mapError(cause))
	case fatal:
		return fmt.Errorf("rdkafka: fatal error, the producer is unusable but for Close: %w", mapError(cause))
	case ke.TxnRequiresAbort():
		return fmt.Errorf("%w: %w", kerr.ErrAbortRequired, mapError(ke))
	}
	return mapError(ke)
}

// authorizationCode reports whether a librdkafka code is a broker's refusal
// for want of an ACL, which retrying does not cure.
func authorizationCode(code kafka.ErrorCode) bool {
	switch code {
	case kafka.ErrTopicAuthorizationFailed, kafka.ErrGroupAuthorizationFailed, kafka.ErrClusterAuthorizationFailed,
		kafka.ErrTransactionalIDAuthorizationFailed:
		return true
	}
	return false
}

// purgeCode reports whether a delivery failed because librdkafka purged the
// message from its queues.
func purgeCode(code kafka.ErrorCode) bool {
	return code == kafka.ErrPurgeQueue || code == kafka.ErrPurgeInflight
}
