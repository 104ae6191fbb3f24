package cluster

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Lanes separate traffic that must not queue behind each other on one
// connection: Kafka answers a connection's requests strictly in order, so a
// Fetch long-poll would otherwise hold up a Produce, and a JoinGroup that
// waits for a rebalance would hold up everything else.
const (
	LaneGeneral = "general"
	LaneProduce = "produce"
	LaneFetch   = "fetch"
	LaneGroup   = "group"
)

// laneFor picks the default lane of a request.
func laneFor(req kmsg.Request) string {
	switch req.(type) {
	case *kmsg.ProduceRequest:
		return LaneProduce
	case *kmsg.FetchRequest:
		return LaneFetch
	case *kmsg.JoinGroupRequest, *kmsg.SyncGroupRequest:
		return LaneGroup
	}
	return LaneGeneral
}

// Broker is one Kafka broker: its identity and its connections, one per lane,
// dialled on first use and redialled, with backoff, after they fail.
type Broker struct {
	ID   int32 // -1 and below for bootstrap addresses not yet mapped to ids
	Addr string
	Rack *string

	cl *Cluster

	mu     sync.Mutex
	lanes  map[string]*lane
	closed bool

	obs brokerObs // counters and hooks of its connections (observe.go)
}

// lane is one connection slot of a broker.
type lane struct {
	conn     *wire.Conn
	dialing  chan struct{} // non-nil while a dial is in progress; closed when it ends
	failures int           // consecutive failed dials, for backoff
	retryAt  time.Time
}

func newBroker(cl *Cluster, id int32, addr string, rack *string) *Broker {
	b := &Broker{ID: id, Addr: addr, Rack: rack, cl: cl, lanes: map[string]*lane{}}
	b.obs.b = b
	return b
}

// Request sends req on the lane that suits it (see Lanes) and returns the
// response. A connection failure is returned (wrapping kerr.ErrConnection)
// and the next request redials; Request itself does not retry, because only
// the caller knows whether the request is safe to resend.
func (b *Broker) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	return b.RequestOn(ctx, laneFor(req), req)
}

// RequestAtMost is Request at version most or lower, for callers to whom a
// newer version would mean something else (see wire.Versions.PickAtMost).
func (b *Broker) RequestAtMost(ctx context.Context, req kmsg.Request, most int16) (kmsg.Response, error) {
	c, err := b.conn(ctx, laneFor(req))
	if err != nil {
		return nil, err
	}
	return c.RequestAtMost(ctx, req, most)
}

// RequestOn sends req on a named lane. Consumers use their own fetch lane so
// that two consumers in one client do not wait on each other's long polls.
func (b *Broker) RequestOn(ctx context.Context, laneName string, req kmsg.Request) (kmsg.Response, error) {
	c, err := b.conn(ctx, laneName)
	if err != nil {
		return nil, err
	}
	return c.Request(ctx, req)
}

// Conn returns the live connection of a lane, dialling it if needed.
func (b *Broker) Conn(ctx context.Context, laneName string) (*wire.Conn, error) {
	return b.conn(ctx, laneName)
}

func (b *Broker) conn(ctx context.Context, laneName string) (*wire.Conn, error) {
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return nil, kerr.ErrClosed
		}
		l := b.lanes[laneName]
		if l == nil {
			l = &lane{}
			b.lanes[laneName] = l
		}
		if l.conn != nil {
			select {
			case <-l.conn.Done():
				l.conn = nil // dead: fall through to redial
			default:
				c := l.conn
				b.mu.Unlock()
				return c, nil
			}
		}
		if l.dialing != nil {
			wait := l.dialing
			b.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		// This goroutine dials; others wait on l.dialing.
		delay := time.Until(l.retryAt)
		done := make(chan struct{})
		l.dialing = done
		b.mu.Unlock()

		var c *wire.Conn
		var err error
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				err = ctx.Err()
			case <-b.cl.closing:
				t.Stop()
				err = kerr.ErrClosed
			}
		}
		if err == nil {
			opts := b.cl.cfg.Conn
			opts.Observer = &b.obs
			start := time.Now()
			c, err = wire.Dial(ctx, b.Addr, opts)
			b.obs.connected(time.Since(start), err)
		}

		b.mu.Lock()
		l.dialing = nil
		close(done)
		if err == nil && (b.closed || b.lanes[laneName] != l) {
			// The broker or this lane was closed while we dialled: the
			// new connection has no owner, so it must not outlive us.
			err = kerr.ErrClosed
			defer c.Close()
			c = nil
		}
		if err != nil {
			if ctx.Err() == nil {
				// Only a real dial failure counts toward backoff.
				l.failures++
				l.retryAt = time.Now().Add(b.cl.backoff(l.failures))
			}
			b.mu.Unlock()
			b.cl.logf("dial broker %d at %s: %v", b.ID, b.Addr, err)
			return nil, err
		}
		l.failures = 0
		l.retryAt = time.Time{}
		l.conn = c
		b.mu.Unlock()
		return c, nil
	}
}

// CloseLane closes one lane's connection (for example a consumer's own
// fetch lane when the consumer closes).
func (b *Broker) CloseLane(laneName string) {
	b.mu.Lock()
	var c *wire.Conn
	if l := b.lanes[laneName]; l != nil {
		c = l.conn
	}
	delete(b.lanes, laneName)
	b.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// close closes every connection; the broker refuses new requests.
func (b *Broker) close() {
	b.mu.Lock()
	b.closed = true
	var conns []*wire.Conn
	for _, l := range b.lanes {
		if l.conn != nil {
			conns = append(conns, l.conn)
		}
	}
	b.lanes = map[string]*lane{}
	b.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// connected reports whether some lane has a live connection.
func (b *Broker) connected() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range b.lanes {
		if l.conn != nil && l.conn.Err() == nil {
			return true
		}
	}
	return false
}

// backoff grows exponentially from RetryBackoff to RetryBackoffMax, with
// jitter so that many clients do not reconnect in lockstep.
func (c *Cluster) backoff(failures int) time.Duration {
	d := c.cfg.RetryBackoff
	for i := 1; i < failures && d < c.cfg.RetryBackoffMax; i++ {
		d *= 2
	}
	if d > c.cfg.RetryBackoffMax {
		d = c.cfg.RetryBackoffMax
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}
