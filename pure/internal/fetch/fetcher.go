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
	parts   map[int32]*cursor
	sources map[int32]*source // by broker id; present while running
	brokers map[*cluster.Broker]struct{}
	ready   readyQueue
}

// New returns a fetcher for cfg.Topic. It loads the topic's metadata if the
// client does not have it yet (failing with an error matching
// kerr.ErrUnknownTopic if the topic does not exist) and starts the router
// goroutine; fetch goroutines start with Assign. Close stops them all.
func New(ctx context.Context, cl *cluster.Cluster, cfg engine.FetcherConfig) (engine.Fetcher, error) {
	if cl == nil {
		return nil, kerr.Config("cluster", "nil cluster")
	}
	if err := validate(&cfg); err != nil {
		return nil, err
	}
	if _, err := cl.Snapshot().Topic(cfg.Topic); err != nil {
		if err := cl.RefreshTopics(ctx, cfg.Topic); err != nil {
			return nil, err
		}
		if _, err := cl.Snapshot().Topic(cfg.Topic); err != nil {
			return nil, err
		}
	} else {
		cl.Track(cfg.Topic) // keep it fresh through the periodic refresh
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
		parts:     map[int32]*cursor{},
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
	case cfg.Topic == "":
		return kerr.Config("FetcherConfig.Topic", "empty topic name")
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

// Assign starts fetching partitions at the given offsets; see engine.Fetcher.
// The whole call is refused, changing nothing, if a partition does not exist
// or an offset is negative.
func (f *fetcher) Assign(ctx context.Context, positions []engine.PartitionOffset) error {
	if err := f.checkPartitions(ctx, positions); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return kerr.ErrClosed
	}
	for _, po := range positions {
		c := f.parts[po.Partition]
		if c == nil {
			c = &cursor{p: po.Partition, leaderEpoch: -1}
			f.parts[po.Partition] = c
		}
		c.reset(po.Offset)
		c.assignEpoch = po.Epoch
		if f.routeLocked(c) {
			c.src.wakeup() // to fetch from the new offset
		} else {
			f.signalReroute() // the router keeps looking for a leader
		}
	}
	return nil
}

// checkPartitions validates positions against the topic's metadata,
// refreshing it once if a partition is unknown (partitions may have been
// added since the last refresh).
func (f *fetcher) checkPartitions(ctx context.Context, positions []engine.PartitionOffset) error {
	for _, po := range positions {
		if po.Offset < 0 {
			return fmt.Errorf("%w: %s/%d: cannot fetch from negative offset %d", kerr.ErrOffsetOutOfRange, f.cfg.Topic, po.Partition, po.Offset)
		}
	}
	check := func() error {
		t, err := f.cl.Snapshot().Topic(f.cfg.Topic)
		if err != nil {
			return err
		}
		for _, po := range positions {
			if _, err := t.Partition(po.Partition); err != nil {
				return err
			}
		}
		return nil
	}
	err := check()
	if err == nil || (!errors.Is(err, kerr.ErrUnknownPartition) && !errors.Is(err, kerr.ErrUnknownTopic)) {
		return err
	}
	if err := f.cl.RefreshTopics(ctx, f.cfg.Topic); err != nil {
		return err
	}
	return check()
}

// Unassign stops fetching partitions and drops what was queued for them.
// Partitions not assigned are ignored.
func (f *fetcher) Unassign(ctx context.Context, partitions []int32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return kerr.ErrClosed
	}
	for _, p := range partitions {
		c := f.parts[p]
		if c == nil {
			continue
		}
		delete(f.parts, p)
		c.reset(-1) // new generation: results in flight are dropped
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
		fe, ok := f.popLocked()
		more := f.ready.len() > 0
		f.mu.Unlock()
		if ok {
			if more {
				f.signalReady() // another Poll caller may be waiting
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
func (f *fetcher) popLocked() (engine.Fetch, bool) {
	for {
		c := f.ready.pop()
		if c == nil {
			return engine.Fetch{}, false
		}
		c.queued = false
		if len(c.fetches) == 0 {
			continue // dropped by Assign or Unassign since it was queued
		}
		wasFull := !c.fetchable(f.cfg.QueuedMaxMessages)
		fe := c.fetches[0]
		c.fetches[0] = engine.Fetch{}
		c.fetches = c.fetches[1:]
		c.buffered -= len(fe.Messages)
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
func (f *fetcher) enqueueLocked(c *cursor, fe engine.Fetch) {
	fe.Epoch = c.assignEpoch
	c.fetches = append(c.fetches, fe)
	c.buffered += len(fe.Messages)
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
		c.reset(-1)
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
