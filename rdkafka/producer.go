//go:build cgo && !nordkafka

package rdkafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/records"
)

// Headers cross between gokafka and confluent-kafka-go without a copy: the
// two Header types have identical fields, which this conversion checks at
// compile time (a struct conversion needs identical underlying types, hence
// identical layout), so a slice of one can be viewed as a slice of the other.
var _ = kafka.Header(records.Header{})

func toKafkaHeaders(hs []records.Header) []kafka.Header {
	if len(hs) == 0 {
		return nil
	}
	return unsafe.Slice((*kafka.Header)(unsafe.Pointer(unsafe.SliceData(hs))), len(hs))
}

// flushSlice bounds one call into librdkafka's flush, which cannot watch a
// context: the flusher goroutine notices Close within about this long.
const flushSlice = 50 * time.Millisecond

// producer is an engine.Producer on a librdkafka instance that serves
// every topic the producer writes to (librdkafka keeps a topic handle per
// topic it has seen): the engine's own instance, shared with the client's
// other producers of the same properties (cpath.go), or, for a
// transactional or OAUTHBEARER producer, a confluent-kafka-go Producer of
// its own.
//
// Actors: librdkafka's own threads batch and send; on confluent-kafka-go's
// path its poller goroutine turns librdkafka's delivery reports into events
// on a channel and our events goroutine reads that channel and calls each
// message's DoneFunc (on the own path, the shared instance's events
// goroutine does both), and forwards librdkafka's logs to the slog.Logger;
// our flusher goroutine runs librdkafka's flush while a Flush waits. Close
// stops them all (the shared instance's goroutine with its last producer).
type producer struct {
	cfg engine.ProducerConfig
	// Exactly one of rd and shared is set: rd, confluent-kafka-go's
	// producer, for a transactional one (txn.go) or one that needs its
	// events (ownInstance); shared, the engine's own instance (cpath.go),
	// otherwise.
	rd     *kafka.Producer
	shared *sharedInstance // the own path's instance, shared by the client's producers of its kind
	inside sync.RWMutex    // the own path: read-held by Produce calls handing over (cpath.go)
	log    *slog.Logger
	txn    bool // transactional (cfg.TransactionalID): errors get their transaction meaning

	// queue counts the messages accepted and not yet reported
	// (MaxQueued). A message holds its slot for the whole time its
	// Produce call is inside librdkafka, which is what lets Close wait
	// for an empty queue before destroying the librdkafka handle.
	queue   *engine.Queue
	gens    *generations
	closed  atomic.Bool   // set when Close starts: Produce refuses
	closing chan struct{} // closed when Close starts: blocked Produce calls give up

	flushers    atomic.Int32  // Flush calls waiting
	kick        chan struct{} // wakes the flusher goroutine (capacity 1)
	stopFlusher chan struct{}
	flusherDone sync.WaitGroup

	wg        sync.WaitGroup // confluent-kafka-go's path: the events goroutine
	warmDone  sync.WaitGroup // the warmPID goroutine (pidwarm.go), if any
	auth      authWatch      // the last authentication failure (security.go)
	closeOnce sync.Once
	closeErr  error
}

func newProducer(cl *cluster.Cluster, cfg engine.ProducerConfig) (*producer, error) {
	if cfg.MaxQueued <= 0 || cfg.MaxMessageBytes <= 0 {
		return nil, kerr.Config("ProducerConfig", "MaxQueued and MaxMessageBytes must be positive (defaults not applied?)")
	}
	pp, err := producerProps(cl, cfg)
	if err != nil {
		return nil, err
	}
	p := &producer{
		cfg:         cfg,
		log:         logger(cfg.Logger, "producer"),
		txn:         cfg.TransactionalID != "",
		queue:       engine.NewQueue(cfg.MaxQueued),
		gens:        newGenerations(),
		closing:     make(chan struct{}),
		kick:        make(chan struct{}, 1),
		stopFlusher: make(chan struct{}),
	}
	warm := cfg.Idempotent && cfg.TransactionalID == "" && !testNoWarmPID
	if ownInstance(cfg, pp.m) {
		var created bool
		if p.shared, created, err = attach(cl, pp.m, p); err != nil {
			return nil, pp.configError(err, producerRaw)
		}
		warm = warm && created // the instance's first producer asks for its id
	} else {
		if p.rd, err = kafka.NewProducer(&pp.m); err != nil {
			return nil, pp.configError(err, producerRaw)
		}
		p.wg.Add(1)
		go p.events()
	}
	p.flusherDone.Add(1)
	go p.flusher()
	if warm {
		p.warmDone.Add(1)
		go p.warmPID()
	}
	return p, nil
}

// Produce implements engine.Producer. The root has checked m (size
// included) and stamped its timestamp; what is left here is the queue slot
// and the hand-over to librdkafka.
func (p *producer) Produce(ctx context.Context, m *engine.Message, done engine.DoneFunc) error {
	if err := p.queue.Acquire(ctx, p.cfg.FailWhenFull, p.closing); err != nil {
		if p.closed.Load() {
			return kerr.ErrClosed // not ErrQueueFull: the queue will not drain for it
		}
		return err
	}
	// Checked after taking the slot: Close sets closed, then waits for
	// the queue to drain, so either Close sees this slot or this call
	// sees closed. From here the message holds a slot, so Close waits for
	// this call.
	if p.closed.Load() {
		p.queue.Release(1)
		return kerr.ErrClosed
	}
	if p.shared != nil {
		return p.cProduce(m, done)
	}
	r := &record{m: m, done: done, gen: p.gens.enter()}
	km := kafka.Message{
		// The root chose the topic and the partition (its partitioner
		// is the same for both engines), so librdkafka's partitioner is
		// never used. confluent-kafka-go reads the topic name through
		// a *string during this call only (to find its cached topic
		// handle): pointing into m costs no allocation and no lookup,
		// whichever topic m is for, and m outlives the call.
		TopicPartition: kafka.TopicPartition{Topic: &m.Topic, Partition: m.Partition},
		Key:            m.Key,
		Value:          m.Value,
		Headers:        toKafkaHeaders(m.Headers),
		Timestamp:      m.Timestamp,
		Opaque:         r,
	}
	for {
		err := p.rd.Produce(&km, nil)
		if err == nil {
			// r now belongs to the delivery report: do not touch it.
			return nil
		}
		if errors.Is(mapError(err), kerr.ErrQueueFull) && !p.cfg.FailWhenFull {
			// librdkafka's own queue is full (queue.buffering.max.kbytes,
			// or a raw override): wait for deliveries and try again.
			if err = p.waitRoom(ctx); err == nil {
				continue
			}
		} else {
			err = fmt.Errorf("rdkafka: producing to %s/%d: %w", m.Topic, m.Partition, p.produceError(err))
		}
		p.queue.Release(1)
		r.gen.exit(1)
		return err
	}
}

// waitRoom waits until a delivery frees room in librdkafka's queue (or a
// short while, since librdkafka's bound is not the engine's count), ctx
// ends or Close starts.
func (p *producer) waitRoom(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	err := p.queue.WaitBelow(wctx, int64(p.queue.Len()), p.closing)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, kerr.ErrClosed):
		return err
	}
	return nil // the short wait ended: look again
}

// maxSettle bounds how many reports the events goroutine delivers before it
// gives their slots and generation counts back (see settled).
const maxSettle = 256

// events is the goroutine that reports deliveries and forwards logs. It
// ends when confluent-kafka-go closes both channels (in rd.Close).
func (p *producer) events() {
	defer p.wg.Done()
	var s settled
	defer s.settle()
	evs, logs := p.rd.Events(), p.rd.Logs()
	for evs != nil || logs != nil {
		// Take what is already there with plain receives (cheaper
		// than a select), then give the slots back: before waiting,
		// and at least every maxSettle reports, because a blocked
		// Produce or a Flush waits for them.
		for n := 0; n < maxSettle && len(evs) > 0; n++ {
			p.event(<-evs, &s) // this goroutine alone receives: it cannot block
		}
		s.settle()
		select {
		case ev, ok := <-evs:
			if !ok {
				evs = nil
				continue
			}
			p.event(ev, &s)
		case le, ok := <-logs:
			if !ok {
				logs = nil
				continue
			}
			forwardLog(p.log, le)
		}
	}
}

// event handles one event from confluent-kafka-go.
func (p *producer) event(ev kafka.Event, s *settled) {
	switch e := ev.(type) {
	case *kafka.Message:
		p.deliver(e, s)
	case kafka.Error:
		p.clientError(e)
	case *kafka.Stats:
		p.windows(e.String()) // only when cfg.Windows is set (windows.go)
	}
}

// clientError handles a client-level error (brokers down, ...): librdkafka
// retries on its own; messages fail through their delivery reports if it
// gives up.
func (p *producer) clientError(e kafka.Error) {
	p.auth.observe(e) // explains the delivery timeouts that follow
	logClientError(p.log, e)
}

// logClientError logs a client-level error of a producer's instance.
func logClientError(log *slog.Logger, e kafka.Error) {
	level := slog.LevelWarn
	if e.IsFatal() {
		level = slog.LevelError
	}
	log.Log(context.Background(), level, "gokafka: librdkafka producer error", "err", mapError(e))
}

// settled counts the messages reported but not yet counted out of their
// slot and generation. Counting them out in groups saves two atomic
// operations per message on counters that Produce also updates (the
// cache lines would travel between cores for every message); reports of
// one generation come in long runs.
type settled struct {
	p   *producer // whose reports (the own path's events goroutine serves several)
	gen *generation
	n   int // reports of p and gen since the last settle
}

func (s *settled) add(p *producer, g *generation) {
	if p != s.p || g != s.gen {
		s.settle()
		s.p, s.gen = p, g
	}
	s.n++
}

// settle frees the reports' queue slots before it counts them out of their
// generation: a Flush that returns has its messages' room back, so a
// Produce right after it never finds the queue full of them.
func (s *settled) settle() {
	if s.n == 0 {
		return
	}
	s.p.queue.Release(s.n)
	s.gen.exit(s.n)
	*s = settled{}
}

// deliver reports one message's outcome to its DoneFunc.
func (p *producer) deliver(km *kafka.Message, s *settled) {
	r, ok := km.Opaque.(*record)
	if !ok {
		return // not ours: every message we produce carries a record
	}
	m, done := r.m, r.done
	var err error
	if e := km.TopicPartition.Error; e != nil {
		// Error path only: naming the partition costs an allocation.
		err = fmt.Errorf("rdkafka: producing to %s/%d: %w", m.Topic, m.Partition, p.auth.explain(p.reportError(e)))
		m.Offset = -1
	} else {
		p.auth.ok()
		m.Partition = km.TopicPartition.Partition
		m.Offset = int64(km.TopicPartition.Offset)
		if m.Offset < 0 { // acks=0: librdkafka reports OffsetInvalid
			m.Offset = -1
		}
	}
	done(m, err)
	// Only after done: the message counts as queued (MaxQueued) and
	// unflushed until its report was delivered.
	s.add(p, r.gen)
}

// Flush implements engine.Producer: it waits for every message accepted
// before the call, and has the flusher goroutine keep librdkafka flushing
// meanwhile (librdkafka then sends batches at once instead of lingering).
func (p *producer) Flush(ctx context.Context) error {
	if p.closed.Load() {
		return kerr.ErrClosed
	}
	return p.flush(ctx)
}

func (p *producer) flush(ctx context.Context) error {
	gens := p.gens.seal()
	p.flushers.Add(1)
	defer p.flushers.Add(-1)
	select {
	case p.kick <- struct{}{}:
	default: // a kick is already pending
	}
	for _, g := range gens {
		select {
		case <-g.done:
			continue // done wins over an expired ctx
		default:
		}
		select {
		case <-g.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// flusher is the goroutine that runs librdkafka's flush for Flush callers.
// rd.Flush cannot watch a context and can block while the events channel
// is full, so Flush callers never call it themselves: they wait for their
// generations and their ctx, and this goroutine flushes, in slices, while
// at least one of them waits and librdkafka still holds messages.
func (p *producer) flusher() {
	defer p.flusherDone.Done()
	for {
		select {
		case <-p.stopFlusher:
			return
		case <-p.kick:
		}
		for p.flushers.Load() > 0 {
			select {
			case <-p.stopFlusher:
				return
			default:
			}
			if p.flushSlice() == 0 {
				break // nothing left in librdkafka nor in the events channel
			}
		}
	}
}

// flushSlice runs librdkafka's flush for up to flushSlice: how many
// messages it still holds.
func (p *producer) flushSlice() int {
	if p.shared != nil {
		// Messages still in the hand-over count: given to librdkafka
		// after this flush, they would wait for linger.ms. Read before
		// the flush: a message not counted then is in librdkafka.
		waiting := int(p.shared.feeder.waiting.Load())
		return p.shared.c.flush(int(flushSlice/time.Millisecond)) + waiting
	}
	return p.rd.Flush(int(flushSlice / time.Millisecond))
}

// fatalSource is where librdkafka's fatal error is read.
func (p *producer) fatalSource() interface{ GetFatalError() error } {
	if p.shared != nil {
		return p.shared.c
	}
	return p.rd
}

// Close implements engine.Producer: flush within ctx, then fail what is
// left with kerr.ErrClosed (purging librdkafka's queues so that it reports
// them), then destroy librdkafka's handle and wait for our goroutines.
func (p *producer) Close(ctx context.Context) error { return p.close(ctx, nil) }

// close is Close; before it flushes, and once Produce refuses new messages,
// it runs before (the transactional producer's abort of an open
// transaction), whose error it returns with the flush's.
func (p *producer) close(ctx context.Context, before func(context.Context) error) error {
	p.closeOnce.Do(func() {
		p.closed.Store(true)
		close(p.closing)
		var errs []error
		if before != nil {
			errs = append(errs, before(ctx))
		}
		if err := p.flush(ctx); err != nil {
			n := p.queue.Len()
			errs = append(errs, fmt.Errorf("%w: flush interrupted, %d message(s) failed with ErrClosed: %w", kerr.ErrClosed, n, err))
		}
		p.closeErr = errors.Join(errs...)
		if p.shared != nil {
			// Wait for the Produce calls inside the hand-over; any later
			// one sees closed. Then the instance's last producer purges
			// and destroys it; another one fails its own messages left.
			p.inside.Lock()
			//lint:ignore SA2001 an empty critical section: a barrier for the hand-overs
			p.inside.Unlock()
			close(p.stopFlusher)
			p.flusherDone.Wait()
			p.warmDone.Wait() // it saw closing: at most one pidWarmSlice
			p.shared.detach(p)
			return
		}
		// Fails what the flush did not wait for: everything if ctx
		// ended, else only a Produce that raced with Close.
		p.purge()
		close(p.stopFlusher)
		p.flusherDone.Wait()
		p.warmDone.Wait() // it saw closing: at most one pidWarmSlice
		// rd.Close stops confluent-kafka-go's goroutines, closes the
		// events and logs channels (ending our events goroutine) and
		// destroys librdkafka's handle. Nothing of ours is inside
		// librdkafka any more: no slot is taken and the flusher ended.
		// (confluent-kafka-go's Flush leaves a helper goroutine in
		// rd_kafka_flush for a moment after it returns; that call
		// returns as soon as librdkafka holds no message, which purge
		// has made true, and rd.Close first waits up to 100ms for its
		// own poller.)
		p.rd.Close()
		p.wg.Wait()
	})
	return p.closeErr
}

// produceError maps an error of librdkafka's produce call (error path
// only). A fatal error is resolved to its cause; in a transactional
// producer, librdkafka's _STATE means that the transaction cannot take
// more messages: it failed and must be aborted (the root produces inside a
// transaction only).
func (p *producer) produceError(err error) error {
	var ke kafka.Error
	if errors.As(err, &ke) {
		switch {
		case p.txn && ke.Code() == kafka.ErrState:
			return fmt.Errorf("%w: librdkafka takes no more messages in this transaction (librdkafka: %w)", kerr.ErrAbortRequired, ke)
		case p.txn && (ke.IsFatal() || ke.Code() == kafka.ErrFatal):
			return txnError(err, p.rd)
		case ke.Code() == kafka.ErrFatal:
			return fatalError(err, p.fatalSource())
		}
	}
	return produceError(err)
}

// reportError maps the error of a failed delivery report (error path
// only). A message that librdkafka purged because the instance turned fatal
// fails with the fatal error's cause. In a transactional producer, a message that librdkafka purged
// while the producer is open was dropped with its transaction: librdkafka
// purges a transaction's messages when the transaction fails (an abortable
// error) and when it is aborted; Close's purges stay kerr.ErrClosed.
func (p *producer) reportError(err error) error {
	var ke kafka.Error
	if !p.txn && errors.As(err, &ke) && purgeCode(ke.Code()) && !p.closed.Load() {
		// librdkafka purges every message when the instance turns
		// fatal (an idempotent producer refused its producer id for
		// want of IDEMPOTENT_WRITE, say): the report is that cause,
		// not a Close. (A transactional producer's purged messages
		// were dropped with their transaction, below.)
		if fe := p.fatalSource().GetFatalError(); fe != nil {
			return fmt.Errorf("rdkafka: fatal error, the instance is unusable: %w", mapError(fe))
		}
	}
	if !p.txn {
		return fatalError(err, p.fatalSource())
	}
	if errors.As(err, &ke) && purgeCode(ke.Code()) && !p.closed.Load() {
		return fmt.Errorf("%w: librdkafka dropped it with its transaction (librdkafka: %w)", kerr.ErrTransactionAborted, ke)
	}
	return txnError(err, p.rd)
}

// purge fails every message still in librdkafka (as kafka.ErrPurgeQueue or
// ErrPurgeInflight, which map to ErrClosed) and waits until each one was
// reported and no Produce call is inside librdkafka any more. It purges
// again while it waits, for messages that a concurrent Produce added.
func (p *producer) purge() {
	for p.queue.Len() > 0 {
		purge := func() error { return p.rd.Purge(kafka.PurgeQueue | kafka.PurgeInFlight) }
		if p.shared != nil {
			purge = p.shared.c.purge
		}
		if err := purge(); err != nil {
			p.log.Warn("gokafka: librdkafka purge failed", "err", mapError(err))
		}
		// Purged messages come back as delivery reports through the
		// poller and the events goroutine.
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_ = p.queue.WaitBelow(ctx, 1, nil)
		cancel()
	}
}
