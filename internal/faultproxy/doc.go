// Package faultproxy is a small TCP proxy for fault-injection tests: it sits
// between a client and one broker and, on command, delays, cuts or swallows
// the traffic, so that tests can show what the client does when the network
// (rather than the broker) fails.
//
// # Using it
//
// A Proxy listens on 127.0.0.1 (a port the kernel picks) and forwards every
// connection it accepts to its target. A Group holds one Proxy per broker
// and dials through them: brokers advertise their real addresses in
// metadata, so a client must be told to reach address A through A's proxy,
// which is what Group.DialContext does (it has the signature of
// kafka.WithDialer):
//
//	g, err := faultproxy.NewGroup(cluster.Brokers()...)
//	defer g.Close()
//	client, err := kafka.NewClient(ctx, cluster.BootstrapServers(), kafka.WithDialer(g.DialContext))
//	g.BlackHole()  // every broker becomes unreachable, connections stay open
//	g.Heal()
//
// An address no proxy serves is refused with ErrNotProxied, so a test notices
// a connection that would bypass the faults.
//
// # Faults
//
// The switches act at once on the connections in progress and on new ones:
//
//   - SetLatency(d) delays every chunk of data by d in each direction (a
//     request and its response by 2d). It adds delay, not a bandwidth cap:
//     chunks are timestamped when read and written when due, so several are
//     in transit at once.
//   - Reset closes every current connection, both halves, with a TCP RST
//     (SO_LINGER 0), as a middlebox that drops its state does. New
//     connections work.
//   - BlackHole keeps accepting connections and keeps the current ones open,
//     but forwards nothing in either direction: whatever is sent is held, as
//     TCP would keep retransmitting a segment into a partition, and
//     forwarded in order after Heal. A client therefore sees exactly what a
//     network partition shows it: silence, until its own timeouts fire.
//   - Heal removes latency and the black hole.
//
// # Goroutines
//
// A Proxy runs one accept goroutine, and four per connection (a reader and
// a writer per direction, so that delayed chunks queue between them). A
// connection's goroutines end when either side closes it or a fault resets
// it; Close closes the listener and every connection and waits for all of
// them.
package faultproxy
