// Package testhelp holds the helpers of gokafka's own tests, written once
// for every package's tests instead of copied into each. It is not a stable
// API: it changes with the tests, and programs outside this module should
// not import it (what users may use to test their services is public and
// documented: packages testinstance and faultproxy).
//
// It must stay importable from the internal tests of every package below
// the root, so it imports no package of this module but internal/cluster,
// internal/engine, internal/kerr and testinstance (never the root, offsets,
// balance or an engine). The tests that use it in the packages those import
// (internal/wire, internal/records) are external (package cluster_test,
// wire_test, testinstance_test). Ledger and GroupMembers are generic over
// the caller's TopicPartition type for the same reason: balance's is
// offsets', which testhelp cannot import.
//
// # On the real cluster
//
// Ctx, UniqueName, CreateTopic, NewCluster, Eventually, WaitUntil and NoLeaks
// are what nearly every test against testinstance's shared cluster needs:
//
//	func TestSomething(t *testing.T) {
//		testhelp.NoLeaks(t) // first: its check runs after every other cleanup
//		cl := testhelp.NewCluster(t, nil)          // the shared cluster, closed with the test
//		topic := testhelp.CreateTopic(t, nil, 3)   // a fresh name, replicated min(3, brokers) times
//		ctx := testhelp.Ctx(t, time.Minute)        // ends with the test, or after a minute
//		...
//		testhelp.Eventually(t, 30*time.Second, "group stable", func() error { ... })
//	}
//
// PrivateCluster starts a cluster of the test's own, for the tests that
// stop, kill or restart brokers; Kcat runs librdkafka's CLI against a
// cluster, to cross-check gokafka with a client nobody here wrote.
// StartChild runs the test binary again as a process that plays a part
// (a group member) until the test kills it with SIGKILL, as a crash would.
//
// ProducerConfig and FetcherConfig are the engines' defaults (the root's:
// engine.DefaultProducerConfig and DefaultFetcherConfig), for any number of
// topics; engine tests start from them and override, with a comment, what a
// test needs. AddPartitions grows a topic; Snapshot and ManyTopics are
// cluster metadata written by hand, for unit tests and benchmarks of what
// reads it.
//
// Reports collects delivery reports (an engine.DoneFunc) and fails loudly on
// a message reported twice. Ledger keeps who owns which partition across
// the members of a consumer group, and catches two owners at once;
// GroupMembers asks Kafka's own consumer-groups tool who owns what.
// Partitions and AllPartitions list partitions in the caller's
// TopicPartition type, as the members' tests compare them; DebugLogger is
// the logger to give the code under test (its debug log in the test log
// with GOKAFKA_TEST_LOG set); CloseAtEnd closes a member when the test
// ends and fails the test if it cannot.
// SetGroupConfig sets a group's configs (KIP-848's consumer.* group
// configs); FastConsumerGroup gives a consumer-protocol group the short
// heartbeats and sessions of the tests.
//
// # The fake broker
//
// FakeBroker speaks just enough of the protocol for a client to connect —
// ApiVersions and Metadata, encoded with kmsg — and misbehaves on cue.
// Tests use it to prove that bad input from the network (a truncated frame,
// a wrong correlation id, a size prefix that lies, garbage, a response
// nobody asked for, a frame of a gigabyte, absurd array lengths, a byte a
// second) ends in a typed error within its deadline, never a panic or a
// hang.
//
// It is no broker: it stores nothing and answers every other request by
// closing the connection, unless a FakeHandler answers it. Real behaviour
// is tested on the real cluster (testinstance); the fake only injects
// faults that a real broker cannot be made to produce.
//
// A FakeBroker serves connections accepted on 127.0.0.1 (ListenFakeBroker,
// StartFakeBroker) or handed to it through DialPipe (in memory, for
// fuzzing). Each connection is one goroutine that reads requests in order
// and calls the handler; Close stops them all and waits for them.
//
//	b := testhelp.StartFakeBroker(t, func(c *testhelp.FakeConn, r *testhelp.FakeRequest) bool {
//		if r.Key != 3 { // Metadata
//			return false // ApiVersions and the rest: default behaviour
//		}
//		full := testhelp.EncodeResponse(r, c.Broker().Metadata(r))
//		c.Write(full[:len(full)/2]) // a truncated frame
//		c.WaitClosed()
//		return true
//	})
//	conn, err := wire.Dial(ctx, b.Addr(), wire.Options{})
//
// For fuzzing, NewFakeBroker gives a broker without a listener and DialPipe
// (a wire.Options.Dialer) connects to it in memory. CapAPIVersion and
// DropAPI edit the broker's ApiVersions answer, to play an older broker.
//
// Below the protocol, Serve is a TCP server whose connections a function
// answers (a server that hangs up, speaks HTTP or never answers), and
// ClosedAddr an address where nothing listens. Buffer collects what a
// process or a logger writes while the test reads it.
package testhelp
