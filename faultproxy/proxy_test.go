package faultproxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/gokafka/kafka/testhelp"
)

// echoServer answers every connection with what it reads, until closed.
func echoServer(t *testing.T) string {
	t.Helper()
	return testhelp.Serve(t, func(c net.Conn) {
		io.Copy(c, c)
		c.Close()
	})
}

func newGroup(t *testing.T, targets ...string) *Group {
	t.Helper()
	g, err := NewGroup(targets...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

func dial(t *testing.T, g *Group, addr string) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := g.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes msg and reads it back, failing after timeout.
func roundTrip(c net.Conn, msg []byte, timeout time.Duration) error {
	c.SetDeadline(time.Now().Add(timeout))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return errors.New("echo differs")
	}
	return nil
}

// echoThroughProxy is how most tests begin: a goroutine-leak check, an echo
// server behind a group of one proxy, and a connection through the proxy
// that has made a round trip (so that the proxy accepted it).
func echoThroughProxy(t *testing.T) (g *Group, target string, c net.Conn) {
	t.Helper()
	testhelp.NoLeaks(t)
	target = echoServer(t)
	g = newGroup(t, target)
	c = dial(t, g, target)
	if err := roundTrip(c, []byte("hello"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	return g, target, c
}

func TestForwardsInOrderWithLatency(t *testing.T) {
	g, _, c := echoThroughProxy(t)
	if g.Accepted() != 1 || g.Active() != 1 {
		t.Fatalf("accepted %d active %d, want 1 and 1", g.Accepted(), g.Active())
	}

	// 4 MiB through a delayed pipe: many chunks in transit, none
	// reordered, and the delay is per chunk, not per byte.
	g.SetLatency(20 * time.Millisecond)
	big := make([]byte, 4<<20)
	for i := range big {
		big[i] = byte(rand.IntN(256))
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(big)
		errc <- err
	}()
	got := make([]byte, len(big))
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, big) {
		t.Fatal("4 MiB came back altered or reordered")
	}

	const lat = 300 * time.Millisecond
	g.SetLatency(lat)
	start := time.Now()
	if err := roundTrip(c, []byte("slow"), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 2*lat {
		t.Fatalf("round trip with %v latency each way took %v", lat, took)
	}
	g.Heal()
	start = time.Now()
	if err := roundTrip(c, []byte("fast"), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took >= 2*lat {
		t.Fatalf("round trip after Heal took %v", took)
	}
}

func TestBlackHoleHoldsThenDelivers(t *testing.T) {
	g, target, old := echoThroughProxy(t)
	g.BlackHole()
	// The existing connection stays open and goes silent.
	if err := roundTrip(old, []byte("held-1"), 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("round trip in a black hole: %v, want a timeout", err)
	}
	// New connections are accepted and go silent too.
	fresh := dial(t, g, target)
	if err := roundTrip(fresh, []byte("held-2"), 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("new connection in a black hole: %v, want a timeout", err)
	}
	if g.Accepted() != 2 {
		t.Fatalf("accepted %d, want 2", g.Accepted())
	}
	g.Heal()
	// What was held arrives, in order, and the pipes work again.
	for _, tc := range []struct {
		c    net.Conn
		held string
	}{{old, "held-1"}, {fresh, "held-2"}} {
		buf := make([]byte, len(tc.held))
		tc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(tc.c, buf); err != nil || string(buf) != tc.held {
			t.Fatalf("after Heal read %q, %v; want %q", buf, err, tc.held)
		}
		if err := roundTrip(tc.c, []byte("after"), 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestResetClosesCurrentConnections(t *testing.T) {
	g, target, c := echoThroughProxy(t)
	if n := g.Reset(); n != 1 {
		t.Fatalf("Reset closed %d connections, want 1", n)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if err == nil || isTimeout(err) {
		t.Fatalf("read after Reset: %v, want the connection broken", err)
	}
	if !errors.Is(err, io.EOF) && !isReset(err) {
		t.Logf("read after Reset: %v", err)
	}
	c2 := dial(t, g, target)
	if err := roundTrip(c2, []byte("y"), 5*time.Second); err != nil {
		t.Fatalf("new connection after Reset: %v", err)
	}
	if g.Active() != 1 {
		t.Fatalf("%d active connections, want 1", g.Active())
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

func TestDialerRefusesUnproxied(t *testing.T) {
	target := echoServer(t)
	g := newGroup(t, target)
	_, err := g.DialContext(context.Background(), "tcp", "127.0.0.1:1")
	if !errors.Is(err, ErrNotProxied) {
		t.Fatalf("dial of an address without a proxy: %v, want ErrNotProxied", err)
	}
}

func TestTargetDownClosesClient(t *testing.T) {
	target := testhelp.ClosedAddr(t)
	g := newGroup(t, target)
	c := dial(t, g, target)
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("read through a proxy whose target is down: %v, want the connection closed", err)
	}
}

func TestCloseStopsEverything(t *testing.T) {
	testhelp.NoLeaks(t)
	target := echoServer(t)
	g, err := NewGroup(target, target) // the duplicate is ignored
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Proxies()) != 1 {
		t.Fatalf("%d proxies for one target", len(g.Proxies()))
	}
	var conns []net.Conn
	for range 3 {
		c, err := g.DialContext(context.Background(), "tcp", target)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if err := roundTrip(c, []byte("z"), 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	g.SetLatency(time.Hour)
	conns[0].Write([]byte("stuck behind the latency"))
	g.BlackHole()
	conns[1].Write([]byte("stuck in the black hole"))
	g.Close()
	g.Close() // idempotent
	if _, err := g.DialContext(context.Background(), "tcp", target); !errors.Is(err, ErrClosed) {
		t.Fatalf("dial after Close: %v, want ErrClosed", err)
	}
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Fatalf("read after Close: %v, want the connection closed", err)
		}
		c.Close()
	}
}
