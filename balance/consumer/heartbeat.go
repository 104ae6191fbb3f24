package consumer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/offsets"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// heartbeater is the member's second goroutine. It sends
// ConsumerGroupHeartbeat at the interval the coordinator dictates — at once
// when the membership loop asks (an acknowledgement, a rejoin) — and
// records each answer in the state machine; the membership loop acts on
// it. Heartbeats go out while the Handler works, so that a slow commit in
// Revoked does not cost the membership (up to the group's rebalance
// timeout, which the coordinator enforces).
type heartbeater struct {
	m    *Member
	wake chan struct{} // capacity 1: heartbeat now

	accepted atomic.Int64 // heartbeats answered without error, for tests
	mute     atomic.Bool  // tests: send nothing, as if the network dropped it

	ctx      context.Context // ends with stop
	cancel   context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

func newHeartbeater(m *Member) *heartbeater {
	b := &heartbeater{m: m, wake: make(chan struct{}, 1), done: make(chan struct{})}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	return b
}

func (b *heartbeater) start() { go b.run() }

// stop ends the goroutine and waits for it. Idempotent.
func (b *heartbeater) stop() {
	b.stopOnce.Do(b.cancel)
	<-b.done
}

// now asks for a heartbeat at once.
func (b *heartbeater) now() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

func (b *heartbeater) run() {
	defer close(b.done)
	m := b.m
	t := time.NewTimer(0) // the join goes out at once
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.wake:
		case <-t.C:
		}
		m.mu.Lock()
		req := m.s.request()
		joining := req != nil && req.MemberEpoch == 0
		m.mu.Unlock()
		if req == nil {
			// Lost partitions the Handler has not heard of yet, or a
			// fatal error: nothing may go out until the loop acts.
			t.Stop()
			continue
		}
		start := time.Now()
		resp, err := b.send(req)
		if b.ctx.Err() != nil {
			return
		}
		m.mu.Lock()
		var news bool
		if err == nil {
			news, err = m.s.answered(resp)
		}
		what := retrySoon
		if err != nil {
			what = m.s.failed(err, offsets.CoordinatorMoved(err, m.cl.IsClosing()))
		}
		interval := m.s.interval
		m.publish()
		m.mu.Unlock()
		next := interval - time.Since(start)
		switch {
		case err == nil:
			failures = 0
			b.accepted.Add(1)
			if joining {
				m.log.Info("consumer: joined", "epoch", resp.MemberEpoch, "interval", interval)
			}
		case what == retrySoon || what == retryJoining:
			m.life.Retried(err)
			failures++
			next = m.cl.Backoff(failures)
			m.log.Debug("consumer: heartbeat failed, retrying", "err", err, "attempt", failures)
		default: // rejoin, stop: the loop takes over
			m.log.Info("consumer: heartbeat refused", "err", err)
			news = true
		}
		if news {
			m.wakeLoop()
		}
		t.Reset(max(0, next))
	}
}

// send sends one heartbeat to the coordinator over the member's lane, after
// checking that the coordinator speaks ConsumerGroupHeartbeat v1. A
// heartbeat that gets no answer in time closes the lane (the request may
// still sit on it) and makes the coordinator be looked up again.
func (b *heartbeater) send(req *kmsg.ConsumerGroupHeartbeatRequest) (*kmsg.ConsumerGroupHeartbeatResponse, error) {
	m := b.m
	if b.mute.Load() {
		return nil, fmt.Errorf("heartbeat: %w (muted by a test)", kerr.ErrConnection)
	}
	m.mu.Lock()
	interval := m.s.interval
	m.mu.Unlock()
	// An answer later than this is of little use: the next heartbeat is
	// due, and a coordinator that takes this long is likely gone.
	ctx, cancel := context.WithTimeout(b.ctx, max(2*interval, 5*time.Second))
	defer cancel()
	resp, err := m.request(ctx, req)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, kerr.ErrRequestTimeout) {
			// Our own deadline, in the coordinator lookup: retriable.
			err = fmt.Errorf("%w: %w", kerr.ErrRequestTimeout, err)
		}
		return nil, err
	}
	r := resp.(*kmsg.ConsumerGroupHeartbeatResponse)
	if err := kerr.WithMessage(r.ErrorCode, r.ErrorMessage); err != nil {
		m.coord.failed(err)
		switch {
		case isUnsupported(err):
			err = errUnsupported("the coordinator of group %q refuses the consumer group protocol (%v): the broker's group.coordinator.rebalance.protocols must include \"consumer\"", m.cfg.Group, err)
		case errors.Is(err, kerr.InvalidRegularExpression):
			// Go compiled it; the broker's RE2J did not.
			err = fmt.Errorf("%w: %w", kerr.Config("Config.Subscription.Pattern", "the broker cannot compile %s", m.cfg.Subscription.Pattern), err)
		}
		return r, fmt.Errorf("ConsumerGroupHeartbeat: %w", err)
	}
	return r, nil
}

// request sends one request to the coordinator on the member's lane.
func (m *Member) request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	b, err := m.coord.get(ctx, m.lane)
	if err != nil {
		return nil, err
	}
	conn, err := b.Conn(ctx, m.lane)
	if err != nil {
		m.coord.failed(err)
		return nil, err
	}
	if v, ok := conn.Versions().Max(apiConsumerGroupHeartbeat); !ok || v < minHeartbeatVersion {
		have := "no version"
		if ok {
			have = fmt.Sprintf("v%d at most", v)
		}
		return nil, errUnsupported("broker %d, the coordinator of group %q, speaks %s of ConsumerGroupHeartbeat; the consumer group protocol needs v%d (Kafka 4.0 or newer)", b.ID, m.cfg.Group, have, minHeartbeatVersion)
	}
	resp, err := conn.Request(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			b.CloseLane(m.lane)
			err = fmt.Errorf("%w: %w", kerr.ErrRequestTimeout, err)
		}
		m.coord.failed(err)
		return nil, err
	}
	return resp, nil
}

// leave sends the leave heartbeat, retrying while the coordinator moves or
// loads, until ctx ends. A member the coordinator does not know (any more)
// has left already.
func (m *Member) leave(ctx context.Context) error {
	m.mu.Lock()
	req := m.s.leave()
	m.mu.Unlock()
	for attempt := 1; ; attempt++ {
		resp, err := m.request(ctx, req)
		if err == nil {
			r := resp.(*kmsg.ConsumerGroupHeartbeatResponse)
			err = kerr.WithMessage(r.ErrorCode, r.ErrorMessage)
			m.coord.failed(err)
		}
		switch {
		case err == nil, errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.FencedMemberEpoch), errors.Is(err, kerr.GroupIDNotFound):
			return nil
		case !offsets.CoordinatorMoved(err, m.cl.IsClosing()) && !errors.Is(err, kerr.CoordinatorLoadInProgress):
			return fmt.Errorf("ConsumerGroupHeartbeat (leave): %w", err)
		}
		if serr := m.cl.Sleep(ctx, m.cl.Backoff(attempt)); serr != nil {
			return fmt.Errorf("ConsumerGroupHeartbeat (leave): %w (last error: %w)", serr, err)
		}
	}
}

// coordinator caches the group's coordinator broker. offsets.Group does the
// lookup (FindCoordinator with retries) and caches the answer; when a
// request says the coordinator moved, the cache is dropped by replacing the
// Group (a new one looks up again on first use). It remembers the brokers
// the member's lane was opened on, to close it when the member stops.
type coordinator struct {
	cl    *cluster.Cluster
	group string

	mu    sync.Mutex
	g     *offsets.Group
	lanes map[*cluster.Broker]struct{}
}

func newCoordinator(cl *cluster.Cluster, group string) (*coordinator, error) {
	g, err := offsets.NewGroup(cl, group, offsets.GroupOptions{})
	if err != nil {
		return nil, err
	}
	return &coordinator{cl: cl, group: group, g: g, lanes: map[*cluster.Broker]struct{}{}}, nil
}

// get returns the coordinator, noting that lane will be opened on it.
func (c *coordinator) get(ctx context.Context, lane string) (*cluster.Broker, error) {
	c.mu.Lock()
	g := c.g
	c.mu.Unlock()
	id, err := g.Coordinator(ctx)
	if err != nil {
		return nil, err
	}
	b, err := c.cl.Broker(id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.lanes[b] = struct{}{}
	c.mu.Unlock()
	return b, nil
}

// failed looks the coordinator up again next time if err says it moved.
func (c *coordinator) failed(err error) {
	if err == nil || !offsets.CoordinatorMoved(err, c.cl.IsClosing()) {
		return
	}
	if g, gerr := offsets.NewGroup(c.cl, c.group, offsets.GroupOptions{}); gerr == nil {
		c.mu.Lock()
		c.g = g
		c.mu.Unlock()
	}
}

// closeLane closes the member's lane on every broker it was opened on.
func (c *coordinator) closeLane(lane string) {
	c.mu.Lock()
	bs := c.lanes
	c.lanes = map[*cluster.Broker]struct{}{}
	c.mu.Unlock()
	for b := range bs {
		b.CloseLane(lane)
	}
}
