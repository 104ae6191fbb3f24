// Package fakebroker is a test helper: a fake Kafka broker that speaks just
// enough of the protocol for a client to connect — ApiVersions and Metadata,
// encoded with kmsg — and misbehaves on cue. Tests use it to prove that bad
// input from the network (a truncated frame, a wrong correlation id, a size
// prefix that lies, garbage, a response nobody asked for, a frame of a
// gigabyte, absurd array lengths, a byte a second) ends in a typed error
// within its deadline, never a panic or a hang.
//
// It is no broker: it stores nothing and answers every other request by
// closing the connection, unless a Handler answers it. Real behaviour is
// tested on the real cluster (testinstance); this package only injects
// faults that a real broker cannot be made to produce.
//
// A Broker serves connections accepted on 127.0.0.1 (Listen) or handed to it
// through DialPipe (in memory, for fuzzing). Each connection is one
// goroutine that reads requests in order and calls the Handler; Close stops
// them all and waits for them.
//
// Typical use, in a test:
//
//	b := fakebroker.Start(t, func(c *fakebroker.Conn, r *fakebroker.Request) bool {
//		if r.Key != 3 { // Metadata
//			return false // ApiVersions and the rest: default behaviour
//		}
//		full := fakebroker.Encode(r, c.Broker().Metadata(r))
//		c.Write(full[:len(full)/2]) // a truncated frame
//		c.WaitClosed()
//		return true
//	})
//	conn, err := wire.Dial(ctx, b.Addr(), wire.Options{})
//
// For fuzzing, New gives a broker without a listener and DialPipe (a
// wire.Options.Dialer) connects to it in memory.
package fakebroker
