// Package rdkafka is gokafka's librdkafka engine: producers and consumers
// that set UseRdkafka run their byte-moving on librdkafka, the C client, as
// PyKafka's use_rdkafka=True does. It is built on
// github.com/confluentinc/confluent-kafka-go/v2, which links a static
// librdkafka into the program.
//
// # Enabling it
//
// The root package never imports this one, so that programs that do not
// use it link no C. Enable it the way database/sql drivers are enabled,
// with a blank import, once, anywhere in the program:
//
//	import _ "github.com/gokafka/kafka/rdkafka"
//
// Its init registers the engine under the name "rdkafka"; after that
// ProducerConfig.UseRdkafka and ConsumerConfig.UseRdkafka select it.
// Without the import, UseRdkafka fails with kafka.ErrEngineNotEnabled,
// whose message says what to do.
//
// # Building
//
// The engine needs cgo: CGO_ENABLED=1 (the default where a C compiler is
// found) and gcc or clang. confluent-kafka-go bundles librdkafka for
// linux/amd64 and linux/arm64 (glibc and musl, the latter with
// -tags musl), darwin/amd64 and darwin/arm64, and windows/amd64; elsewhere
// build with -tags dynamic against an installed librdkafka. The first
// build compiles the cgo glue and takes a while; later builds are cached.
//
// Without cgo (CGO_ENABLED=0), or with -tags nordkafka, the package still
// compiles and can still be imported, but contains no engine: it registers
// nothing, Enabled is false, and UseRdkafka fails with
// kafka.ErrEngineNotEnabled. The nordkafka tag lets a program that imports
// the package keep building with cgo on but without librdkafka.
//
// # One librdkafka producer and one consumer per client
//
// The producers of one client that use this engine with the same
// librdkafka properties (the same ProducerConfig and Logger, in practice)
// share one librdkafka producer, whatever the number of producers and of
// topics their messages go to: each message names its topic
// (Message.Topic) and the partition the root chose, and librdkafka batches
// per partition of every topic on the same connections, under one
// idempotent producer ID. A Topic's producer is the same thing with the
// topic filled in. Ten producers of one client hold the connections of
// one (TestProducersShareOneInstance: 3 to a 3-broker cluster with 1, 3 or
// 10 producers writing to all 12 partitions of a topic; 3, 9 and 30 when
// each had its own instance). A producer configured otherwise, a
// transactional one (its producer ID is its own) and one on OAUTHBEARER
// get an instance of their own.
//
// The engine's bound is per producer, across topics: MaxQueuedMessages
// counts every message of the producer not yet reported, whichever its
// topic; librdkafka's own queue bound, set from the same value, counts the
// messages of all the producers sharing the instance (a message that meets
// it waits for room before the instance's later messages, or fails in its
// delivery report with ErrQueueFull if its producer has FailWhenFull). What the
// instance does, its producers share: its connections (each producer's
// Stats().Brokers shows the instance's brokers, and each producer's
// throttle hooks see their throttling), and a fatal error, which fails
// them all. Flush waits for the producer's own messages (librdkafka sends
// the whole instance's meanwhile). Close of a producer whose instance
// others still use fails its messages left at the end of its ctx with
// ErrClosed at once (librdkafka may still deliver one that it had sent;
// librdkafka cannot purge one producer's messages); the instance's last
// producer purges what is left and destroys it.
//
// The consumers of one client that use this engine with the same
// librdkafka properties share one librdkafka consumer, which fetches
// whichever partitions of whichever topics each consumer is given (a
// group's assignment over several topics, or a simple consumer's chosen
// partitions); each batch handed to the root names its topic and
// partition (TestFetchersShareOneInstance: 4 connections to a 3-broker
// cluster with 1, 3 or 10 consumers reading a topic's 12 partitions
// between them; 4, 10 and 26 when each had its own instance). The
// instance's fetched messages arrive on one librdkafka queue: a Poll that
// has nothing of its own reads it for every consumer of the instance,
// keeps its own messages and hands the others' to their consumers, whose
// Polls take them. A consumer that is not polled does not hold the others
// back: once it has 16 384 messages (or 8 MiB) waiting, its partitions are
// paused in librdkafka until it is polled
// (TestFetcherNotPolledStaysBounded). librdkafka fetches a partition once
// per instance, so a consumer given a partition that another consumer of
// its instance reads (two groups, or two simple consumers, reading one
// topic) moves to another instance with all its partitions, and resumes
// each after the last message it took (TestFetcherMovesOnOverlap). As
// with producers, each consumer's Stats().Brokers shows its instance's
// connections. Before an assignment changes anything the engine checks it
// against the client's metadata, looking up once more the topics (or
// partitions) the metadata does not know yet: a topic or partition the
// cluster does not have, or a negative offset, refuses the whole
// assignment with an error matching kafka.ErrUnknownTopic,
// kafka.ErrUnknownPartition or kafka.ErrOffsetOutOfRange, and the
// partitions assigned before stay as they were. (librdkafka itself would
// accept an unknown partition and quietly fetch nothing.) Offsets out of
// range, pauses after an error and restarts are per topic and partition.
//
// # What librdkafka does here, and what it does not
//
// The division of labour is the one of the engine contract
// (internal/engine): the root package decides, the engine moves bytes.
//
// librdkafka does: connections to the brokers (its own, next to the pure
// Go ones the client keeps for metadata and offsets), batching, compression,
// produce requests, retries, the idempotent producer, fetch requests,
// decompression and CRC checks, and prefetching.
//
// librdkafka does not: choose partitions (the root's Partitioner does, so
// HashingPartitioner puts a key on the same partition on both engines;
// librdkafka's partitioner is never used), join consumer groups or
// rebalance, commit or store offsets, or reset an offset that is out of
// range. The fetcher is a librdkafka consumer that never subscribes: it is
// assigned partitions at explicit offsets, with enable.auto.commit=false,
// enable.auto.offset.store=false and auto.offset.reset=error, so an offset
// out of range comes back to the root as kerr.OffsetOutOfRange and the
// root applies AutoOffsetReset. confluent-kafka-go insists on a group.id;
// the fetcher sets a random one that it never joins nor commits to.
// Consumer groups (ZooKeeper or Kafka-managed) and offset storage stay in
// Go and are shared by both engines.
//
// # Configuration
//
// The engine maps the root's configuration onto librdkafka properties:
// acks, enable.idempotence, linger.ms, batch.size, message.max.bytes,
// queue.buffering.max.messages, compression.type and compression.level,
// delivery.timeout.ms, request.timeout.ms, retry.backoff.ms,
// max.in.flight.requests.per.connection and client.id for producers, and
// transactional.id and transaction.timeout.ms for transactional ones;
// fetch.min.bytes, fetch.max.bytes, max.partition.fetch.bytes,
// fetch.wait.max.ms, queued.min.messages (QueuedMaxMessages: the prefetch
// bound per partition), isolation.level and check.crcs for consumers.
// bootstrap.servers lists the brokers the client knows. RdkafkaConfig is
// applied last and overrides all of these, except the properties the
// contract depends on (confluent-kafka-go's go.* settings,
// transactional.id for producers, and for consumers group.id, enable.auto.commit, enable.auto.offset.store,
// auto.offset.reset and enable.partition.eof), which it refuses with a
// *kafka.ConfigError. A value librdkafka refuses fails NewProducer or
// NewSimpleConsumer with a *kafka.ConfigError naming the gokafka field it
// came from.
//
// MaxMessageBytes is checked by the root on the encoded record before
// either engine sees a message, so both engines accept and refuse the same
// messages; librdkafka's own message.max.bytes is set just above it (its
// check counts some framing too). MaxQueuedMessages is counted by the
// same bounded queue in both engines, up to the moment a message's
// delivery report has been handled, which librdkafka's own bound does not
// cover. The root also stamps messages produced without a timestamp.
//
// librdkafka's log lines go to the client's slog.Logger (never to stderr),
// at the level librdkafka gave them.
//
// # Errors
//
// librdkafka's errors are mapped onto gokafka's: broker error codes become
// the matching kerr value (kafka.ErrNotLeaderOrFollower, ...), and local
// ones their client counterpart: a delivery timeout is ErrDeliveryTimeout,
// a full queue ErrQueueFull, a message too large ErrMessageTooLarge, a lost
// or unreachable broker ErrConnection, messages failed by Close
// ErrClosed. The librdkafka error stays in the chain (errors.As with a
// confluent-kafka-go kafka.Error works) and its text ends the message.
// Errors about a partition (a failed delivery, an offset out of range)
// name it as topic/partition, and so do the engine's log lines (attributes
// "topic" and "partition").
//
// # Flush and Close
//
// Flush waits until every message accepted before it was reported, and
// meanwhile keeps librdkafka flushing, which sends batches without waiting
// for linger.ms. Close flushes within its ctx; what is still queued when
// ctx ends is purged from librdkafka and reported with kafka.ErrClosed.
// A purged message that was already on its way to a broker may still be
// written by it (librdkafka can no longer learn whether it was). Close
// returns once every message was reported, so a DoneFunc (DeliveryReports
// reader, OnDelivery callback) that blocks delays it.
//
// # Transactions
//
// A producer with a TransactionalID is transactional: librdkafka's
// transactional producer, on the same produce path as any other (no cost
// is added per message, and none to producers without transactions).
// librdkafka speaks the protocol, and it speaks the classic one, on Kafka
// 3.x and 4.x alike (Kafka 4 serves classic clients; librdkafka 2.11 has no
// "transactions v2", KIP-890 part 2): FindCoordinator for the transaction
// coordinator, InitProducerID (v3+, which lets librdkafka bump the epoch
// after an abortable failure, KIP-360), AddPartitionsToTxn before the
// first batch to a partition, AddOffsetsToTxn and TxnOffsetCommit (v3, with
// the group generation) for offsets, and EndTxn.
//
// The first BeginTransaction initializes the transactions
// (InitTransactions), which fences an older producer with the same
// transactional id and aborts its open transaction. librdkafka's init,
// commit and abort go on in the background when a call's ctx ends, and a
// later call resumes them; the engine calls them in slices of a quarter
// second, so a call ends soon after its ctx (deadline or cancellation). A
// commit first waits until every message of the transaction was reported,
// then commits. An abort drops the messages not yet sent (their reports
// fail with kafka.ErrTransactionAborted), waits for those in flight, and aborts.
// Retriable errors are retried within ctx. A commit or abort whose ctx ended
// leaves the transaction open and the operation going on in librdkafka:
// call the same one again to resume it (librdkafka refuses the other one
// meanwhile, and the engine returns that refusal).
//
// librdkafka's error classes become gokafka's: fatal errors leave the
// producer unusable but for Close, fenced ones (a newer producer with the
// same transactional id: librdkafka's _FENCED, PRODUCER_FENCED,
// INVALID_PRODUCER_EPOCH) matching kafka.ErrProducerFenced; abortable ones
// match kafka.ErrAbortRequired and the broker code that caused them (a
// refused message's MESSAGE_TOO_LARGE, a stale member's
// ILLEGAL_GENERATION): abort, then go on. A Produce that librdkafka refuses
// because the transaction failed matches kafka.ErrAbortRequired too.
//
// A transaction that outlives the transaction timeout is aborted by the
// coordinator, which bumps the producer's epoch: librdkafka then finds the
// producer fenced, and the commit fails with kafka.ErrProducerFenced (fatal:
// close the producer and start a new one with the same transactional id).
// A message's delivery timeout is at most the transaction timeout
// (librdkafka refuses more: the coordinator aborts the transaction by
// then). Close with a transaction open aborts it, within Close's ctx and
// the transaction timeout; the coordinator would abort it after the
// transaction timeout anyway, but later messages to its partitions stay
// invisible to read_committed readers until then.
//
// # Offsets in a transaction, with the group generation
//
// Offsets sent in a transaction carry the group member's generation and
// member id (KIP-447), so that the group coordinator refuses a member that
// lost its partitions. confluent-kafka-go takes them in a
// ConsumerGroupMetadata that only its own consumer makes (or, for tests,
// one with a group id alone, which nothing fences), while gokafka's group
// layer is Go. The engine builds the metadata itself with librdkafka's
// public C function for it, rd_kafka_consumer_group_metadata_new_with_genid
// (declared by the engine, linked from the librdkafka that
// confluent-kafka-go links in), serializes it with librdkafka's
// rd_kafka_consumer_group_metadata_write, and gives the bytes to
// confluent-kafka-go's SendOffsetsToTransaction, which reads them back with
// rd_kafka_consumer_group_metadata_read: the round trip librdkafka documents
// for bindings, within one process and one librdkafka. The tests prove on
// a real cluster that offsets of the current generation commit and those
// of an older one are refused (ILLEGAL_GENERATION).
//
// The limits: the bytes go into the unexported field of confluent-kafka-go's
// ConsumerGroupMetadata (its only field, serialized []byte, in v2.11); the
// engine checks that shape by reflection and, should a later
// confluent-kafka-go change it, fails SendOffsets with kafka.ErrUnsupported
// (and its tests fail) rather than send offsets without the generation.
// librdkafka's metadata carries printable ASCII only: a group, member or
// instance id with other bytes fails with kafka.ErrUnsupported. Offsets
// without a generation (-1, no member id: a simple consumer's, or a
// ZooKeeper-coordinated group's) are committed unfenced, as Kafka allows.
// An offset's leader epoch is not sent.
//
// # Goroutines
//
// A producer runs on librdkafka's threads and goroutines of the engine:
// one per instance takes librdkafka's events (delivery reports a whole
// event at a time, errors, statistics, logs) and calls the delivery
// callbacks of every producer on it in order of the reports; one per
// instance, locked to its own thread, gives librdkafka the messages that
// Produce handed over (feed.go); one per
// producer runs librdkafka's flush while a Flush waits; an idempotent
// producer without transactions has one more for its first seconds, which
// asks for metadata until librdkafka has its producer id (pidwarm.go). A
// transactional producer (or one on OAUTHBEARER) runs on
// confluent-kafka-go's instance instead, whose poller goroutine hands the
// events to the first goroutine. A consumer instance runs librdkafka's
// threads and one goroutine that forwards logs; Poll takes messages from
// librdkafka in the caller's goroutine, a batch at a time. The last
// producer's or consumer's Close of an instance stops all of them and
// destroys it.
//
// # Performance: where the CPU goes, and what the engine changed
//
// Profiled with perf (cpu-clock sampling of the whole process, every
// thread; confluent-kafka-go's static librdkafka has symbols but no frame
// pointers, so the split below is by thread and symbol, not by call chain)
// on the project's 2-core development machine, on the shared 3-broker
// cluster, 100 B messages, 12 partitions, acks=all, idempotent, linger
// 5 ms. The machine ran other agents' clusters and tests at the same time
// (load average 14 to 50): the shares hold up, absolute times and rates
// are noisy.
//
// Producing: librdkafka's idempotent producer spins. It lets a partition
// have a new request only while fewer than five *messages* of it are in
// flight (librdkafka PR #4989), and with max.in.flight above 1 a broker
// thread whose ready batch must wait polls its sockets with a zero timeout,
// in a loop, until the acks come back. At 1 000 msg/s that loop was
// 0.6-1.1 ms of CPU per message (40-100 % of a core) for raw
// confluent-kafka-go and for this engine alike, and at full speed 55 % of
// the producer's CPU (do_sys_poll, clock_gettime,
// rd_kafka_toppar_producer_serve in the rdk:broker threads). On a machine
// whose cores the brokers share, that core is what delayed the acks, hence
// the delivery reports, by hundreds of milliseconds (the tail latency in
// bench -latency). The engine gives an idempotent producer max.in.flight=1
// (RdkafkaConfig can override it): librdkafka's backpressure then holds a
// ready batch without waking up, and as it sends one request per partition
// anyway, nothing is lost but the overlap of two partitions' requests on one
// connection — which can lengthen the wait of a partition's batch behind
// another's when acks are slow (a cost not measured on a quiet machine: on
// this one, at load 30-45, the latencies of every client were seconds). Measured: 0.09-0.12 ms per message at 1 000 msg/s instead of
// 0.77-1.0, 4 µs instead of 9 at full speed, throughput unchanged within
// the noise. After that, at full speed (7.4 µs per message on a run at
// load 40): librdkafka's own threads 21 % (batching, protocol 7 %;
// kernel: sockets and wake-ups 14 %), librdkafka called from Go
// (rd_kafka_producev, copying the payload) 12 %, confluent-kafka-go's Go
// code 16 % (two thirds of it its map of per-message opaques, cgoPut and
// cgoGet), Go allocation and GC 17 % (a *kafka.Message per delivery
// report, and the engine's record), goroutine scheduling and channel
// hand-offs 20 % (the report crosses from confluent-kafka-go's poller to
// the engine's events goroutine by channel, one message at a time), cgo
// crossings and their pointer checks 5 %, gokafka's own code 4 %. The
// per-message costs on the Go side (the opaque map, the channel, the
// allocations) were confluent-kafka-go's Producer API.
//
// So a producer that is not transactional now runs on a librdkafka
// instance that the engine creates through its own cgo layer
// (cproduce.go, cpath.go) from the same properties (and shares with the
// client's producers of the same properties, above): Produce hands the
// message to rd_kafka_producev (copied: RD_KAFKA_MSG_F_COPY) with an index
// into the engine's table of records as its opaque, and the events
// goroutine takes delivery reports a whole event (a produce request's
// worth) at a time off the instance's main queue, copying out only the
// opaque, partition, offset and error of each: no map of opaques, no
// *kafka.Message, no channel hand-off, no confluent-kafka-go goroutine. A
// transactional producer keeps confluent-kafka-go's instance (the
// engine's transactions call its methods), and so does one on OAUTHBEARER
// (confluent-kafka-go serves the token refresh). (Produce now hands the
// message to the instance's feeding thread, which calls rd_kafka_producev:
// see below.) Side by side (bench -quick -only
// produce, 3 runs, 200 000 × 100 B, same 3-broker cluster, load average
// 13-17, so the rates are the brokers' and noisy): this engine 3.02 µs CPU
// per message (2.97-3.12) and 33k msg/s (28-42k), raw confluent-kafka-go
// 11.86 (8.07-16.53) and 26k (20-42k), the pure engine 1.54 (1.35-1.61)
// and 35k (24-38k); the engine before, on the run after, 5.52 (4.99-5.71)
// and 39k (38-58k), confluent-kafka-go 12.50 (11.58-12.99) and 32k. Peak
// RSS 97 MiB instead of 119-127.
//
// Where producing costs now, and what of it is librdkafka's own. Seven
// interleaved rounds on the 3-broker development cluster (2026-12-04,
// 1 000 000 × 100 B a run, 12 partitions, the bench's client programs,
// perf stat of each whole process, load average 3-6 from builds beside
// them): this engine 1.38 µs CPU per message (1.24-1.48), raw
// confluent-kafka-go 3.25 (2.69-3.73), the pure engine 0.51 (0.45-0.63);
// per round this engine took 0.44 times raw confluent-kafka-go's CPU
// (0.38-0.46) and 2.7 times the pure engine's (2.2-3.2). A profile with
// DWARF call graphs (perf record --call-graph dwarf, 5 138 samples, every
// sample put under the first owner on its stack) splits the engine's
// CPU: librdkafka's own threads 33 %, librdkafka's code called from Go
// (rd_kafka_producev with its message allocation and its copy of the
// value, and the event poll) 33 %, the engine's Go code 11 %, the root's
// and the bench loop's 10 %, Go's garbage collector, allocator and
// scheduler 13 %, cgo crossings and their pointer checks 4.5 %. The two
// librdkafka shares, 0.91 µs a message, are the floor of any engine that
// produces through librdkafka: 1.8 times the pure engine's whole cost, and
// with the root's path that every engine shares (0.13 µs) a Go layer of no
// cost at all would stand at 2.0 times. Handing librdkafka many messages
// per crossing (rd_kafka_produce_batch) could save at most the crossings'
// 4.5 %, and would need Produce to queue messages for another goroutine
// (which it now does, for another reason: below).
//
// Part of librdkafka's threads' share is a spin. librdkafka v2.11's
// broker thread computes a partition's wake-up time from its oldest
// queued message and linger.ms before it checks the idempotent producer's
// in-flight limit (rd_kafka_toppar_producer_serve in rdkafka_broker.c; the
// limit counts messages, not requests, so a partition with a request of
// five messages or more in flight can send no other). While such a partition waits for its
// acknowledgement with a message older than linger.ms queued, the thread
// polls its sockets with a zero timeout, again and again: 120 000-240 000
// polls per million messages in this engine (perf stat -e
// syscalls:sys_enter_poll; 99.6 % of them with timeout 0), 1.3-3.6
// million in raw confluent-kafka-go, whose max.in.flight of 5 sends every
// ready request at once, so that no request waits in the queue that would
// have stopped the spin (max.in.flight=1, above). How long the spin lasts
// is the acknowledgement's round trip, so raw confluent-kafka-go's CPU per
// message swings with the brokers' load (2.3 µs on a quiet cluster, 6.6 on
// a busy one in runs of the same day), and with it the ratio between the
// two. In this engine the spin is not what costs most: producing with
// 1 ms turns of the sticky partitioner (7 000-36 000 polls per million)
// took 0.94-1.21 s of CPU per million messages against 1.07-1.21 s with
// the default 10 ms turns (138 000-302 000 polls), and with a random
// partition for every message (no spin: 2 000 polls) 1.89-2.20 s, as
// librdkafka then builds many more, smaller batches (three interleaved
// rounds of each on the dev cluster, bench client programs, perf stat).
//
// The first second: librdkafka (v2.11) asks for an idempotent producer's
// id on metadata answers and otherwise on a 500 ms timer, and its first
// metadata answer comes from a bootstrap broker that it replaces in the
// same step, so that no connection is up then: the id came about 510 ms
// after the instance started (debug eos,metadata), and every message
// produced meanwhile waited for it (bench -latency: p99 430-650 ms, the
// slowest messages those of the first half second). An idempotent
// producer now asks for metadata until a listed broker answers
// (pidwarm.go): the id comes 57-67 ms after start, the time librdkafka
// takes to connect to a listed broker. bench -latency afterwards (3 runs,
// both changes, load average 15-18: every client waited seconds for a
// core, so only the shape counts): at 1 000 msg/s this engine's p99 3.6,
// 4.5 and 5.6 s, each within 0.2 s of its steady p99 and its slowest
// messages after the first second, raw confluent-kafka-go's 7.9, 8.8 and
// 5.8 s; the target (p99 under 50 ms on a quiet machine) is for the
// lead's quiet run.
//
// Consuming: the fetcher takes fetched messages with
// rd_kafka_consume_batch_queue, up to 16 384 messages (4 096 before
// 2026-12-05; see maxDrain) or about 4 MiB of
// keys and values per batch, and copies every key, value and header of a
// batch into one Go buffer (batch.go: two cgo crossings and two
// allocations per batch). Before, through confluent-kafka-go's Poll:
// 1.7-1.8 µs per message, of which librdkafka called per message from Go
// (poll, its op allocation and free, clock_gettime) 27 %, Go allocation
// and GC 22 % (a *kafka.Message and two copies per message), cgo
// crossings and pointer checks 13 %, scheduling 11 %, librdkafka's own
// threads 15 %. With batches: 0.80-0.88 µs per message (raw
// confluent-kafka-go 1.55-1.8 in the same runs; load 40-54):
// librdkafka's own fetch threads 31 % (decoding record batches 15 %,
// sockets 16 %), librdkafka's batch call from Go 29 % (its per-message
// op, freed by rd_kafka_message_destroy, and its header lookup:
// librdkafka's own per-message work, the floor of this design), Go
// allocation and GC 13 %, scheduling 14 %, gokafka's code 7 %, cgo
// crossings 2 %. The batch call serves librdkafka's error and statistics
// ops in callback mode, so the batcher installs an error_cb and a
// stats_cb of its own (batch.go says why and how): an authentication
// failure reaches Poll as ErrAuthentication, a broker's refusal to let
// the client read a partition fails that partition with
// ErrTopicAuthorization. On the dev cluster (bench -quick -only consume,
// 800 000 × 100 B, 12 partitions, 3 interleaved runs, load average
// 11-17, medians and min-max): this engine 1.27 µs CPU per message
// (1.26-1.36) and 407k msg/s (297-545k), raw confluent-kafka-go 2.49
// (2.41-2.85) and 191k (190-251k), the pure engine 0.51 (0.49-0.57) and
// 382k (347-478k): 0.51 times raw confluent-kafka-go's CPU at 2.1 times
// its rate, 2.5 times the pure engine's CPU.
//
// A batch's buffer lives as long as any of its messages: a consumer that
// keeps one message keeps its batch's bytes (at most about 4 MiB, or 64
// messages more).
//
// What is left of consuming's cost on the Go side is mostly the collector
// running often, and librdkafka's allocator. Measured 2026-12-05 on the
// development cluster (4 000 000 × 100 B, 12 partitions, the bench's
// client programs, perf stat of each process): this engine 0.59-0.83 µs
// of CPU per message against raw confluent-kafka-go's 1.04-1.36 and the
// pure engine's 0.21-0.22. The collector ran 377 times for the 4 million
// messages (GODEBUG=gctrace=1), with 3-5 MB live each time, where the pure
// engine's ran 80 times with 16-27 MB live: librdkafka keeps the
// prefetched messages in C memory, so the Go heap stays near the
// collector's 4 MB floor and a cycle comes every few megabytes allocated
// (a Message and its key and value copy are about 250 bytes). Of the
// engine's 162 000 futex calls (confluent-kafka-go 108 000, the pure
// engine 2 300), about half were the Go runtime's stopping and waking
// threads for those cycles, and 40 % glibc's allocator lock: librdkafka's
// fetch thread allocates an op per message (calloc in rd_kafka_op_new0)
// from the arena that the consuming thread frees them to
// (rd_kafka_message_destroy), so the two threads contend on it; that part
// is librdkafka's design. Experiments, not kept: 32 MB of never-written
// memory held live beside the consumer (a GC ballast) took 14-26 % off the
// CPU per message (3 interleaved rounds), batches of 16 384 messages and
// 16 MiB instead of 4 096 and 4 MiB about 4 % (6 rounds, lower in 5; the
// 16 384 messages, with the 4 MiB kept, were adopted later: maxDrain),
// copying batches into shared 8 MiB buffers 3-11 % (3 rounds of 4; the
// fourth 26 %, against an outlier) for 30 MiB more RSS.
// Each buys CPU with memory the way GOGC does, and the choice between the
// two is the application's: GOGC=400 took a sixth off (625 → 518 ns per
// message, 2 runs each).
//
// What was the engine's to cut, it cut: the batch builds each Message
// once, in place, and hands the fetcher a pointer (batch.go), where it
// used to fill a 144-byte entry that the fetcher copied into a Message;
// a run of one partition grows the partition's slice once instead of
// appending message by message; and the headers of a message are looked
// up only when the first pass counted some. Go allocation per message
// went from 300 to 271 bytes (BenchmarkFetch), and in 5 interleaved
// rounds on the development cluster (2 000 000 × 100 B, 12 partitions,
// perf stat of the bench's client programs, load average 0.8-2.1) the
// CPU per message from 0.67 µs (0.63-0.75) to 0.54 (0.52-0.64), against
// raw confluent-kafka-go's 1.11 (1.09-1.15) in the same rounds: 0.48
// times its CPU, at 2.7 times its rate (2.20M msg/s against 0.81M).
//
// Against the pure engine, and what of the gap is librdkafka's own.
// Measured 2026-12-05 at da355e2 on the development cluster (2 000 000 ×
// 100 B, 12 partitions, acks=all, idempotent, the bench's client
// programs, perf stat of each whole process, 5 interleaved rounds, load
// average 2.4-6.5), medians (min-max) of CPU per message: consuming, this
// engine 0.57 µs (0.53-0.64), the pure engine 0.19 (0.18-0.20), raw
// confluent-kafka-go 1.20 (1.11-1.23); producing, 1.07 (0.94-1.14), 0.34
// (0.33-0.41) and 2.35 (2.10-2.67). A profile of each direction (perf
// record --call-graph dwarf, 5 018 samples consuming, 4 382 producing,
// each sample put under the first owner on its stack, leaf first) splits
// this engine's CPU so:
//
//	                                  consuming  producing
//	librdkafka's own threads              36.7 %     32.2 %
//	librdkafka's code called from Go      19.5 %     22.7 %
//	Go's collector and allocator          18.2 %     12.9 %
//	the engine's Go code                   6.6 %     13.3 %
//	the engine's C helpers (copying)       6.8 %      0.9 %
//	Go's scheduler and runtime             4.4 %      4.6 %
//	the root's code (every engine's)       2.2 %      6.1 %
//	the bench's loop                       2.3 %      3.8 %
//	no owner on the stack (kernel, vDSO)   3.3 %      3.5 %
//
// librdkafka's two shares are 0.32 µs a message consumed and 0.59 µs a
// message produced: 1.7 and 1.8 times the pure engine's whole cost, before
// anything this engine does. With the root's and the bench's part that
// every engine pays, an engine on librdkafka whose own Go layer cost
// nothing would stand at 1.8 times the pure engine's CPU consuming and
// 2.1 times producing. Within 2 times the pure engine's CPU is thus out of
// reach producing, and consuming would leave 0.04 µs a message for all
// that the engine does itself (taking the batch across, copying it into
// Go memory, building the Messages, and the collector's work they cause:
// 0.21 µs now). The floor is librdkafka's design: its threads fetch and
// decode, it allocates an op per fetched message that the consuming thread
// frees, and it copies and allocates every produced message once more than
// the pure engine does.
//
// Producing, the same day (2 000 000 × 100 B, 12 partitions, acks=all,
// idempotent, perf stat and perf record): 1.27 µs per message against raw
// confluent-kafka-go's 2.14. librdkafka's broker threads polled 597 000
// times (raw confluent-kafka-go 1 434 000), the spin described above, and
// their poll loop (do_sys_poll and what it calls, rd_kafka_broker_serve,
// rd_kafka_toppar_producer_serve) was about 14 % of the process's CPU.
// clock_gettime was 8.5-9.8 %: librdkafka reads the clock twice per
// message as it takes it (rd_kafka_producev, and rd_kafka_toppar_enq_msg
// from rd_kafka_msg_partitioner; 3.4 % together), its broker threads in
// their loop, and Go 2 % (the root's timestamp, which librdkafka is then
// given instead of reading its own, and the runtime's).
//
// One thread gives librdkafka every message (2026-12-05). The profile of
// the producer (perf record --call-graph dwarf, 2M × 100 B) had 9.8 % of the
// CPU in glibc's malloc under rd_kafka_msg_new0, 7.4 % of it growing an
// arena (sysmalloc) and faulting its pages in: librdkafka allocates each
// message on the thread that calls rd_kafka_producev, glibc keeps an arena
// per thread, and Produce's goroutine ran on many threads in turn.
// MALLOC_ARENA_MAX=1 or 2 in the environment halved the page faults and
// took 8-18 % off the median CPU of producing (6 and 5 interleaved rounds),
// but made consuming 17-30 % dearer (4 rounds; librdkafka's fetch threads
// and the consuming thread then contend for the arena's lock), and it is
// the program's setting, not a library's. (MALLOC_TOP_PAD_, or
// MALLOC_TRIM_THRESHOLD_ with MALLOC_MMAP_THRESHOLD_, changed consuming's
// page faults but not its CPU.) So Produce hands the message to its
// instance's feeding goroutine, locked to one thread, which makes every
// rd_kafka_producev call of the instance, and now crosses once per batch
// of what it was handed: it stages the messages in C memory and
// gk_produce_batch gives them to librdkafka in one call (feed.go,
// cproduce.go). 8 interleaved rounds of 2M × 100 B (perf stat): 1 915-2 181
// ms of CPU (median 2 007) against 2 028-2 385 (median 2 170) before, and
// 1 895-2 200 (median 2 046) with the thread but one crossing per message;
// page faults 31 000-38 000 against 79 000-99 000. Waking the feeding
// thread for each message cost CPU at low rates (1 000 msg/s, 10 000
// messages, 4 rounds: 1 323-1 660 ms against 1 252-1 360 before), so a
// message that finds the hand-over idle well after the last one did
// (sparseGap, 500 µs) is given to librdkafka by its Produce call: then
// 1 107-1 232 ms (raw confluent-kafka-go 1 121-1 569), and at full speed
// (7 rounds) a median of 2 036 ms against 2 213 before. librdkafka's refusal of
// a message (its queue full with FailWhenFull, a size over a
// message.max.bytes lowered through RdkafkaConfig, a fatal error) now
// comes in the message's delivery report instead of from Produce.
//
// Side by side in one bench -quick run (100 B, 12 partitions, 3 runs each,
// load average 22-33; medians, min-max): producing, this engine 3.81 µs
// per message (3.75-4.52), raw confluent-kafka-go 9.66 (7.59-16.34), the
// pure engine 1.14; consuming, 0.85 (0.83-0.92), 1.78 (1.68-1.79) and 0.32.
// What keeps producing at three times the pure engine's CPU is on the Go
// side of confluent-kafka-go's Producer (the opaque map, a *kafka.Message
// and a channel send per delivery report) plus librdkafka's own threads;
// what keeps consuming at 2.7 times is mostly librdkafka's per-message work
// (its op per message, allocated by the fetch thread and freed in the batch
// call) and its fetch threads.
//
// Connections: the producers of a client share one librdkafka instance,
// and so do its consumers (above), beside the client's Go connections.
// Counted with ss before they shared (one client, the 3-broker cluster,
// 12 partitions, every producer having written one message, every consumer
// reading all partitions): the client alone 2 sockets; with 1, 3 and 10
// producers 4, 7 and 18; with as many consumers besides, 10, 21 and 60.
// Counted by the tests after (the process's connections to the brokers,
// testhelp.BrokerSockets): 3 for 1, 3 or 10 producers and 4 for 1, 3 or
// 10 consumers, against 3, 9 and 30 and 4, 10 and 26 at the commit
// before.
package rdkafka
