package kafka

import "github.com/gokafka/kafka/internal/kerr"

// BrokerError is an error code returned by a Kafka broker: Code and Name are
// the protocol's, Retriable says whether the client may retry. Each code has
// one *BrokerError value, so errors.Is(err, kafka.ErrNotLeaderOrFollower)
// holds however the error was wrapped; errors.As gives the code of any.
// Its fields (an alias shows none in go doc):
//
//	Code        int16
//	Name        string // the protocol's name, e.g. NOT_LEADER_OR_FOLLOWER
//	Retriable   bool   // whether retrying the same request may succeed
//	Description string
type BrokerError = kerr.Error

// ConfigError reports an invalid configuration field by name; it matches
// ErrInvalidConfig. Its fields (an alias shows none in go doc):
//
//	Field  string // the field, e.g. "ProducerConfig.Linger"
//	Reason string // what is wrong with its value
//
// errors.As(err, &ce) with ce a *ConfigError reads them.
type ConfigError = kerr.ConfigError

// Client-side errors.
var (
	ErrClosed             = kerr.ErrClosed             // the client, producer or consumer is closed
	ErrConnection         = kerr.ErrConnection         // a broker connection failed
	ErrRequestTimeout     = kerr.ErrRequestTimeout     // a broker did not answer in time
	ErrUnsupportedVersion = kerr.ErrUnsupportedVersion // the broker is too old or too new for a request
	ErrCorruptResponse    = kerr.ErrCorruptResponse    // a broker (or something posing as one) sent undecodable bytes
	ErrNoBrokers          = kerr.ErrNoBrokers          // no broker could be reached
	ErrInvalidConfig      = kerr.ErrInvalidConfig      // a configuration field is invalid (see ConfigError)
	ErrUnknownTopic       = kerr.ErrUnknownTopic       // the topic does not exist
	ErrUnknownPartition   = kerr.ErrUnknownPartition   // the partition does not exist
	ErrInvalidTopic       = kerr.ErrInvalidTopic       // the topic name is not legal
	ErrQueueFull          = kerr.ErrQueueFull          // the producer queue is full (FailWhenQueueFull)
	ErrMessageTooLarge    = kerr.ErrMessageTooLarge    // the message exceeds MaxMessageBytes
	ErrDeliveryTimeout    = kerr.ErrDeliveryTimeout    // not acknowledged within DeliveryTimeout, retries included
	ErrNilMessage         = kerr.ErrNilMessage         // a nil *Message was produced
	ErrConsumerTimeout    = kerr.ErrConsumerTimeout    // no message within ConsumerTimeout
	ErrNoGroup            = kerr.ErrNoGroup            // an offset operation needs a ConsumerGroup
	ErrEngineNotEnabled   = kerr.ErrEngineNotEnabled   // UseRdkafka without the rdkafka engine compiled in
	ErrAuthentication     = kerr.ErrAuthentication     // TLS or SASL authentication failed
	ErrOffsetOutOfRange   = kerr.ErrOffsetOutOfRange   // the broker's OFFSET_OUT_OF_RANGE, also for the client's own checks
	ErrUnsupported        = kerr.ErrUnsupported        // the cluster or the engine cannot do it (the message says which)
	ErrProducerFenced     = kerr.ErrProducerFenced     // a newer producer with the same TransactionalID took over: fatal
	ErrNoTransaction      = kerr.ErrNoTransaction      // a transactional producer used outside a transaction
	ErrTransactionOpen    = kerr.ErrTransactionOpen    // BeginTransaction with a transaction open
	ErrAbortRequired      = kerr.ErrAbortRequired      // the transaction failed: AbortTransaction, then go on
	ErrTransactionAborted = kerr.ErrTransactionAborted // a message dropped unwritten with its aborted transaction
	ErrRebalanced         = kerr.ErrRebalanced         // a group consumer does not (any longer) own the partition
)

// Broker errors that callers commonly test for. Every other code is
// available as a *BrokerError through errors.As.
var (
	ErrUnknownTopicOrPartition  = kerr.UnknownTopicOrPartition
	ErrNotLeaderOrFollower      = kerr.NotLeaderOrFollower
	ErrBrokerMessageTooLarge    = kerr.MessageTooLarge
	ErrNotEnoughReplicas        = kerr.NotEnoughReplicas
	ErrTopicAlreadyExists       = kerr.TopicAlreadyExists
	ErrTopicAuthorization       = kerr.TopicAuthorizationFailed
	ErrGroupAuthorization       = kerr.GroupAuthorizationFailed
	ErrSaslAuthenticationFailed = kerr.SaslAuthenticationFailed
	ErrIllegalGeneration        = kerr.IllegalGeneration
	ErrUnknownMemberID          = kerr.UnknownMemberID
	ErrRebalanceInProgress      = kerr.RebalanceInProgress
	ErrFencedInstanceID         = kerr.FencedInstanceID
	ErrInvalidPartitions        = kerr.InvalidPartitions
	ErrInvalidReplicationFactor = kerr.InvalidReplicationFactor
)

// IsRetriable reports whether an operation that failed with err may succeed
// if tried again unchanged: a broker error code that Kafka marks retriable
// (a leader or coordinator moving, NOT_ENOUGH_REPLICAS, ...), a lost
// connection or a request timeout. Producers and consumers retry these
// themselves; it is for callers that decide what to do with an error they
// were given (an admin call, a commit).
func IsRetriable(err error) bool { return kerr.IsRetriable(err) }
