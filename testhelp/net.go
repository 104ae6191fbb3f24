package testhelp

import (
	"net"
	"sync"
	"testing"
)

// Serve listens on a free port of 127.0.0.1 and runs handle, in a goroutine
// of its own, for every connection it accepts; it returns the address. When
// the test ends the listener and every connection accepted close, and Serve
// waits for the handlers: one that blocks must return once its connection
// closes. A handler may close its connection itself, or leave it open
// (a server that accepts and never answers).
func Serve(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		conns  []net.Conn
		closed bool // the test ended: close what Accept still returns
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				c.Close()
				return
			}
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { handle(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		closed = true
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// ClosedAddr is an address of 127.0.0.1 where nothing listens (a port just
// freed): a dial there is refused.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
