// Package faultproxy breaks the network between a Kafka client and its
// brokers, on command, so that you can test how your own service behaves
// when the network fails: slow links, connections reset under it, brokers
// that go silent. It is a TCP proxy, one per broker, with switches for
// latency, resets and black holes. Together with package testinstance (a
// real, throwaway Kafka cluster on the local machine, whose brokers you can
// also stop, kill -9 and restart) it covers the failures a client meets in
// production, in an ordinary `go test`, without Docker, root or iptables.
//
// # Putting the proxy between your client and the cluster
//
// Brokers advertise their own addresses in metadata, and a client connects
// to whatever they advertise; a proxy in front of the bootstrap address
// alone would see only the first connection. So a Group starts one Proxy
// per broker, and its DialContext connects to address A through A's proxy.
// Give that dialer to the client with kafka.WithDialer:
//
//	func TestMyServiceSurvivesAPartition(t *testing.T) {
//		ctx := t.Context()
//		// A private cluster: faults on testinstance.Shared() would hit
//		// every other test of the package too.
//		c, err := testinstance.Start(ctx, testinstance.Config{Brokers: 3, NoZooKeeper: true})
//		if err != nil {
//			t.Fatal(err)
//		}
//		defer c.Close()
//
//		g, err := faultproxy.NewGroup(c.Brokers()...)
//		if err != nil {
//			t.Fatal(err)
//		}
//		defer g.Close()
//
//		client, err := kafka.NewClient(ctx, c.BootstrapServers(), kafka.WithDialer(g.DialContext))
//		...
//		svc := startMyService(client)
//
//		g.BlackHole()        // every broker goes silent
//		time.Sleep(10 * time.Second)
//		g.Heal()             // and comes back
//		// assert on what svc did meanwhile and does now
//	}
//
// An address that no proxy of the group serves is refused with
// ErrNotProxied rather than dialled directly, so a connection that would
// bypass the faults shows up as an error in your test instead of passing
// silently. Group.Proxy(addr) reaches the proxy of one broker, for faults on
// that broker alone (testinstance.Cluster.Broker(i) is broker i's address):
//
//	g.Proxy(c.Broker(0)).BlackHole() // one broker unreachable, the others fine
//
// The proxies forward what the client's own Go code dials. With the
// librdkafka engine (kafka.ProducerConfig.UseRdkafka and friends),
// librdkafka opens its own connections to the advertised addresses, which
// no dialer reaches: only the pure-Go engine's traffic, and the shared Go
// layer's (metadata, offsets, consumer groups), goes through the proxies.
//
// # The faults
//
// Every switch acts at once, on the connections in progress and on new
// ones, and is safe to call from any goroutine:
//
//   - SetLatency(d) delays every chunk of data by d in each direction (a
//     request and its response by 2d). It adds delay, not a bandwidth cap:
//     chunks are timestamped when read and written when due, so several are
//     in transit at once and nothing is reordered.
//   - Reset closes every current connection, both halves, with a TCP RST
//     (SO_LINGER 0), as a middlebox that drops its state does. Data in
//     flight is lost. New connections work: a client that reconnects shows
//     up in Accepted.
//   - BlackHole keeps accepting connections and keeps the current ones open,
//     but forwards nothing in either direction: whatever is sent is held, as
//     TCP would keep retransmitting into a partition, and delivered in order
//     after Heal. The client sees what a network partition shows it:
//     silence, until its own timeouts fire. This is the fault that finds
//     missing timeouts; a refused or reset connection is the easy case.
//   - Heal removes the latency and the black hole.
//
// Faults of the brokers themselves come from testinstance, on a cluster
// your test started with testinstance.Start: StopBroker (graceful),
// KillBroker (SIGKILL, no goodbye), StartBroker (same node id, ports and
// data; waits until it serves), and the same for ZooKeeper. A proxy whose
// broker is down closes the connections it accepts, as a refused
// connection would end. Both kinds combine: a black hole during a leader
// election, latency across a rolling restart.
//
// Accepted and Active count connections (accepted so far, open now), so a
// test can check that its client reconnected, or that it closed what it
// opened.
//
// # Goroutines and cleanup
//
// A Proxy runs one accept goroutine, and four per connection (a reader and
// a writer per direction, so that delayed chunks queue between them). A
// connection's goroutines end when either side closes it or a Reset cuts
// it. Close (of a Proxy or a Group) closes the listener and every
// connection (dropping what a black hole or a latency still held), and waits for
// every goroutine it started, so a goroutine-leak checker such as
// go.uber.org/goleak sees none of them afterwards. Close is idempotent;
// after it, DialContext fails with ErrClosed. Close the proxies after the
// client that uses them (defer them before it), or the client's last
// requests meet closed connections.
//
// A proxy listens on 127.0.0.1, on a port the kernel picks, and dials its
// target with a 10 s timeout; it needs no privileges and holds at most 64
// chunks of 32 KiB per direction and connection before TCP flow control
// pushes back on the sender.
package faultproxy
