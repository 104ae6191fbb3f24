// Package fetch is the pure-Go engine's fetcher: it reads the partitions,
// of any number of topics, that the root assigns to it, from the offsets the
// root chooses, and hands them to Poll as engine.Fetch values, each naming
// its topic and partition. The root (SimpleConsumer, balanced consumers)
// owns offsets, commits, resets and iteration; this package only moves
// records from brokers to Poll, fast and without losing or repeating one.
//
// # Assignment
//
// Assign takes positions (topic, partition, offset) of any topics and
// checks all of them against the client's metadata first, refreshing once
// the topics it does not know or whose partition it does not know (topics
// and partitions created since the last refresh). If any topic or
// partition does not exist, or an offset is negative, the whole call is
// refused with a typed error (matching kerr.ErrUnknownTopic,
// kerr.ErrUnknownPartition or kerr.ErrOffsetOutOfRange) and nothing
// changes. Assigned topics are tracked by the client's metadata loop, so
// their leaders stay current. Unassign stops partitions of any topics;
// the others keep fetching.
//
// # Actors
//
// A fetcher is a few goroutines around one mutex-guarded table of cursors,
// keyed by topic and partition:
//
//   - a cursor per assigned partition (cursor.go): the next offset to
//     fetch, the generation of the last Assign, the leader epoch it was
//     routed with, and a queue of decoded fetches waiting for Poll;
//   - a source per broker that leads at least one assigned partition, of
//     whatever topic (source.go, apply.go), in two stages of one goroutine
//     each. The network stage sends one Fetch request covering all of the
//     broker's fetchable cursors, grouped by topic as the protocol wants
//     them, reads the answer's batch headers (no
//     decompression) to learn where each partition continues, hands the
//     answer to the decode stage and sends the next request at once; the
//     decode stage turns answers into packed records and queues them, in
//     order.
//     So a source has at most one request in flight and one answer being
//     decoded, and the broker works while the client decodes. A source
//     starts when its broker gains an assigned partition and exits when
//     the broker has none left. Requests go in a fetch session with the
//     broker (KIP-227, session.go) where it has them: after the first,
//     full, request, each lists only the partitions whose position moved
//     (a consumer of 240 mostly idle partitions sends about a fifth of the
//     bytes); any session error makes the next request full again;
//   - a router (router.go): one goroutine that wakes at every metadata
//     update and moves cursors to the source of their (topic, partition)'s
//     current leader.
//
// Poll takes fetches from the cursors in round-robin order, whatever their
// topic, so a busy partition cannot starve the others.
//
// Answers are matched to the request by topic and partition. The wire
// layer speaks Fetch up to v12, whose answers name topics; requests also
// carry each topic's id from the metadata, and an answer that identifies a
// topic by id only (Fetch v13 and later) is matched by it.
//
// # Correctness
//
// Every request records, per partition, the cursor's generation and the
// offset it asked for. An answer is queued only if the cursor still has
// that generation and its queued data ends exactly at that offset: Assign
// bumps the generation (so data in flight from before it is discarded and
// Poll never returns a message from before the Assign), and the offset check
// drops answers that were overtaken — a request sent from a predicted
// position that did not come true, or one of two sources that fetched a
// partition while it moved between leaders. A cursor whose answer was not
// used continues from where its queued data ends, so nothing is skipped.
//
// Positions advance past every batch seen, including control batches
// (transaction markers) and batches compaction emptied, using the batch's
// last offset rather than a count of records, so offset gaps are handled.
// With read_committed, records of aborted transactions are dropped using the
// response's aborted-transaction list and the abort markers. When a
// position moves past such offsets without any message to show for it, the
// move is merged into the partition's last queued fetch, or Poll returns a
// Fetch with no Messages and the new NextOffset.
//
// # Errors
//
// Partition errors that mean "ask someone else" (NOT_LEADER_OR_FOLLOWER,
// FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, a broker connection failure,
// ...) are handled here: the cursor backs off, a metadata refresh is
// triggered, and the router moves the cursor when the leader changes.
// OFFSET_OUT_OF_RANGE and errors no retry can fix pause the partition and are
// returned from Poll as a Fetch with Err set; the root resets the position
// and assigns the partition again.
//
// A topic deleted while assigned is noticed by the router: once two
// metadata answers in a row say the topic does not exist (or exists with
// another topic id: it was deleted and created again, and the old offsets
// mean nothing there), each of its partitions pauses and Poll returns one
// Fetch with an Err matching kerr.ErrUnknownTopic, after what was fetched
// before. Assigning it again is refused while the topic does not exist.
// The other topics' partitions are not affected.
//
// # Memory
//
// QueuedMaxMessages is a threshold per partition, as PyKafka's
// queued_max_messages and librdkafka's queued.min.messages are: a partition
// is left out of requests while its queued messages, plus those of answers
// not yet decoded (counted from the batch headers), exceed half of it, and
// taken up again once Poll has drained it to half. Each request asks for at
// most the room left, up to half the limit, in bytes estimated from the
// partition's bytes per message, so two requests fit in the queue (the
// pipeline stays full) and a slow poller holds at most QueuedMaxMessages
// plus about one batch per partition: an answer is never cut to the limit,
// since the rest would only be fetched again, and a request always allows
// for one whole batch, since the broker would otherwise send part of it.
// The threshold is also how far a partition reads ahead, so it must hold
// more than one round trip's worth: the root's default is librdkafka's
// (100 000); with 10 000, the default until 2026-12, a reader of 100 B
// messages drained its queues within a round trip and got half the rate.
// What bounds memory whatever the message size is the byte budget
// (QueuedMaxBytes, budget.go; the root's default 64 MiB).
// Each source holds at most two answers of at most MaxBytes.
//
// Decoding is allocation-lean: per partition and response, one array of
// packed records (packed.go: 40 bytes each, no pointers, so the collector
// does not scan the queue), which Poll turns into one slab of
// engine.Message values and one slice of pointers into it; keys, values and
// headers alias the response buffer (or a batch's decompressed buffer), and
// messages share their topic's name string. A source reuses its request,
// topic and partition arrays from one request to the next.
//
// # Connections
//
// Requests go on a lane of their own, "fetch-<random id>", so that the long
// polls of two fetchers in one client never queue behind each other. Close
// stops every goroutine, waits for them, and closes the lane on every broker
// it used.
package fetch
