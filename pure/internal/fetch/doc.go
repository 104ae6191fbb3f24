// Package fetch is the pure-Go engine's fetcher: it reads the partitions of
// one topic that the root assigns to it, from the offsets the root chooses,
// and hands them to Poll as engine.Fetch values. The root (SimpleConsumer,
// balanced consumers) owns offsets, commits, resets and iteration; this
// package only moves records from brokers to Poll, fast and without losing
// or repeating one.
//
// # Actors
//
// A fetcher is a few goroutines around one mutex-guarded table of cursors:
//
//   - a cursor per assigned partition (cursor.go): the next offset to
//     fetch, the generation of the last Assign, the leader epoch it was
//     routed with, and a queue of decoded fetches waiting for Poll;
//   - a source per broker that leads at least one assigned partition
//     (source.go): one goroutine that sends Fetch requests covering all of
//     its fetchable cursors, one request at a time, decodes the answer and
//     queues it. It starts when its broker gains a partition and exits when
//     the broker has none left;
//   - a router (router.go): one goroutine that wakes at every metadata
//     update and moves cursors to the source of their current leader.
//
// Poll takes fetches from the cursors in round-robin order, so a busy
// partition cannot starve the others.
//
// # Correctness
//
// Every request records, per partition, the cursor's generation and the
// offset it asked for. A result is applied only if the cursor still has that
// generation and offset: Assign bumps the generation (so data in flight from
// before it is discarded and Poll never returns a message from before the
// Assign), and the offset check makes it harmless for two sources to fetch
// one partition while it moves between leaders: whichever answer comes
// first advances the cursor, the other no longer matches and is dropped.
//
// Positions advance past every batch seen, including control batches
// (transaction markers) and batches compaction emptied, using the batch's
// last offset rather than a count of records, so offset gaps are handled.
// With read_committed, records of aborted transactions are dropped using the
// response's aborted-transaction list and the abort markers.
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
// # Memory
//
// A partition is left out of requests once QueuedMaxMessages of its messages
// wait for Poll, and taken up again once Poll has drained half of them; a
// fetch never queues more than the room left (the rest is fetched again),
// so a slow poller holds at most QueuedMaxMessages messages per partition.
// Each source has one request in flight, bounded by MaxBytes.
//
// Decoding is allocation-lean: per partition and response, one slab of
// engine.Message values and one slice of pointers into it; keys, values and
// headers alias the response buffer (or a batch's decompressed buffer).
//
// # Connections
//
// Requests go on a lane of their own, "fetch-<random id>", so that the long
// polls of two fetchers in one client never queue behind each other. Close
// stops every goroutine, waits for them, and closes the lane on every broker
// it used.
package fetch
