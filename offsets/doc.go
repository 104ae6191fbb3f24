// Package offsets stores and looks up Kafka consumer offsets on the brokers.
// Both of gokafka's engines and its balanced consumers use it (the librdkafka
// engine only fetches messages; offsets and groups stay in Go, as in
// PyKafka), and it is public so that tools can read and move a group's
// offsets themselves.
//
// # Many topics per call
//
// Everything here is keyed by TopicPartition (topic and partition; the root
// package calls it kafka.TopicPartition), and every call covers any number
// of partitions of any number of topics: a consumer of several topics
// commits all its positions in one OffsetCommit request, fetches them in one
// OffsetFetch, and List sends one ListOffsets per partition leader covering
// every partition it leads. Each partition still has its own outcome (see
// Retries below): a topic that does not exist fails its own partitions, not
// the call.
//
// # Log offsets and committed offsets
//
// A partition is a log: offsets number its messages from the log start
// offset (the oldest still kept) up to the log end offset (the offset the
// next message produced will get). List asks the partitions' leaders for
// one of them, or for the first offset at or after a time (client is the
// *kafka.Client whose connections the requests use: an offsets.Cluster):
//
//	tps := []offsets.TopicPartition{{Topic: "events", Partition: 0}, {Topic: "audit", Partition: 0}}
//	end, err := offsets.List(ctx, client, tps, offsets.Latest)
//	start, err := offsets.List(ctx, client, tps, offsets.Earliest)
//	since, err := offsets.List(ctx, client, tps, time.Now().Add(-time.Hour).UnixMilli())
//
// The caller names the partitions (their count comes from the cluster
// metadata); there is no "every partition of the topic" form.
//
// A consumer group's committed offset of a partition is where a consumer of
// that group resumes. It is stored by the group's coordinator, one broker
// chosen by hashing the group id onto a partition of the internal
// __consumer_offsets topic; a Group finds it (FindCoordinator) and sends it
// OffsetCommit and OffsetFetch.
//
// # The committed offset is the NEXT offset to read
//
// After processing the message at offset 41, commit 42. That is Kafka's
// convention, shared by every client (Java, librdkafka, franz-go, kcat): a
// consumer restarting from a commit starts reading at the committed offset.
// Committing 41 would read message 41 again after each restart.
//
//	g, err := offsets.NewGroup(client, "billing", offsets.GroupOptions{})
//	events0 := offsets.TopicPartition{Topic: "events", Partition: 0}
//	err = g.Commit(ctx, map[offsets.TopicPartition]offsets.Commit{events0: offsets.At(last + 1)}, offsets.Generation{})
//	committed, err := g.Fetch(ctx, []offsets.TopicPartition{events0}) // committed[events0].Offset == last+1
//
// A partition the group never committed is absent from Fetch's map; the
// consumer then applies its reset policy (List Earliest or Latest).
// FetchAll returns every offset the group committed, of every topic, for
// tools that do not know the group's topics; DeleteOffsets removes some
// (OffsetDelete), and Request sends any other request to the group's
// coordinator with the same retries (the root's admin calls describe and
// delete groups with it).
//
// # Simple commits and group members
//
// A consumer that picks its own partitions (PyKafka's SimpleConsumer)
// commits with the zero Generation: the broker stores the offsets without
// any membership check, as long as the group has no active members. A member
// of a group (a balanced consumer) commits with the generation id and member
// id its JoinGroup returned; the broker rejects a commit from an old
// generation (kerr.IllegalGeneration), an evicted member
// (kerr.UnknownMemberID) or one made while the group rebalances
// (kerr.RebalanceInProgress), so that a consumer that lost a partition
// cannot overwrite the offsets of the consumer that took it over. Those
// errors are returned, never retried: the member must rejoin.
//
// # Offsets in a transaction
//
// TxnCommit stores offsets inside a producer's transaction (TxnOffsetCommit,
// KIP-98, with the member's generation of KIP-447): they become the group's
// committed offsets when the transaction commits, and vanish if it aborts.
// The transactional producer calls it with its transactional id, producer
// id and epoch (Txn); with the classic protocol it has added the group to
// the transaction first (AddOffsetsToTxn), with transactions v2 (KIP-890,
// Txn.V2) TxnOffsetCommit v5 does that itself. Outcomes and retries are
// Commit's.
//
// # Retries
//
// Every call retries what the cluster says will pass: the coordinator moved
// (NOT_COORDINATOR, or its broker went away: the one rule, CoordinatorMoved,
// that the Kafka-managed group members share), is loading or being elected
// (COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE), a partition's
// leader moved, a connection dropped. It retries only the partitions that
// failed, with jittered exponential backoff (the cluster's RetryBackoff up to
// RetryBackoffMax), until they pass or the context ends; a context without a
// deadline is given DefaultTimeout. Errors that retrying cannot fix come back
// at once, one *PartitionError per partition joined into one error: use
// errors.Is to test for a cause and Partitions to see which partitions
// failed, by TopicPartition. The partitions that did not fail were committed
// (or fetched, or listed) regardless.
//
// # Actors
//
// A Group owns no goroutine and no connection: its methods run in the
// caller's goroutine over the cluster's connection to the coordinator, and
// it caches only the coordinator's node id. List likewise, sending one
// request per partition leader in parallel and waiting for them all before it
// returns. An AutoCommitter owns one goroutine that commits the positions of
// all the consumer's partitions, of any topics, at an interval; Stop ends it
// after a final commit.
//
// Versions: OffsetCommit v2-v9, OffsetFetch v1-v9 (the Groups form from v8;
// FetchAll needs v2, the first with "all topics"), ListOffsets v1 and up,
// FindCoordinator v0-v6: whatever the broker and gokafka both speak,
// negotiated per connection by the wire layer. Kafka 4.x accepts nothing
// older.
package offsets
