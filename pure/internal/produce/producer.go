package produce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/records"
)

// Producer is the pure-Go engine.Producer: one producer for any number of
// topics, with one producer ID and one sink per broker for all of them. Safe
// for concurrent use. See the package documentation for its goroutines.
type Producer struct {
	cl  *cluster.Cluster
	cfg engine.ProducerConfig
	log *slog.Logger

	// ctx is cancelled when the producer stops: every goroutine watches
	// it, and requests in flight are abandoned.
	ctx    context.Context
	cancel context.CancelFunc

	// topics holds the partition buffers, by topic (see topics.go);
	// copy on write, so that Produce finds a buffer without a lock.
	topics atomic.Pointer[map[string]*topic]
	recent recentTopics // a cache in front of topics
	q      *engine.Queue
	qb     *byteBudget // MaxQueuedBytes; nil without (budget.go)

	closed   atomic.Bool   // Close began: Produce refuses
	closedCh chan struct{} // closed when Close begins
	flushing atomic.Int32  // Flush calls in progress: linger is ignored

	mu          sync.Mutex        // guards the fields below, and serializes writers of topics
	unpublished map[string]*topic // topics not yet in the map of topics
	misses      int               // lookups since the last publish that found a topic in unpublished only
	all         []*partition      // every partition buffer, of every topic; append-only
	sinks       map[int32]*sink
	homeless    []*partition
	stopping    bool // no more goroutines may start
	wg          sync.WaitGroup

	routing    atomic.Bool   // the router goroutine runs
	routerWake chan struct{} // capacity 1

	flushMu sync.Mutex
	flushCh chan struct{} // closed and replaced when a batch is reported during a Flush

	pidMu  sync.Mutex
	pid    atomic.Pointer[producerID] // nil: none yet, or reset
	pidGen uint64                     // guarded by pidMu

	free     freeList  // reported batches kept for reuse
	batches  sync.Pool // *batch, beyond the free list's budget
	requests sync.Pool // *request

	closeOnce sync.Once
	closeErr  error

	// tx is the transaction state of a transactional producer (nil
	// otherwise): see txn.go. The non-transactional paths test it once.
	tx *txn
}

// New returns a producer on cl for any topic. It does no network round
// trip: a topic's metadata is tracked from its first message on, and the
// producer ID (idempotence) and broker connections are loaded when the
// first messages are sent.
//
// Goroutines, all started on demand and stopped by Close: a sink per
// broker leading partitions that have messages (it exits after a while
// idle), a sender per Produce request in flight (it sends the next ready
// request itself, and reports on a short-lived goroutine meanwhile), and a
// router while some partition is looking for its leader.
//
// With cfg.TransactionalID set, New returns a *TxnProducer (an
// engine.TxnProducer); it too sends nothing until its first BeginTxn.
func New(ctx context.Context, cl *cluster.Cluster, cfg engine.ProducerConfig) (engine.Producer, error) {
	if err := check(&cfg); err != nil {
		return nil, err
	}
	p := &Producer{
		cl:         cl,
		cfg:        cfg,
		log:        cfg.Logger,
		q:          engine.NewQueue(cfg.MaxQueued),
		closedCh:   make(chan struct{}),
		sinks:      map[int32]*sink{},
		routerWake: make(chan struct{}, 1),
		flushCh:    make(chan struct{}),
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxQueuedBytes > 0 {
		p.qb = newByteBudget(cfg.MaxQueuedBytes)
	}
	p.free.budget = max(freeBudgetMin, freeBudgetBatches*cfg.BatchBytes)
	p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	p.topics.Store(&map[string]*topic{})
	if cfg.TransactionalID != "" {
		p.tx = newTxn(p)
		return &TxnProducer{p}, nil
	}
	return p, nil
}

// The free list's budget: buffer bytes of this many full batches (each
// holds its records, framed where they were encoded; a compressed one also
// its compressed copy, inside its builder and not counted), at least
// freeBudgetMin.
const (
	freeBudgetBatches = 8
	freeBudgetMin     = 4 << 20
)

// check validates what the root is meant to have validated, so that a
// mistake there is an error here rather than a hang.
func check(cfg *engine.ProducerConfig) error {
	switch {
	case cfg.Acks != engine.RequireNone && cfg.Acks != engine.RequireLeader && cfg.Acks != engine.RequireAll:
		return kerr.Config("ProducerConfig.Acks", "unknown value %d", cfg.Acks)
	case cfg.Idempotent && cfg.Acks != engine.RequireAll:
		return kerr.Config("ProducerConfig.Acks", "idempotence needs acks=all")
	case !cfg.Compression.Valid():
		return kerr.Config("ProducerConfig.Compression", "unknown codec %d", cfg.Compression)
	case cfg.Linger < 0:
		return kerr.Config("ProducerConfig.Linger", "negative")
	case cfg.BatchBytes < records.HeaderSize+1:
		return kerr.Config("ProducerConfig.BatchBytes", "%d is too small", cfg.BatchBytes)
	case cfg.MaxMessageBytes <= 0:
		return kerr.Config("ProducerConfig.MaxMessageBytes", "must be positive")
	case cfg.MaxQueued <= 0:
		return kerr.Config("ProducerConfig.MaxQueued", "must be positive")
	case cfg.MaxInFlight <= 0:
		return kerr.Config("ProducerConfig.MaxInFlight", "must be positive")
	case cfg.DeliveryTimeout <= 0:
		return kerr.Config("ProducerConfig.DeliveryTimeout", "must be positive")
	case cfg.RequestTimeout <= 0 || cfg.RequestTimeout/time.Millisecond > 1<<31-1:
		return kerr.Config("ProducerConfig.RequestTimeout", "must be positive and fit in int32 milliseconds")
	case cfg.RetryBackoff <= 0:
		return kerr.Config("ProducerConfig.RetryBackoff", "must be positive")
	case cfg.TransactionalID != "" && !cfg.Idempotent:
		return kerr.Config("ProducerConfig.Idempotent", "a transactional producer is idempotent")
	case cfg.TransactionalID != "" && (cfg.TransactionTimeout <= 0 || cfg.TransactionTimeout/time.Millisecond > 1<<31-1):
		return kerr.Config("ProducerConfig.TransactionTimeout", "must be positive and fit in int32 milliseconds")
	}
	return nil
}

// Produce implements engine.Producer: it encodes m into the open batch of
// its topic and partition. It blocks only while the queue is full. The root
// has checked m and stamped its timestamp (see engine.Producer).
func (p *Producer) Produce(ctx context.Context, m *engine.Message, done engine.DoneFunc) error {
	if p.closed.Load() {
		return refused(m, kerr.ErrClosed)
	}
	if p.tx != nil {
		if err := p.tx.produceErr(); err != nil {
			return refused(m, err)
		}
	}
	pt, err := p.partition(m.Topic, m.Partition)
	if err != nil {
		return err
	}
	size := engine.SizeBound(m)
	if err := p.q.Acquire(ctx, p.cfg.FailWhenFull, p.closedCh); err != nil {
		return refused(m, err)
	}
	if p.qb != nil {
		if err := p.qb.acquire(ctx, int64(size), p.cfg.FailWhenFull, p.closedCh); err != nil {
			p.q.Release(1)
			return refused(m, err)
		}
	}

	pt.mu.Lock()
	if p.closed.Load() {
		pt.mu.Unlock()
		p.release(1, size)
		return refused(m, kerr.ErrClosed)
	}
	if p.tx != nil {
		// Checked again under the partition's lock, which EndTxn and
		// the failure paths take after changing the state: a message
		// either joins the transaction before they look, or is
		// refused.
		if err := p.tx.produceErr(); err != nil {
			pt.mu.Unlock()
			p.release(1, size)
			return refused(m, err)
		}
		p.tx.joinLocked(pt)
	}
	wake := p.appendLocked(pt, m, done, size)
	s := pt.sink
	pt.mu.Unlock()
	if wake && s != nil {
		s.wake()
	}
	return nil
}

// release gives back the queue slots and budget bytes of n messages of
// size bytes (engine.SizeBound) in all.
func (p *Producer) release(n, size int) {
	p.q.Release(n)
	if p.qb != nil {
		p.qb.release(int64(size))
	}
}

// refused is the error of a Produce that did not accept m: err, naming the
// message's topic and partition.
func refused(m *engine.Message, err error) error {
	return fmt.Errorf("kafka: producing to %s/%d: %w", m.Topic, m.Partition, err)
}

// spawn starts f on a goroutine that Close waits for, unless the producer
// is stopping. f must call p.wg.Done.
func (p *Producer) spawn(f func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping {
		return false
	}
	p.wg.Add(1)
	go f()
	return true
}

// Flush implements engine.Producer.
func (p *Producer) Flush(ctx context.Context) error {
	if p.closed.Load() {
		return kerr.ErrClosed
	}
	return p.flush(ctx)
}

func (p *Producer) flush(ctx context.Context) error {
	p.flushing.Add(1)
	defer p.flushing.Add(-1)
	ps := p.partitions()
	targets := make([]uint64, len(ps))
	for i, pt := range ps {
		pt.mu.Lock()
		targets[i] = pt.produced
		pt.mu.Unlock()
	}
	p.wakeSinks()
	for {
		p.flushMu.Lock()
		ch := p.flushCh
		p.flushMu.Unlock()
		done := true
		for i, pt := range ps {
			pt.mu.Lock()
			behind := pt.finished < targets[i]
			pt.mu.Unlock()
			if behind {
				done = false
				break
			}
		}
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// notifyFlush wakes the Flush calls in progress: a batch was reported.
func (p *Producer) notifyFlush() {
	p.flushMu.Lock()
	close(p.flushCh)
	p.flushCh = make(chan struct{})
	p.flushMu.Unlock()
}

// wakeSinks makes every sink look at its partitions (Flush: lingering
// batches are ready now).
func (p *Producer) wakeSinks() {
	p.mu.Lock()
	sinks := make([]*sink, 0, len(p.sinks))
	for _, s := range p.sinks {
		sinks = append(sinks, s)
	}
	p.mu.Unlock()
	for _, s := range sinks {
		s.wake()
	}
}

// Close implements engine.Producer: it refuses new messages, flushes until
// ctx ends, then stops every goroutine and fails what is left with
// kerr.ErrClosed. The second and later calls return the first's result.
func (p *Producer) Close(ctx context.Context) error {
	p.closeOnce.Do(func() { p.closeErr = p.close(ctx) })
	return p.closeErr
}

func (p *Producer) close(ctx context.Context) error {
	p.closed.Store(true)
	close(p.closedCh)
	// After this barrier no Produce can append: each checks closed
	// under its partition's lock.
	for _, pt := range p.partitions() {
		pt.mu.Lock()
		//lint:ignore SA2001 the empty section is the barrier
		pt.mu.Unlock()
	}
	var txErr error
	if p.tx != nil {
		// An open transaction is aborted, not flushed: what it has
		// not sent fails, and nothing of it becomes visible.
		txErr = p.tx.closeAbort(ctx)
	}
	err := p.flush(ctx)

	p.mu.Lock()
	p.stopping = true
	ps := p.all
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()

	// Nothing runs any more: fail what is left, in order.
	failed := 0
	for _, pt := range ps {
		pt.mu.Lock()
		rep := false
		for len(pt.batches) > 0 {
			b := pt.batches[0]
			failed += len(b.msgs)
			rep = pt.completeLocked(b, fmt.Errorf("%w: %s/%d: producer closed before the message was delivered", kerr.ErrClosed, pt.topic, pt.id), -1, -1) || rep
		}
		pt.inflight = false
		pt.mu.Unlock()
		if rep {
			p.report(pt)
		}
	}
	if err != nil {
		err = fmt.Errorf("%w: %d message(s) not delivered when the close context ended: %w", kerr.ErrClosed, failed, err)
	}
	return errors.Join(txErr, err)
}
