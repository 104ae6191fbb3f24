package zookeeper

import (
	"encoding/binary"
	"net"
	"sync"
	"time"
)

// opSetWatches is ZooKeeper's opcode for re-registering watches on a new
// connection (OpCode.setWatches in the server's ZooDefs).
const opSetWatches = 101

// setWatchesWait bounds how long a resumed connection holds answers back
// while it waits for go-zookeeper's SetWatches request (see zkConn), and
// so does a tenth of the session timeout (go-zookeeper gives up on a read
// after two thirds of it). The bound is reached only when the session
// holds no watch, and then costs that much delay once per reconnection.
const setWatchesWait = 500 * time.Millisecond

// zkConn is the connection go-zookeeper talks to a server through. It
// does two jobs.
//
// It notes when the client last read an answer to one of its requests
// (session.lastReply; see Member.checkConnection): the server received the
// request before it answered, and every request, pings included, renews
// the session. It parses the frames to tell answers from watch
// notifications, which the server sends on its own: each frame is a 4-byte
// length and a body whose first 4 bytes are the xid, -1 for a
// notification (the first frame, the connect response, starts with the
// protocol version, 0, and counts as an answer).
//
// And it orders two of go-zookeeper's own memory accesses that v1.0.4
// leaves unordered. On a new connection of a session that already had
// one, go-zookeeper reads the last zxid it saw to re-register the
// session's watches (Conn.sendSetWatches) while its receiving goroutine,
// already started, writes that field on every answer, with no lock
// between them (a data race the race detector reported in CI, in
// TestZooKeeperRestart; known upstream: samuel/go-zookeeper#178 and #260,
// go-zookeeper/zk pull request 35, unmerged). So a resumed connection
// hands no byte after the connect response to the receiving goroutine
// until go-zookeeper has written the SetWatches request, which it builds
// after that read; when the session holds no watch (go-zookeeper then
// neither reads the field nor sends the request), until setWatchesWait
// has passed. Every answer read on that connection after the wait is
// stamped as read that much earlier (it may have waited in the socket's
// buffer), so that lastReply never claims the server heard from the
// client later than it did.
//
// go-zookeeper reads from one goroutine at a time (the handshake, then
// the receiving goroutine it starts after) and writes from one at a time
// (the handshake, then the sending goroutine), so the fields each side
// uses need no lock.
type zkConn struct {
	net.Conn
	s *session

	// Read side.
	hdr  [8]byte // length and xid of the frame being read
	hn   int     // bytes of hdr read so far
	skip int     // bytes of the frame's body left after the xid
	// handshaken: the connect response has been read.
	handshaken bool
	// gated: answers wait for SetWatches (a resumed connection whose
	// connect response has been read and whose gate is still closed).
	gated bool
	// lag is how long answers were held back; later reads are stamped
	// that much earlier.
	lag time.Duration

	// Write side.
	writes int // frames written; the first is the connect request

	resumed     bool          // a connection of this session completed a handshake before
	watchesSent chan struct{} // closed when SetWatches is written
	sentOnce    sync.Once
	closed      chan struct{} // closed by Close
	closeOnce   sync.Once
}

func newZKConn(c net.Conn, s *session) *zkConn {
	return &zkConn{
		Conn:        c,
		s:           s,
		resumed:     s.handshakes.Load() > 0,
		watchesSent: make(chan struct{}),
		closed:      make(chan struct{}),
	}
}

func (c *zkConn) Read(b []byte) (int, error) {
	if c.gated {
		c.gated = false
		start := time.Now()
		t := time.NewTimer(min(setWatchesWait, c.s.Timeout()/10))
		select {
		case <-c.watchesSent:
		case <-c.closed:
		case <-t.C:
		}
		t.Stop()
		c.lag = time.Since(start)
	}
	n, err := c.Conn.Read(b)
	c.scan(b[:n], time.Now().Add(-c.lag))
	return n, err
}

func (c *zkConn) Write(b []byte) (int, error) {
	c.writes++
	if c.writes > 1 && len(b) >= 12 && int32(binary.BigEndian.Uint32(b[8:12])) == opSetWatches {
		c.sentOnce.Do(func() { close(c.watchesSent) })
	}
	return c.Conn.Write(b)
}

// Close closes the connection, then ends a wait for SetWatches: the read
// that waited then fails on the closed connection instead of taking what
// the socket still held.
func (c *zkConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() { close(c.closed) })
	return err
}

// scan stamps lastReply with now for each answer whose header p completes,
// and closes the gate of a resumed connection behind its connect response.
func (c *zkConn) scan(p []byte, now time.Time) {
	for len(p) > 0 {
		if c.skip > 0 {
			k := min(c.skip, len(p))
			c.skip -= k
			p = p[k:]
			if c.skip == 0 {
				c.frameDone()
			}
			continue
		}
		k := copy(c.hdr[c.hn:], p)
		c.hn += k
		p = p[k:]
		if c.hn < len(c.hdr) {
			return
		}
		if xid := int32(binary.BigEndian.Uint32(c.hdr[4:])); xid != -1 {
			c.s.lastReply.Store(now.UnixNano())
		}
		c.skip = max(0, int(binary.BigEndian.Uint32(c.hdr[:4]))-4)
		c.hn = 0
		if c.skip == 0 {
			c.frameDone()
		}
	}
}

// frameDone counts a frame read completely; the first is the connect
// response, the end of the handshake.
func (c *zkConn) frameDone() {
	if c.handshaken {
		return
	}
	c.handshaken = true
	c.gated = c.resumed
	c.s.handshakes.Add(1)
}
