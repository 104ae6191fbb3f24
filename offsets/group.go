package offsets

import (
	"context"
	"fmt"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
)

// GroupOptions configure a Group. The zero value is the default.
type GroupOptions struct {
	// Timeout bounds each Coordinator, Commit and Fetch call whose context
	// has no deadline (a context with a deadline is used as it is). Zero
	// means DefaultTimeout; negative means no bound but the context's.
	Timeout time.Duration
	// OnCommit, when set, is called at the end of every Commit (and of
	// every commit of an AutoCommitter) that sent something: the offsets
	// sent, those that failed with why (empty: all committed), and how
	// long it took. It runs on the committing goroutine.
	OnCommit func(sent map[TopicPartition]Commit, failed map[TopicPartition]error, took time.Duration)
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

	// coord finds and caches the coordinator (one lookup at a time, so
	// that a hundred commits failing with NOT_COORDINATOR cost one).
	coord *cluster.Coordinator
}

// NewGroup returns the offset store of consumer group id. It sends nothing:
// the coordinator is looked up on first use.
//
// An empty id fails with kerr.ErrNoGroup; a nil cluster with
// kerr.ErrInvalidConfig.
func NewGroup(c Cluster, id string, opts GroupOptions) (*Group, error) {
	cl, err := cluster.From(c)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, fmt.Errorf("%w: the consumer group id is empty", kerr.ErrNoGroup)
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	return &Group{cl: cl, id: id, opts: opts, coord: cluster.NewCoordinator(cl, cluster.GroupCoordinator, id)}, nil
}

// ID is the consumer group id.
func (g *Group) ID() string { return g.id }

// Coordinator returns the node id of the group's coordinator broker (as
// Kafka's tools and kafka.Client.Brokers name brokers). The answer is cached
// until a request to it fails in a way that says it moved (see
// CoordinatorMoved). While the cluster answers COORDINATOR_NOT_AVAILABLE or
// COORDINATOR_LOAD_IN_PROGRESS (a new group's offsets partition is still
// loading, a coordinator is being elected) it retries with backoff until ctx
// ends or GroupOptions.Timeout passes.
func (g *Group) Coordinator(ctx context.Context) (int32, error) {
	ctx, cancel := withTimeout(ctx, g.opts.Timeout)
	defer cancel()
	b, err := g.coordinator(ctx)
	if err != nil {
		return -1, err
	}
	return b.ID, nil
}

// coordinator is the lookup of cluster.Coordinator (the one home of its
// rules), within the caller's bounds.
func (g *Group) coordinator(ctx context.Context) (*cluster.Broker, error) {
	return g.coord.Broker(ctx)
}

// cached returns the cached coordinator, or nil.
func (g *Group) cached() *cluster.Broker { return g.coord.Cached() }

// forget drops the cached coordinator if it is still id.
func (g *Group) forget(id int32) { g.coord.Forget(id) }

// findCoordinator sends one FindCoordinator request (key type group) to any
// broker and returns the coordinator's node id.
func (g *Group) findCoordinator(ctx context.Context) (int32, error) {
	return g.cl.FindCoordinator(ctx, cluster.GroupCoordinator, g.id)
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
// then means that shutdown, not a broker gone, and nothing moved. The rule
// itself lives in the cluster layer, for every coordinator (groups and
// transactional ids alike).
func CoordinatorMoved(err error, closing bool) bool { return cluster.CoordinatorMoved(err, closing) }

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
		g.cl.Logger().Debug("offsets: retrying", "op", op, "group", g.id, "partitions", len(pending), "attempt", attempt, "err", last[pending[0]])
		if serr := g.cl.Sleep(ctx, g.cl.BackoffAfter(last[pending[0]], attempt)); serr != nil {
			failWaiting(ctx, serr, pending, last, failed)
			break
		}
	}
	return failed
}
