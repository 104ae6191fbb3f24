package offsets

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// GroupOptions configure a Group. The zero value is the default.
type GroupOptions struct {
	// Timeout bounds each Coordinator, Commit and Fetch call whose context
	// has no deadline (a context with a deadline is used as it is). Zero
	// means DefaultTimeout; negative means no bound but the context's.
	Timeout time.Duration
}

// Group stores the offsets of one consumer group: it finds the group's
// coordinator broker and sends it OffsetCommit and OffsetFetch requests.
//
// A Group is safe for concurrent use and owns no goroutine: every method
// works in its caller's goroutine and returns when it is done or its context
// ends. It holds no connection of its own either; requests go over the
// cluster's connection to the coordinator. There is nothing to close.
type Group struct {
	cl   *cluster.Cluster
	id   string
	opts GroupOptions

	// lookup is a one-slot semaphore: one FindCoordinator at a time, so
	// that a hundred commits failing with NOT_COORDINATOR cost one lookup.
	// A channel rather than a mutex so that waiting honours ctx.
	lookup chan struct{}

	mu      sync.Mutex
	coordID int32 // the coordinator's node id; -1 while unknown

	find func(context.Context) (int32, error) // findCoordinator; tests script it
}

// NewGroup returns the offset store of consumer group id. It sends nothing:
// the coordinator is looked up on first use.
//
// An empty id fails with kerr.ErrNoGroup; a nil cluster with
// kerr.ErrInvalidConfig.
func NewGroup(cl *cluster.Cluster, id string, opts GroupOptions) (*Group, error) {
	if cl == nil {
		return nil, kerr.Config("cluster", "nil *cluster.Cluster")
	}
	if id == "" {
		return nil, fmt.Errorf("%w: the consumer group id is empty", kerr.ErrNoGroup)
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	g := &Group{cl: cl, id: id, opts: opts, lookup: make(chan struct{}, 1), coordID: -1}
	g.find = g.findCoordinator
	return g, nil
}

// ID is the consumer group id.
func (g *Group) ID() string { return g.id }

// Coordinator returns the group's coordinator broker. The answer is cached
// until a request to it fails in a way that says it moved (see
// CoordinatorMoved). While the cluster answers COORDINATOR_NOT_AVAILABLE or
// COORDINATOR_LOAD_IN_PROGRESS (a new group's offsets partition is still
// loading, a coordinator is being elected) it retries with backoff until ctx
// ends or GroupOptions.Timeout passes.
func (g *Group) Coordinator(ctx context.Context) (*cluster.Broker, error) {
	ctx, cancel := withTimeout(ctx, g.opts.Timeout)
	defer cancel()
	return g.coordinator(ctx)
}

func (g *Group) coordinator(ctx context.Context) (*cluster.Broker, error) {
	if b := g.cached(); b != nil {
		return b, nil
	}
	select {
	case g.lookup <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("kafka: find the coordinator of group %q: %w", g.id, gaveUp(ctx, nil))
	}
	defer func() { <-g.lookup }()
	var last error
	for attempt := 1; ; attempt++ {
		if b := g.cached(); b != nil { // found by whoever held the slot before us
			return b, nil
		}
		id, err := g.find(ctx)
		if err == nil {
			var b *cluster.Broker
			if b, err = g.cl.Broker(id); err == nil {
				g.mu.Lock()
				g.coordID = id
				g.mu.Unlock()
				return b, nil
			}
			// A coordinator our metadata does not know yet (a broker
			// that just joined): refresh the metadata and ask again.
			g.cl.TriggerRefresh()
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("kafka: find the coordinator of group %q: %w", g.id, gaveUp(ctx, last))
		}
		if !retriable(g.cl, err) {
			return nil, fmt.Errorf("kafka: find the coordinator of group %q: %w", g.id, err)
		}
		last = err
		g.cl.Logger().Debug("offsets: coordinator lookup failed, retrying", "group", g.id, "attempt", attempt, "err", err)
		if serr := sleep(ctx, g.cl, attempt); serr != nil {
			if errors.Is(serr, kerr.ErrClosed) {
				return nil, serr
			}
			return nil, fmt.Errorf("kafka: find the coordinator of group %q: %w", g.id, gaveUp(ctx, last))
		}
	}
}

// cached returns the cached coordinator, or nil.
func (g *Group) cached() *cluster.Broker {
	g.mu.Lock()
	id := g.coordID
	g.mu.Unlock()
	if id < 0 {
		return nil
	}
	// Resolve the id each time rather than caching the *Broker: the
	// cluster replaces a broker whose address changed and drops one that
	// left the metadata.
	b, err := g.cl.Broker(id)
	if err != nil {
		g.forget(id)
		return nil
	}
	return b
}

// forget drops the cached coordinator if it is still id: a lookup that
// finished since the failed request must not be thrown away.
func (g *Group) forget(id int32) {
	g.mu.Lock()
	if g.coordID == id {
		g.coordID = -1
	}
	g.mu.Unlock()
}

// findCoordinator sends one FindCoordinator request (key type group) to any
// broker and returns the coordinator's node id.
func (g *Group) findCoordinator(ctx context.Context) (int32, error) {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorType = 0 // group
	// The wire layer picks the version; fill both forms (v0-v3 and v4+)
	// and let the encoder write the one it needs.
	req.CoordinatorKey = g.id
	req.CoordinatorKeys = []string{g.id}
	resp, err := g.cl.AnyRequest(ctx, req)
	if err != nil {
		return -1, err
	}
	return parseFindCoordinator(resp.(*kmsg.FindCoordinatorResponse), g.id)
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
	return -1, fmt.Errorf("%w: FindCoordinator response does not mention group %q", kerr.ErrCorruptResponse, key)
}

// CoordinatorMoved reports whether err, from a request to a group's
// coordinator, means the coordinator is elsewhere now (or may be), so the
// cached one must be looked up again before the next attempt:
// NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, BROKER_NOT_AVAILABLE,
// REQUEST_TIMED_OUT, a lost connection, a request that timed out, or
// kerr.ErrClosed from a broker that left the cluster's metadata.
// COORDINATOR_LOAD_IN_PROGRESS is not in the list (as in Java's consumer
// coordinator): the coordinator is the right one, only not ready yet.
//
// closing says whether the caller's own client is shutting down: kerr.ErrClosed
// then means that shutdown, not a broker gone, and nothing moved. It is the
// one rule for every user of a group coordinator in gokafka (this package
// and the Kafka-managed group members of balance/managed).
func CoordinatorMoved(err error, closing bool) bool {
	return errors.Is(err, kerr.NotCoordinator) ||
		errors.Is(err, kerr.CoordinatorNotAvailable) ||
		errors.Is(err, kerr.BrokerNotAvailable) ||
		errors.Is(err, kerr.RequestTimedOut) ||
		errors.Is(err, kerr.ErrConnection) ||
		errors.Is(err, kerr.ErrRequestTimeout) ||
		(errors.Is(err, kerr.ErrClosed) && !closing)
}

// moved is CoordinatorMoved for this group's cluster.
func (g *Group) moved(err error) bool { return CoordinatorMoved(err, g.cl.IsClosing()) }

// roundFunc sends one request covering keys to the coordinator and returns
// each key's outcome: nil (done), a retriable error (try again) or any other
// error (final). A request-level failure (no response) is returned as err
// instead. The keys are partitions, except for FetchAll, whose one request
// covers the whole group.
type roundFunc[K comparable] func(ctx context.Context, coord *cluster.Broker, keys []K) (outcome map[K]error, err error)

// settle runs rounds until every key is done or failed for good, retrying
// the retriable ones, alone, with backoff until ctx ends. It returns the
// keys that failed, with why.
func settle[K comparable](ctx context.Context, g *Group, op string, keys []K, round roundFunc[K]) map[K]error {
	pending := keys
	failed := map[K]error{}
	last := map[K]error{} // the last retriable error of each pending key
	for attempt := 1; len(pending) > 0; attempt++ {
		coord, err := g.coordinator(ctx)
		var outcome map[K]error
		if err == nil {
			outcome, err = round(ctx, coord, pending)
			if err != nil && g.moved(err) {
				g.forget(coord.ID)
			}
		}
		if err != nil {
			// No answer at all: every pending key shares the fate.
			outcome = make(map[K]error, len(pending))
			for _, k := range pending {
				outcome[k] = err
			}
		}
		var again []K
		for _, k := range pending {
			perr, ok := outcome[k]
			switch {
			case !ok:
				failed[k] = fmt.Errorf("%w: partition missing from the %s response", kerr.ErrCorruptResponse, op)
			case perr == nil:
				delete(last, k)
			case !retriable(g.cl, perr) && !isContextErr(perr):
				failed[k] = perr
			case ctx.Err() != nil:
				// Out of time: report the broker's reason rather than
				// only "deadline exceeded".
				switch {
				case !isContextErr(perr):
					failed[k] = gaveUp(ctx, perr)
				case last[k] != nil:
					failed[k] = gaveUp(ctx, last[k])
				default:
					failed[k] = perr
				}
			case isContextErr(perr):
				failed[k] = perr // a context of the round's own, not ours
			default:
				if coord != nil && g.moved(perr) {
					g.forget(coord.ID)
				}
				last[k] = perr
				again = append(again, k)
			}
		}
		pending = again
		if len(pending) == 0 {
			break
		}
		g.cl.Logger().Debug("offsets: retrying", "op", op, "group", g.id, "partitions", len(pending), "attempt", attempt)
		if serr := sleep(ctx, g.cl, attempt); serr != nil {
			for _, k := range pending {
				if errors.Is(serr, kerr.ErrClosed) {
					failed[k] = serr
				} else {
					failed[k] = gaveUp(ctx, last[k])
				}
			}
			break
		}
	}
	return failed
}
