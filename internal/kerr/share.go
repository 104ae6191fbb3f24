package kerr

import "errors"

// Broker error codes of share groups (KIP-932), one value per code, kept
// apart from codes.go so that the list there stays Kafka's up to 120.
var (
	InvalidRecordState       = def(121, "INVALID_RECORD_STATE", false, "the record state is invalid: the acknowledgement of delivery could not be completed")
	ShareSessionNotFound     = def(122, "SHARE_SESSION_NOT_FOUND", false, "the share session was not found")
	InvalidShareSessionEpoch = def(123, "INVALID_SHARE_SESSION_EPOCH", false, "the share session epoch is invalid")
	FencedStateEpoch         = def(124, "FENCED_STATE_EPOCH", false, "the share coordinator rejected the request because the share-group state epoch did not match")
	ShareSessionLimitReached = def(133, "SHARE_SESSION_LIMIT_REACHED", true, "the limit of share sessions has been reached")
)

// ErrNotAcquired: a share consumer was asked to acknowledge a record it
// does not hold: one it never handed out, one already acknowledged (or,
// with implicit acknowledgement, accepted at the next fetch), or one whose
// acquisition lock expired.
var ErrNotAcquired = errors.New("kafka: record not acquired by this share consumer")
