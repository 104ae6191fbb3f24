package fetch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
)

// fetcher implements engine.Fetcher. Its mutex guards the cursor table, the
// sources and the ready queue; sources and Poll hold it only briefly, never
// while decoding or waiting on the network.
type fetcher struct {
	cl   *cluster.Cluster
	cfg  engine.FetcherConfig
	lane string // "fetch-<random>": this fetcher's own connection per broker
	log  *slog.Logger

	ctx    context.Context // canceled by Close; every goroutine and request uses it
	cancel context.CancelFunc
	wg     sync.WaitGroup // sources and the router

	// readyCh has room for one signal, sent when a fetch is queued: Poll
	// waits on it. Signals coalesce, so Poll re-signals when it leaves
	// fetches behind for another caller.
	readyCh chan struct{}
	// rerouteCh wakes the router when a cursor needs routing outside a
	// metadata update (Assign of a partition without a known leader).
	rerouteCh chan struct{}

	mu      sync.Mutex
	closed  bool
	parts   map[engine.TopicPartition]*cursor
	sources map[int32]*source // by broker id; present while running
	brokers map[*cluster.Broker]struct{}
	ready   readyQueue

	// The byte budget (cfg.QueuedMaxBytes; budget.go): what the fetches
	// queued for Poll hold, and the rounds between the stages (requests
	// in flight, at their MaxBytes; answers scanned and not yet queued). stalled: a source found the budget spent and waits for
	// Poll to free half of it.
	queuedBytes int64
	roundBytes  int64
	stalled     bool
}

// New returns a fetcher, of no partition yet, and starts its router
// goroutine; fetch goroutines start with Assign. Close stops them all.
func New(ctx context.Context, cl *cluster.Cluster, cfg engine.FetcherConfig) (engine.Fetcher, error) {
	if cl == nil {
		return nil, kerr.Config("cluster", "nil cluster")
	}
	if err := validate(&cfg); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = cl.Logger()
	}
	f := &fetcher{
		cl:        cl,
		cfg:       cfg,
		lane:      "fetch-" + strconv.FormatUint(rand.Uint64(), 36),
		log:       log,
		readyCh:   make(chan struct{}, 1),
		rerouteCh: make(chan struct{}, 1),
		parts:     map[engine.TopicPartition]*cursor{},
		sources:   map[int32]*source{},
		brokers:   map[*cluster.Broker]struct{}{},
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.wg.Add(1)
	go f.route()
	return f, nil
}

// validate checks the fields this package relies on. The root applies
// defaults; zero values that have an obvious meaning are accepted.
func validate(cfg *engine.FetcherConfig) error {
	switch {
	case cfg.MaxBytes <= 0:
		return kerr.Config("FetcherConfig.MaxBytes", "must be positive, got %d", cfg.MaxBytes)
	case cfg.PartitionMaxBytes <= 0:
		return kerr.Config("FetcherConfig.PartitionMaxBytes", "must be positive, got %d", cfg.PartitionMaxBytes)
	case cfg.QueuedMaxMessages <= 0:
		return kerr.Config("FetcherConfig.QueuedMaxMessages", "must be positive, got %d", cfg.QueuedMaxMessages)
	case cfg.MinBytes < 0:
		return kerr.Config("FetcherConfig.MinBytes", "must not be negative, got %d", cfg.MinBytes)
	case cfg.MaxWait < 0:
		return kerr.Config("FetcherConfig.MaxWait", "must not be negative, got %v", cfg.MaxWait)
	case cfg.Isolation != engine.ReadUncommitted && cfg.Isolation != engine.ReadCommitted:
		return kerr.Config("FetcherConfig.Isolation", "unknown isolation level %d", cfg.Isolation)
	}
	return nil
}

// Assign starts fetching partitions, of any topics, at the given offsets;
// see engine.Fetcher. The whole call is refused, changing nothing, if a
// topic or partition does not exist or an offset is negative.
func (f *fetcher) Assign(ctx context.Context, positions []engine.Position) error {
	snap, err := f.checkPositions(ctx, positions)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return kerr.ErrClosed
	}
	now := f.cl.Snapshot() // routes by the newest leaders, which may be newer than snap
	for _, po := range positions {
		c := f.parts[po.TopicPartition]
		if c == nil {
			c = &cursor{tp: po.TopicPartition, leaderEpoch: -1}
			f.parts[po.TopicPartition] = c
		}
		f.resetLocked(c, po.Offset)
		c.assignEpoch = po.Epoch
		if t := snap.Topics[po.Topic]; t != nil { // present: checked
			c.topicID = t.ID
		}
		if f.routeLocked(c, now) {
			c.src.wakeup() // to fetch from the new offset
		} else {
			f.signalReroute() // the router keeps looking for a leader
		}
	}
	return nil
}

// checkPositions validates positions against the metadata and returns the
// snapshot that knows every one of them. Topics that the client's metadata
// does not know, or whose partition it does not know (partitions may have
// been added since the last refresh), are refreshed once; every topic is
// tracked, so that periodic refreshes keep its leaders current while it is
// assigned.
func (f *fetcher) checkPositions(ctx context.Context, positions []engine.Position) (*cluster.Snapshot, error) {
	for _, po := range positions {
		if po.Topic == "" {
			return nil, fmt.Errorf("%w: %w: empty name (partition %d)", kerr.ErrUnknownTopic, kerr.ErrInvalidTopic, po.Partition)
		}
		if po.Offset < 0 {
			return nil, fmt.Errorf("%w: %s: cannot fetch from negative offset %d", kerr.ErrOffsetOutOfRange, po.TopicPartition, po.Offset)
		}
	}
	snap := f.cl.Snapshot()
	topics := map[string]bool{}
	err := checkIn(snap, positions, topics)
	if err != nil && (errors.Is(err, kerr.ErrUnknownTopic) || errors.Is(err, kerr.ErrUnknownPartition)) {
		var stale []string
		for t, unknown := range topics {
			if unknown {
				stale = append(stale, t)
			}
		}
		if err := f.cl.RefreshTopics(ctx, stale...); err != nil {
			return nil, err
		}
		snap = f.cl.Snapshot()
		err = checkIn(snap, positions, topics)
	}
	if err != nil {
		return nil, err
	}
	for t := range topics {
		f.cl.Track(t)
	}
	return snap, nil
}

// checkIn checks positions against snap. It records each topic in topics,
// true if snap does not know it or one of its partitions asked for, and
// returns the first such error; any other error (an authorization failure,
// which no refresh changes) it returns at once.
func checkIn(snap *cluster.Snapshot, positions []engine.Position, topics map[string]bool) error {
	clear(topics)
	var first error
	for _, po := range positions {
		if topics[po.Topic] {
			continue // unknown already
		}
		t, err := snap.Topic(po.Topic)
		if err == nil {
			_, err = t.Partition(po.Partition)
		}
		switch {
		case err == nil:
			topics[po.Topic] = false
		case errors.Is(err, kerr.ErrUnknownTopic) || errors.Is(err, kerr.ErrUnknownPartition):
			topics[po.Topic] = true
			if first == nil {
				first = err
			}
		default:
			return err
		}
	}
	return first
}

// Unassign stops fetching partitions and drops what was queued for them.
// Partitions not assigned are ignored.
func (f *fetcher) Unassign(ctx context.Context, partitions []engine.TopicPartition) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return kerr.ErrClosed
	}
	for _, tp := range partitions {
		c := f.parts[tp]
		if c == nil {
			continue
		}
		delete(f.parts, tp)
		f.resetLocked(c, -1) // new generation: results in flight are dropped
		c.removed = true
		if c.src != nil {
			c.src.remove(c)
			c.src.wakeup() // so that it can stop if it has nothing left
			c.src = nil
		}
	}
	return nil
}

// Poll returns the next queued fetch, taking partitions in turn. It
// blocks until one is queued, ctx ends, or the fetcher (or the client's
// cluster) is closed, which returns kerr.ErrClosed.
func (f *fetcher) Poll(ctx context.Context) (engine.Fetch, error) {
	for {
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			return engine.Fetch{}, kerr.ErrClosed
		}
		q, ok := f.popLocked()
		more := f.ready.len() > 0
		f.mu.Unlock()
		if ok {
			if more {
				f.signalReady() // another Poll caller may be waiting
			}
			fe := q.Fetch
			if q.recs != nil {
				fe.Messages = q.recs.messages(fe.Topic, fe.Partition)
				q.recs.release()
			}
			return fe, nil
		}
		select {
		case <-f.readyCh:
		case <-ctx.Done():
			return engine.Fetch{}, ctx.Err()
		case <-f.ctx.Done():
		case <-f.cl.Closing():
			// The client closed under us: nothing will come.
			return engine.Fetch{}, kerr.ErrClosed
		}
	}
}

// popLocked takes the oldest fetch of the partition at the head of the
// ready queue and puts the partition back at the tail if it has more.
func (f *fetcher) popLocked() (queuedFetch, bool) {
	for {
		c := f.ready.pop()
		if c == nil {
			return queuedFetch{}, false
		}
		c.queued = false
		if len(c.fetches) == 0 {
			continue // dropped by Assign or Unassign since it was queued
		}
		wasFull := !c.fetchable(f.cfg.QueuedMaxMessages)
		fe := c.fetches[0]
		c.fetches[0] = queuedFetch{}
		c.fetches = c.fetches[1:]
		c.buffered -= fe.count()
		f.unqueueChargeLocked(c)
		if len(c.fetches) > 0 {
			c.queued = true
			f.ready.push(c)
		} else {
			c.fetches = c.fetches[:0:0] // let the backing array go
		}
		if wasFull && c.src != nil && c.fetchable(f.cfg.QueuedMaxMessages) {
			c.src.wakeup() // it left this partition out; room again
		}
		return fe, true
	}
}

// enqueueLocked appends a fetch to c's queue, stamped with the Assign's
// epoch, and c to the ready queue.
func (f *fetcher) enqueueLocked(c *cursor, fe engine.Fetch, recs *packed, ch fetchCharge) {
	fe.Epoch = c.assignEpoch
	q := queuedFetch{Fetch: fe, recs: recs}
	c.fetches = append(c.fetches, q)
	f.queueChargeLocked(c, ch)
	c.buffered += q.count()
	if !c.queued {
		c.queued = true
		f.ready.push(c)
	}
}

func (f *fetcher) signalReady() {
	select {
	case f.readyCh <- struct{}{}:
	default:
	}
}

// Close stops every goroutine, waits for them, and closes this fetcher's
// connections. Queued fetches are dropped. Idempotent.
func (f *fetcher) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	for _, c := range f.parts {
		f.resetLocked(c, -1)
	}
	f.mu.Unlock()
	f.cancel()
	f.wg.Wait()
	// No goroutine of ours runs now, so f.brokers is final.
	for b := range f.brokers {
		b.CloseLane(f.lane)
	}
	return nil
}

// readyQueue is a FIFO of cursors with queued fetches.
type readyQueue struct {
	q    []*cursor
	head int
}

func (r *readyQueue) len() int { return len(r.q) - r.head }

func (r *readyQueue) push(c *cursor) { r.q = append(r.q, c) }

func (r *readyQueue) pop() *cursor {
	if r.head == len(r.q) {
		return nil
	}
	c := r.q[r.head]
	r.q[r.head] = nil
	r.head++
	if r.head == len(r.q) {
		r.q, r.head = r.q[:0], 0
	} else if r.head >= 64 && r.head*2 >= len(r.q) {
		n := copy(r.q, r.q[r.head:])
		clear(r.q[n:])
		r.q, r.head = r.q[:n], 0
	}
	return c
}
