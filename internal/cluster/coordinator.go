package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// CoordinatorType is the key type of a FindCoordinator request: whose
// coordinator is asked for.
type CoordinatorType int8

const (
	// GroupCoordinator: the coordinator of a consumer group (its
	// membership and its offsets).
	GroupCoordinator CoordinatorType = 0
	// TxnCoordinator: the transaction coordinator of a transactional id.
	TxnCoordinator CoordinatorType = 1
)

// String names the key: "group" or "transactional id".
func (t CoordinatorType) String() string {
	switch t {
	case GroupCoordinator:
		return "group"
	case TxnCoordinator:
		return "transactional id"
	}
	return fmt.Sprintf("coordinator type %d", int8(t))
}

// Coordinator finds and caches the coordinator broker of one key: a
// consumer group (offsets.Group, the Kafka-managed group members) or a
// transactional id (the transactional producer). It is the one home of the
// lookup rules: one FindCoordinator at a time however many callers wait,
// retries while the cluster answers that the coordinator is not there yet,
// and a cached answer until a request to it fails in a way that says it
// moved (CoordinatorMoved).
//
// A Coordinator is safe for concurrent use and owns no goroutine.
type Coordinator struct {
	cl  *Cluster
	typ CoordinatorType
	key string

	// lookup is a one-slot semaphore: one FindCoordinator at a time, so
	// that a hundred requests failing with NOT_COORDINATOR cost one
	// lookup. A channel rather than a mutex so that waiting honours ctx.
	lookup chan struct{}

	mu sync.Mutex
	id int32 // the coordinator's node id; -1 while unknown

	// Find sends one lookup and returns the coordinator's node id. It is
	// FindCoordinator by default; tests script it (set it before first
	// use).
	Find func(context.Context) (int32, error)
}

// NewCoordinator returns the coordinator lookup of key. It sends nothing:
// the coordinator is looked up on first use.
func NewCoordinator(cl *Cluster, typ CoordinatorType, key string) *Coordinator {
	c := &Coordinator{cl: cl, typ: typ, key: key, lookup: make(chan struct{}, 1), id: -1}
	c.Find = func(ctx context.Context) (int32, error) { return cl.FindCoordinator(ctx, typ, key) }
	return c
}

// Key is the group or transactional id whose coordinator this is.
func (c *Coordinator) Key() string { return c.key }

// Broker returns the coordinator, from the cache or by a lookup. While the
// cluster answers COORDINATOR_NOT_AVAILABLE or COORDINATOR_LOAD_IN_PROGRESS
// (a new group's or transactional id's log partition is still loading, a
// coordinator is being elected), or names a broker the metadata does not
// know yet, it retries with backoff until ctx ends; the error then wraps both
// the context's error and the last cause.
func (c *Coordinator) Broker(ctx context.Context) (*Broker, error) {
	if b := c.Cached(); b != nil {
		return b, nil
	}
	select {
	case c.lookup <- struct{}{}:
	case <-ctx.Done():
		return nil, c.wrap(GaveUp(ctx, nil))
	}
	defer func() { <-c.lookup }()
	var last error
	for attempt := 1; ; attempt++ {
		if b := c.Cached(); b != nil { // found by whoever held the slot before us
			return b, nil
		}
		id, err := c.Find(ctx)
		if err == nil {
			var b *Broker
			if b, err = c.cl.Broker(id); err == nil {
				c.mu.Lock()
				c.id = id
				c.mu.Unlock()
				return b, nil
			}
			// A coordinator our metadata does not know yet (a broker
			// that just joined): refresh the metadata and ask again.
			c.cl.TriggerRefresh()
		}
		if ctx.Err() != nil {
			return nil, c.wrap(GaveUp(ctx, last))
		}
		if !c.cl.Retriable(err) {
			return nil, c.wrap(err)
		}
		last = err
		c.cl.Logger().Debug("cluster: coordinator lookup failed, retrying", "key", c.typ.String(), "id", c.key, "attempt", attempt, "err", err)
		if serr := c.cl.Sleep(ctx, c.cl.Backoff(attempt)); serr != nil {
			if errors.Is(serr, kerr.ErrClosed) {
				return nil, serr
			}
			return nil, c.wrap(GaveUp(ctx, last))
		}
	}
}

func (c *Coordinator) wrap(err error) error {
	return fmt.Errorf("kafka: find the coordinator of %s %q: %w", c.typ, c.key, err)
}

// Cached returns the cached coordinator, or nil.
func (c *Coordinator) Cached() *Broker {
	id := c.CachedID()
	if id < 0 {
		return nil
	}
	// Resolve the id each time rather than caching the *Broker: the
	// cluster replaces a broker whose address changed and drops one that
	// left the metadata.
	b, err := c.cl.Broker(id)
	if err != nil {
		c.Forget(id)
		return nil
	}
	return b
}

// CachedID is the cached coordinator's node id, -1 if none.
func (c *Coordinator) CachedID() int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id
}

// Forget drops the cached coordinator if it is still id: a lookup that
// finished since the failed request must not be thrown away.
func (c *Coordinator) Forget(id int32) {
	c.mu.Lock()
	if c.id == id {
		c.id = -1
	}
	c.mu.Unlock()
}

// Failed forgets b, the coordinator a request went to, if err (the
// request's failure or the error code of its answer) says the coordinator
// moved, and reports whether it did.
func (c *Coordinator) Failed(b *Broker, err error) bool {
	if b == nil || !CoordinatorMoved(err, c.cl.IsClosing()) {
		return false
	}
	c.Forget(b.ID)
	return true
}

// FindCoordinator sends one FindCoordinator request for key to any broker
// and returns the coordinator's node id, or the error the cluster answered.
func (c *Cluster) FindCoordinator(ctx context.Context, typ CoordinatorType, key string) (int32, error) {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorType = int8(typ)
	// The wire layer picks the version; fill both forms (v0-v3 and v4+)
	// and let the encoder write the one it needs.
	req.CoordinatorKey = key
	req.CoordinatorKeys = []string{key}
	resp, err := c.AnyRequest(ctx, req)
	if err != nil {
		return -1, err
	}
	return parseFindCoordinator(resp.(*kmsg.FindCoordinatorResponse), key)
}

func parseFindCoordinator(resp *kmsg.FindCoordinatorResponse, key string) (int32, error) {
	if resp.Version < 4 {
		if err := kerr.WithMessage(resp.ErrorCode, resp.ErrorMessage); err != nil {
			return -1, err
		}
		return resp.NodeID, nil
	}
	for _, c := range resp.Coordinators {
		if c.Key != key {
			continue
		}
		if err := kerr.WithMessage(c.ErrorCode, c.ErrorMessage); err != nil {
			return -1, err
		}
		return c.NodeID, nil
	}
	return -1, fmt.Errorf("%w: FindCoordinator response does not mention %q", kerr.ErrCorruptResponse, key)
}

// CoordinatorMoved reports whether err, from a request to a coordinator,
// means the coordinator is elsewhere now (or may be), so the cached one must
// be looked up again before the next attempt: NOT_COORDINATOR,
// COORDINATOR_NOT_AVAILABLE, BROKER_NOT_AVAILABLE, REQUEST_TIMED_OUT, a lost
// connection, a request that timed out, or kerr.ErrClosed from a broker that
// left the cluster's metadata. COORDINATOR_LOAD_IN_PROGRESS is not in the
// list (as in Java's clients): the coordinator is the right one, only not
// ready yet.
//
// closing says whether the caller's own client is shutting down: kerr.ErrClosed
// then means that shutdown, not a broker gone, and nothing moved. It is the
// one rule for every user of a coordinator in gokafka (group offsets, the
// Kafka-managed group members, the transactional producer).
func CoordinatorMoved(err error, closing bool) bool {
	return errors.Is(err, kerr.NotCoordinator) ||
		errors.Is(err, kerr.CoordinatorNotAvailable) ||
		errors.Is(err, kerr.BrokerNotAvailable) ||
		errors.Is(err, kerr.RequestTimedOut) ||
		errors.Is(err, kerr.ErrConnection) ||
		errors.Is(err, kerr.ErrRequestTimeout) ||
		(errors.Is(err, kerr.ErrClosed) && !closing)
}

// Retriable reports whether a request that failed with err may succeed if
// sent again: a retriable broker code or a connection failure
// (kerr.IsRetriable), or kerr.ErrClosed from a broker dropped from the
// metadata (it shut down, or moved) while the cluster itself is open, in
// which case the next attempt routes elsewhere.
func (c *Cluster) Retriable(err error) bool {
	if errors.Is(err, kerr.ErrClosed) {
		return !c.IsClosing()
	}
	return kerr.IsRetriable(err)
}

// GaveUp is the error of an operation still failing retriably when ctx
// ended: both the context's error (its cause, if it has one) and the last
// failure stay errors.Is-able.
func GaveUp(ctx context.Context, last error) error {
	cause := context.Cause(ctx)
	if cause == nil {
		cause = ctx.Err()
	}
	if last == nil {
		return cause
	}
	return fmt.Errorf("%w (gave up retrying; last error: %w)", cause, last)
}
