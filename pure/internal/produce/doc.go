// Package produce is the pure-Go engine's producer: it turns the messages
// the root hands to Produce into record batches and Produce requests. One
// producer serves any number of topics: each message names its topic and
// partition (the root chose and checked both, and stamped the timestamp).
//
// # Actors
//
// The design follows franz-go's kgo:
//
//   - A partition buffer per topic and partition (partition.go). Produce
//     finds it without a lock, in a copy-on-write table per topic under a
//     copy-on-write map of topics (topics.go); the first message of a
//     topic creates its table and has the cluster track the topic's
//     metadata. Produce encodes each message into the partition's open
//     record batch at once (so the cost of encoding is paid by the
//     producing goroutine, and a batch is ready to send the moment it is
//     due), and keeps the message and its DoneFunc beside it for the
//     delivery report. Only the partition's mutex is taken; the bounded
//     queue (engine.Queue) is one atomic operation.
//   - A sink per broker (sink.go), shared by all topics: a goroutine that
//     runs while the broker leads partitions with messages. It drains the
//     batches that are ready (linger elapsed, full, or a Flush asked) into
//     Produce requests, one batch per partition and several partitions, of
//     several topics, per request (grouped by topic, as the protocol lays
//     requests out), with up to MaxInFlight requests in flight. Each
//     request is sent and answered on a sender goroutine (request.go);
//     once answered, the sender takes the next ready batches and sends
//     them at once, so under load requests follow each other without a
//     hand-off, and the messages are reported on another goroutine
//     meanwhile.
//   - A transactional producer (txn.go) adds, with the classic protocol, an
//     adder goroutine that runs while partitions wait to join the open
//     transaction (AddPartitionsToTxn); the requests to the transaction
//     coordinator run in the caller's goroutine otherwise.
//   - A router (router.go), a goroutine that runs while some partition has
//     no usable leader: a partition whose send failed with a retriable
//     error leaves its sink, waits out a backoff and a metadata refresh,
//     and is homed again to its (possibly new) leader's sink. Leaders are
//     looked up per topic and partition.
//
// # Ordering and idempotence
//
// At most one batch per partition is in flight. While it is, the next batch
// keeps filling, so batching grows with load. A failed batch is retried, with
// the same bytes and sequence number, before anything behind it: retries
// never reorder, and with idempotence (an InitProducerID before the first
// batch: one producer ID for all topics; a sequence per topic and partition,
// as the broker keeps it) the broker drops duplicates. When the broker
// rejects a sequence (OUT_OF_ORDER_SEQUENCE_NUMBER after a batch failed for
// good and left a hole, UNKNOWN_PRODUCER_ID, ...), the producer gets a new
// producer ID and re-stamps what is pending; partitions of every topic adopt
// the new ID one at a time, when nothing of theirs is in flight, and start
// their sequence again at 0.
//
// # Retries and failures
//
// Retriable errors (NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS,
// REQUEST_TIMED_OUT, a dropped connection, ...) send the partition to the
// router and the batch is resent, with the same bytes, once the leader is
// known again. A batch the broker refuses as too large is split. Other
// broker errors fail the batch's messages with the *kerr.Error. A batch
// gives up kerr.ErrDeliveryTimeout after DeliveryTimeout counted from its
// first message (so the later messages of a batch may give up a little
// early), but never while it is in flight: the request's own deadline
// bounds that wait. A message that timed out after it was sent may still
// have been written. The delivery timeout is also how messages to a topic
// that does not exist (deleted, or not created yet) end: its partitions wait
// for a leader that the metadata does not give, and their messages fail
// with an error that names the topic and partition, as every error and log
// line about a partition does.
//
// # Delivery reports
//
// Every accepted message is reported exactly once, through its DoneFunc:
// success with its offset (-1 with acks=0), or the error that ended it (a
// non-retriable broker error, kerr.ErrDeliveryTimeout, kerr.ErrClosed at
// Close). The reports of one partition come in order, from one goroutine at
// a time; reports of different partitions may run concurrently. A message's
// queue slot is freed once its DoneFunc returns, so a slow DoneFunc slows
// Produce down rather than letting the queue grow. A DoneFunc must not call
// Flush or Close of its own producer: they wait for reports, including the
// one that is calling them.
//
// # Transactions
//
// With a TransactionalID, New returns a *TxnProducer (engine.TxnProducer,
// txn.go): every message belongs to the open transaction (Produce outside
// one fails with kerr.ErrNoTransaction), its batches are flagged
// transactional, and BeginTxn, SendOffsets and EndTxn run one at a time.
// The first BeginTxn finds the transaction coordinator (FindCoordinator,
// key type 1, cluster.Coordinator) and gets the id's producer ID and epoch
// (InitProducerID with the transactional id and TransactionTimeout), which
// fences older producers of the id and aborts what they left open; as in
// Java's client, NOT_COORDINATOR and COORDINATOR_NOT_AVAILABLE send it to
// look the coordinator up again, and COORDINATOR_LOAD_IN_PROGRESS and
// CONCURRENT_TRANSACTIONS (the previous transaction still completing) are
// retried with backoff (cluster.BackoffAfter: 20 ms more per attempt for
// CONCURRENT_TRANSACTIONS), until the call's context ends. A batch a
// leader refuses with CONCURRENT_TRANSACTIONS goes again to the same
// leader after that short backoff, without the metadata refresh other
// retriable errors wait for (retryHereLocked). Then it picks the
// protocol, for the producer's life:
//
//   - Transactions v2 (KIP-890), where the cluster has finalized
//     transaction.version 2 and the coordinator speaks EndTxn v5: Produce
//     v12, with which the partition leader adds its partition to the
//     transaction; TxnOffsetCommit v5 alone for offsets; EndTxn v5, which
//     bumps the epoch and returns the next transaction's producer ID and
//     epoch, under which the next batches start again at sequence 0.
//   - The classic protocol (KIP-98; Kafka 3.9, or 4.x without
//     transaction.version 2): a partition's first message of a
//     transaction queues it for the adder, a goroutine that sends one
//     AddPartitionsToTxn for all the partitions waiting (retried on
//     CONCURRENT_TRANSACTIONS) while the sinks hold their batches;
//     AddOffsetsToTxn before TxnOffsetCommit (v4 at most); Produce v11 and
//     EndTxn v4 at most. The epoch stays from one transaction to the next
//     and the sequences go on; after a failed transaction, the abort is
//     followed by an epoch bump (KIP-360: InitProducerID v3+ with the
//     current ID and epoch), so that nothing of it lands later.
//
// EndTxn(commit) waits for every message of the transaction;
// EndTxn(abort) fails those not sent yet (their DoneFunc gets an error
// matching kerr.ErrAbortRequired) and waits only for those in flight. A
// transaction the coordinator never heard of ends without EndTxn. Close
// aborts an open transaction, within its context.
//
// Errors follow Java's client. Fatal ones leave the producer unusable: every
// later call and every queued message fails with the error, which matches
// kerr.ErrProducerFenced for PRODUCER_FENCED and for INVALID_PRODUCER_EPOCH
// from the coordinator, and otherwise the broker's code
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED,
// INVALID_PRODUCER_ID_MAPPING, INVALID_TXN_STATE, and any answer of the
// coordinator it has no rule for). Abortable ones fail the transaction
// only: a batch that failed (any broker error, a delivery timeout,
// INVALID_PRODUCER_EPOCH from a partition leader), a SendOffsets that failed
// (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, or a context
// that ended: its offsets may be in the transaction in part),
// TRANSACTION_ABORTABLE, UNKNOWN_PRODUCER_ID. The queued messages fail,
// Produce and SendOffsets refuse, EndTxn(commit) returns an error matching
// kerr.ErrAbortRequired, and once EndTxn(abort) succeeds the producer goes
// on.
//
// A transaction open longer than TransactionTimeout is aborted by its
// coordinator (which looks every
// transaction.abort.timed.out.transaction.cleanup.interval.ms, 10 s by
// default), which bumps the epoch; nothing of it is visible. The next
// request fails, and the error is mapped as Java's client 4.3 maps it
// (kafka-clients 4.3.1 against Kafka 4.3.1, measured; the tests check the
// same for this producer):
//
//   - Transactions v2: a commit is answered INVALID_TXN_STATE, fatal (Java
//     throws InvalidTxnStateException and stays in error). A message
//     produced after the timeout fails with INVALID_PRODUCER_EPOCH, which
//     is abortable: the abort is accepted (the coordinator takes it for a
//     retry of its own abort, with the new epoch) and the producer goes on.
//   - Classic protocol: the coordinator answers PRODUCER_FENCED to the
//     commit and to the abort alike, so the producer is fenced (fatal);
//     a message produced after the timeout fails first, abortable, and the
//     abort then meets the fence.
//
// # Cost per message
//
// In steady state Produce allocates nothing, whatever the number of topics
// (a transactional producer included: joining a transaction is once per
// partition and transaction):
// batches and their buffers are reused, sized from the partition's previous
// batch, and so are requests with their lists of topics and partitions.
// Finding a message's partition buffer takes a lookup by topic name, which
// a small cache keyed by the name's address keeps from hashing the name
// (topics.go); BenchmarkProduceTopics measures what many topics cost.
package produce
