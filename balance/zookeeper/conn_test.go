package zookeeper

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// TestZKConnStamps: only answers to requests move lastReply, whatever the
// read sizes; watch notifications (xid -1) do not.
func TestZKConnStamps(t *testing.T) {
	var stream []byte
	var answers []int // offset of the last header byte of each answer
	for _, f := range []struct {
		xid    int32
		body   int
		answer bool
	}{{0, 32, true}, {-1, 20, false}, {-2, 12, true}, {-1, 40, false}, {7, 0, true}, {-1, 12, false}} {
		if f.answer {
			answers = append(answers, len(stream)+7)
		}
		stream = append(stream, zkFrame(f.xid, f.body)...)
	}
	for _, chunk := range []int{1, 3, 7, 8, 13, len(stream)} {
		s := &session{}
		c := &zkConn{s: s}
		base := time.Unix(1000, 0)
		for off := 0; off < len(stream); off += chunk {
			end := min(off+chunk, len(stream))
			c.scan(stream[off:end], base.Add(time.Duration(end-1)*time.Second))
			// The answer completed in this chunk, if any, is stamped
			// with the chunk's time.
			want := int64(0)
			for _, a := range answers {
				if a < end {
					want = base.Add(time.Duration(chunkEnd(a, chunk, len(stream))-1) * time.Second).UnixNano()
				}
			}
			if got := s.lastReply.Load(); got != want {
				t.Fatalf("chunk %d, after %d bytes: lastReply %d, want %d", chunk, end, got, want)
			}
		}
	}
}

// chunkEnd is the end offset of the chunk holding byte a.
func chunkEnd(a, chunk, n int) int { return min((a/chunk+1)*chunk, n) }

// zkFrame is one frame as the server sends it: length, xid, body.
func zkFrame(xid int32, bodyLen int) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(4+bodyLen))
	b = binary.BigEndian.AppendUint32(b, uint32(xid))
	return append(b, make([]byte, bodyLen)...)
}

// zkRequest is one request frame as go-zookeeper writes it: length, xid,
// opcode, body.
func zkRequest(xid, opcode int32) []byte {
	b := binary.BigEndian.AppendUint32(nil, 8)
	b = binary.BigEndian.AppendUint32(b, uint32(xid))
	return binary.BigEndian.AppendUint32(b, uint32(opcode))
}

// TestZKConnGate: on a resumed connection, answers after the connect
// response wait for the SetWatches request (or setWatchesWait, or Close),
// and are stamped that much earlier; a session's first connection and the
// connect response itself never wait.
func TestZKConnGate(t *testing.T) {
	const opGetData = 4
	// open dials one connection of a session that has completed
	// handshakes before, writes the connect request and reads the
	// connect response the way go-zookeeper's handshake does (exactly
	// its length); the server then sends one answer.
	open := func(t *testing.T, handshakes int64) (*zkConn, *session) {
		t.Helper()
		s := &session{}
		s.timeout.Store(int64(10 * setWatchesWait)) // the wait is the whole setWatchesWait
		s.handshakes.Store(handshakes)
		client, server := net.Pipe()
		c := newZKConn(client, s)
		t.Cleanup(func() { c.Close(); server.Close() })
		go func() {
			// The connect request's bytes 8..12 are the high half of the
			// last zxid: make them look like SetWatches, which must not
			// count, being the first frame.
			connectReq := zkRequest(0, opSetWatches)
			if _, err := io.ReadFull(server, make([]byte, len(connectReq))); err != nil {
				return
			}
			go io.Copy(io.Discard, server) // the requests that follow
			server.Write(append(zkFrame(0, 32), zkFrame(1, 8)...))
		}()
		if _, err := c.Write(zkRequest(0, opSetWatches)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 4+4+32)); err != nil {
			t.Fatal(err)
		}
		if got := s.handshakes.Load(); got != handshakes+1 {
			t.Fatalf("handshakes %d after the connect response, want %d", got, handshakes+1)
		}
		return c, s
	}
	readAnswer := func(t *testing.T, c *zkConn) time.Time {
		t.Helper()
		before := time.Now()
		if _, err := io.ReadFull(c, make([]byte, 4+4+8)); err != nil {
			t.Fatal(err)
		}
		return before
	}

	t.Run("first connection", func(t *testing.T) {
		c, _ := open(t, 0)
		readAnswer(t, c)
		if c.lag != 0 {
			t.Fatalf("a session's first connection waited %v", c.lag)
		}
	})
	t.Run("SetWatches written", func(t *testing.T) {
		c, s := open(t, 1)
		if _, err := c.Write(zkRequest(5, opGetData)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(zkRequest(6, opSetWatches)); err != nil {
			t.Fatal(err)
		}
		before := readAnswer(t, c)
		if c.lag >= setWatchesWait {
			t.Fatalf("waited %v with SetWatches written", c.lag)
		}
		if got := time.Unix(0, s.lastReply.Load()); got.After(time.Now().Add(-c.lag)) || got.Before(before.Add(-c.lag)) {
			t.Fatalf("lastReply %v outside [%v, now] less the lag %v", got, before, c.lag)
		}
	})
	t.Run("no SetWatches", func(t *testing.T) {
		c, s := open(t, 1)
		if _, err := c.Write(zkRequest(5, opGetData)); err != nil {
			t.Fatal(err)
		}
		readAnswer(t, c)
		if c.lag < setWatchesWait {
			t.Fatalf("waited %v without SetWatches, want %v", c.lag, setWatchesWait)
		}
		// The answer came in while the gate was closed: its stamp is
		// at least the wait earlier than when it was read.
		if got := time.Unix(0, s.lastReply.Load()); got.After(time.Now().Add(-setWatchesWait)) {
			t.Fatalf("lastReply %v is less than %v before now", got, setWatchesWait)
		}
	})
	t.Run("closed while waiting", func(t *testing.T) {
		c, _ := open(t, 1)
		done := make(chan error, 1)
		go func() {
			_, err := c.Read(make([]byte, 4))
			done <- err
		}()
		c.Close()
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("read on a closed connection succeeded")
			}
		case <-time.After(setWatchesWait / 2):
			t.Fatalf("Close did not end the wait within %v", setWatchesWait/2)
		}
	})
}
