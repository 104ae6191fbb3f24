package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// session is one ZooKeeper session on its own zk.Conn. The member opens a
// new one after an expiry instead of letting go-zookeeper carry on with a
// fresh session on the old connection: requests that an earlier call gave
// up waiting for may still sit in the old connection's queue, and they must
// never run in the new session (an abandoned Create would plant an owner
// node nobody knows about; an abandoned Delete could remove a node that by
// then belongs to someone else). Closing the old connection discards them.
//
// go-zookeeper reports state changes on a channel that holds 6 events and
// drops the rest, so the session takes them from the synchronous event
// callback instead, keeps what matters in atomics and wakes the member
// through kick (capacity 1, never blocks). The member then reads the
// state; a dropped kick cannot lose anything because the state is not in
// the kick.
type session struct {
	conn   *zk.Conn
	events <-chan zk.Event // closed when the connection's goroutines end
	id     int64           // the session id, once established
	log    *slog.Logger
	kick   chan<- struct{}

	// timeout is the session timeout the server granted, in nanoseconds
	// (0 until known; see zkLogger).
	timeout atomic.Int64
	// expired is set when the server said the session expired.
	expired atomic.Bool
	// downSince is when the connection was lost (unix ns), 0 while the
	// session is connected.
	downSince atomic.Int64
	// lastReply is when the client last read an answer to one of its
	// requests (unix ns; see zkConn).
	lastReply atomic.Int64
	// handshakes counts the connections that read a connect response; a
	// connection dialled after the first is a resumed one (see zkConn).
	handshakes atomic.Int64
	// resumed is set when the session is connected again after a loss of
	// connection (go-zookeeper re-sets watches then, but only logs a
	// failure to, so the member re-arms its own).
	resumed atomic.Bool

	calls sync.WaitGroup // goroutines of calls in flight (see do)
}

// onEvent is the connection's event callback. It runs on go-zookeeper's
// goroutines and must not block.
func (s *session) onEvent(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	switch ev.State {
	case zk.StateExpired:
		s.expired.Store(true)
	case zk.StateDisconnected, zk.StateConnecting:
		s.downSince.CompareAndSwap(0, time.Now().UnixNano())
	case zk.StateHasSession:
		if s.downSince.Swap(0) != 0 {
			s.resumed.Store(true)
		}
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// zkLogger sends go-zookeeper's log lines to slog at Debug. It also picks
// up the session timeout the server granted, which go-zookeeper only
// reveals in its "authenticated" line (the format string is matched, not
// the output, so this stays exact for the pinned v1.0.4; TestNegotiatedTimeout
// fails if an upgrade changes it).
type zkLogger struct{ s *session }

func (l zkLogger) Printf(format string, args ...any) {
	if format == "authenticated: id=%d, timeout=%d" && len(args) == 2 {
		if ms, ok := args[1].(int32); ok && ms > 0 {
			l.s.timeout.Store(int64(time.Duration(ms) * time.Millisecond))
		}
	}
	l.s.log.Debug("zookeeper client: " + fmt.Sprintf(format, args...))
}

// openSession connects to ZooKeeper and waits, at most wait (and until ctx
// ends or stop is closed), for a session.
func openSession(ctx context.Context, cfg *Config, wait time.Duration, kick chan<- struct{}, stop <-chan struct{}) (*session, error) {
	s := &session{log: cfg.Logger, kick: kick}
	s.timeout.Store(int64(cfg.SessionTimeout))
	dial := cfg.dialer
	if dial == nil {
		dial = net.DialTimeout
	}
	dialer := func(network, addr string, timeout time.Duration) (net.Conn, error) {
		c, err := dial(network, addr, timeout)
		if err != nil {
			return nil, err
		}
		return newZKConn(c, s), nil
	}
	conn, events, err := zk.Connect(cfg.Servers, cfg.SessionTimeout,
		zk.WithEventCallback(s.onEvent), zk.WithLogger(zkLogger{s}), zk.WithLogInfo(true), zk.WithDialer(dialer))
	if err != nil {
		return nil, fmt.Errorf("%w: %v: %w", ErrZooKeeper, cfg.Servers, err)
	}
	s.conn, s.events = conn, events
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	poll := time.NewTicker(20 * time.Millisecond) // the kick may go to the member's loop instead
	defer poll.Stop()
	for conn.State() != zk.StateHasSession {
		select {
		case <-ctx.Done():
		case <-stop:
		case <-poll.C:
			continue
		}
		s.close()
		return nil, fmt.Errorf("%w: no session with %v after %s", ErrZooKeeper, cfg.Servers, time.Since(t0).Round(time.Millisecond))
	}
	s.id = conn.SessionID()
	s.downSince.Store(0)
	s.resumed.Store(false)
	return s, nil
}

// Timeout is the negotiated session timeout.
func (s *session) Timeout() time.Duration { return time.Duration(s.timeout.Load()) }

// connected reports whether the session is established and alive now.
func (s *session) connected() bool {
	return !s.gone() && s.conn.State() == zk.StateHasSession && s.downSince.Load() == 0
}

// gone reports whether the session has ended: expired, or replaced by a
// new one on the same connection (which go-zookeeper does by itself after an
// expiry; the expired event may have been missed, the id change cannot).
func (s *session) gone() bool {
	if s.expired.Load() {
		return true
	}
	id := s.conn.SessionID()
	return id != 0 && id != s.id
}

// close ends the session (ZooKeeper then deletes its ephemeral nodes) and
// waits for the calls in flight and for go-zookeeper's goroutines, which
// end within a few seconds even when the server is gone (the close request
// is given up after about a second, a pending dial after one more).
func (s *session) close() {
	s.conn.Close()
	s.calls.Wait() // requests fail at once when the connection quits
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case _, ok := <-s.events: // closed when its goroutines are done
			if !ok {
				return
			}
		case <-t.C:
			s.log.Warn("zookeeper: the connection's goroutines did not end within 10s")
			return
		}
	}
}

// do runs one ZooKeeper call with a deadline: go-zookeeper's calls take no
// context and can wait as long as the connection retries. The call runs in
// a goroutine that the session owns; if the deadline passes first, the
// goroutine is left to end when the connection answers or closes (close
// waits for it) and the caller gets a timeout error wrapping ErrZooKeeper.
// A request given up on this way may still be executed by the server;
// abandoned is then set so that the member reconciles its view with
// ZooKeeper.
func do[T any](ctx context.Context, s *session, timeout time.Duration, abandoned *bool, op, path string, fn func(*zk.Conn) (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ch := make(chan result, 1)
	s.calls.Add(1)
	go func() {
		defer s.calls.Done()
		v, err := fn(s.conn)
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil && !isNodeErr(r.err) {
			r.err = fmt.Errorf("%w: %s %s: %w", ErrZooKeeper, op, path, r.err)
		}
		return r.v, r.err
	case <-ctx.Done():
		*abandoned = true
		var zero T
		return zero, fmt.Errorf("%w: %s %s: no answer: %w", ErrZooKeeper, op, path, ctx.Err())
	}
}

// isNodeErr tells answers about a node (it exists, it does not, it
// changed) from failures of the call.
func isNodeErr(err error) bool {
	return errors.Is(err, zk.ErrNodeExists) || errors.Is(err, zk.ErrNoNode) ||
		errors.Is(err, zk.ErrBadVersion) || errors.Is(err, zk.ErrNotEmpty)
}
