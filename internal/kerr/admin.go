package kerr

import "errors"

// Sentinels of the admin calls (the root's admin*.go files re-export them).
var (
	// ErrUnknownGroup: the consumer group does not exist (no member and
	// no committed offset; Kafka calls such a group Dead).
	ErrUnknownGroup = errors.New("kafka: unknown consumer group")
	// ErrGroupNotEmpty: the group has live members, so its offsets cannot
	// be reset (a member would overwrite them at its next commit), as
	// Kafka's own kafka-consumer-groups tool refuses too.
	ErrGroupNotEmpty = errors.New("kafka: the consumer group has active members")
	// ErrNoCommittedOffset: an offset reset that shifts the committed
	// offset of a partition the group has no committed offset for.
	ErrNoCommittedOffset = errors.New("kafka: the group has no committed offset for the partition")
)

// IsAuthorization reports whether err is a broker's refusal for lack of
// rights: TOPIC_, GROUP_, CLUSTER_, TRANSACTIONAL_ID_ or
// DELEGATION_TOKEN_AUTHORIZATION_FAILED.
func IsAuthorization(err error) bool {
	return errors.Is(err, TopicAuthorizationFailed) ||
		errors.Is(err, GroupAuthorizationFailed) ||
		errors.Is(err, ClusterAuthorizationFailed) ||
		errors.Is(err, TransactionalIDAuthorizationFailed) ||
		errors.Is(err, DelegationTokenAuthorizationFailed)
}
