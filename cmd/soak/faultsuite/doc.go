// Package faultsuite is gokafka's fault-tolerance proof: scenarios that
// break a real cluster (kill -9 a leader, stop a leader, restart every
// broker) or the network between client and brokers (latency, resets,
// black holes, through package faultproxy) while producers and consumers
// run, and that count what became of every message. The root package's
// fault tests (fault_test.go) run each scenario once and assert on it;
// cmd/soak (make soak) repeats them all N times and prints the totals. Both
// run this code, so the soak proves what the tests prove, N times over. It
// lives under cmd/soak, as the soak command's scenario library, because it
// drives package kafka's public API, which no library package may import.
//
// # What is counted
//
// Every message produced carries "partition:sequence" in its value and is
// written to a ledger with its delivery report (or Sync Produce's result).
// Reading the topic back — with the consumer under test, or with a
// pure-Go verification consumer after a producer scenario — yields a Tally:
// sent, acknowledged and failed messages; among the acknowledged ones those
// never read (lost), read more than once (duplicated), read after a message
// produced later on their partition (reordered) or at another offset than
// reported; and for consumers, offsets below the high watermark never read
// (gaps) or read twice. Messages that failed may still have been written
// (a request that timed out may have reached the broker): those are
// reported, not counted against the client.
//
// Recovery is measured, not assumed: the time from a fault (or from the
// cluster or network being back) until the producer acknowledges a message
// produced after it, and until each consumer reads a message acknowledged
// after it, on every partition the fault disturbed; and the longest any
// acknowledged message waited to be read. Each has a bound derived from
// the configuration (see the constants), generous for a loaded two-core
// machine; exceeding it is a violation.
//
// # Scenarios
//
//   - LeaderKill: asynchronous and Sync producers of each engine, acks=all
//     and idempotent (the defaults), and a consumer of each engine, while
//     the broker leading a partition of every topic is killed with SIGKILL
//     and later restarted.
//   - LeaderKillExpiry: the same with a DeliveryTimeout shorter than the
//     failover: expired messages are reported with ErrDeliveryTimeout, the
//     acknowledged ones stay exactly once and in order. Pure engine only by
//     default: librdkafka duplicates acknowledged messages here (see the
//     function's doc).
//   - ConsumeLeaderChange: one consumer per engine reading live data while
//     the leader of some of its partitions is stopped, then restarted.
//   - ConsumeClusterRestart: the same while every broker is stopped and
//     started again.
//   - NetworkFaults: the pure engine through a proxy per broker: latency,
//     resets and a reset storm, one broker unreachable, a short black hole,
//     a black hole longer than a DeliveryTimeout (whose messages must fail
//     with ErrDeliveryTimeout rather than hang), and a Close in a black
//     hole; no goroutine left after Close. librdkafka opens its own
//     connections, which no dialer reaches, so it has no part here.
//   - PipelineKill: kafka.Pipeline's exactly-once proof — three members
//     (child processes, engines mixed) copy 200 000 numbered messages from
//     a 12-partition topic to another while one member is killed with
//     SIGKILL and then the transaction coordinator broker is killed; kcat,
//     as a read_committed reader, must read every input exactly once.
//   - MeasureConsumerMemory: a slow consumer's memory against its
//     QueuedMaxMessages (no fault; any cluster will do).
//
// Scenarios need an Env whose cluster they own (testinstance.Start): they
// stop and kill its brokers, and leave them all running when they return.
// They return Results — one per producer or consumer under test — whose
// Violations list what went wrong; an error means the scenario could not
// run at all (the cluster failed to restart, say).
package faultsuite
