package wire

import "time"

// Observer is told what happens on a connection, for metrics: the cluster
// layer gives each connection one (Options.Observer) that knows its broker.
// Its methods run on the goroutine where the fact is learnt (the sender,
// the waiter, whoever kills the connection) and must return quickly: while
// one runs, that goroutine waits.
type Observer interface {
	// RequestWritten: a request frame of bytes bytes was written (err nil)
	// or failed to be written.
	RequestWritten(key int16, bytes int, err error)
	// ResponseRead: the response to a request of this key came, bytes long
	// (err nil), latency after its request was written; or it will not
	// come (err: the connection died, or the waiter's ctx ended).
	ResponseRead(key int16, bytes int, latency time.Duration, err error)
	// Throttled: a response asked the client to hold back for d (KIP-219).
	Throttled(key int16, d time.Duration)
	// Disconnected: the connection died, with its cause (kerr.ErrClosed
	// when its owner closed it).
	Disconnected(err error)
}

// observeThrottle tells obs of a response's throttle time, if it has one.
func observeThrottle(obs Observer, key int16, resp any) {
	if tr, ok := resp.(interface{ Throttle() (int32, bool) }); ok {
		if ms, _ := tr.Throttle(); ms > 0 {
			obs.Throttled(key, time.Duration(ms)*time.Millisecond)
		}
	}
}

// InFlight is the number of requests written whose response has not come.
func (c *Conn) InFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}
