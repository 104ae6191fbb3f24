package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
)

// Producer sends messages to any topic of the cluster: one idempotent
// producer id, one set of per-broker senders and one bounded queue for all
// of them. Create one with Client.NewProducer, where Message.Topic chooses
// each message's topic, or with Topic.NewProducer, a producer that fills in
// its topic for messages that name none.
//
// By default Produce only queues the message and returns: the producer
// batches messages per partition in the background and sends a batch when it
// has lingered long enough (ProducerConfig.Linger) or is full. To learn what
// became of each message, use Sync mode, ProduceSync, ProduceAsync's
// callback, DeliveryReports, or OnDelivery; if you use none of them, Flush
// and Close return the failures.
//
// A message that cannot be sent fails alone, with a typed error from
// Produce: no topic (ErrInvalidTopic), a topic the cluster does not have
// (ErrUnknownTopic, unless the client auto-creates topics), a partition the
// topic does not have (ErrUnknownPartition), too large (ErrMessageTooLarge).
//
// A Producer is safe for concurrent use. Close it to flush what is queued.
type Producer struct {
	client      *Client
	topic       string // filled into messages without one; "" for Client.NewProducer
	cfg         ProducerConfig
	maxBytes    int // MaxMessageBytes, defaulted
	eng         engine.Producer
	partitioner Partitioner
	clock       engine.Clock
	reports     chan DeliveryReport
	done        engine.DoneFunc // for asynchronous messages
	hooks       *hookSet        // the client's; nil without hooks
	windows     *brokerWindows  // the engine's own brokers, if it reports them (windows.go)
	txn         *txnState       // nil unless TransactionalID is set (txn.go)

	// known holds the topics this producer has produced to, so that each
	// is tracked by the client's metadata refresh (new partitions are
	// picked up) without a lock per message. Copy on write.
	known  atomic.Pointer[map[string]struct{}]
	knowMu sync.Mutex

	// Failures that nobody else was told about (no reports, no callback):
	// returned by the next Flush or Close.
	errMu     sync.Mutex
	failed    int
	firstFail error

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool
	// abandoned is closed when Close's ctx ends, so that a report nobody
	// reads any more cannot hold Close forever.
	abandoned chan struct{}

	// sticky is the default partitioner when cfg.Partitioner is nil:
	// enqueue hands it the stamp's clock reading (sticky.partitionAt).
	sticky *sticky
	// count caches the partition count of the producer's own topic for
	// the metadata snapshot it was read from (see partitions).
	count atomic.Pointer[topicCount]
	// slab holds the Messages Produce builds (newMessage).
	slab atomic.Pointer[messageSlab]
}

// messageSlab is Messages allocated together: a Message per Produce call
// was a tenth of a producer's CPU (the allocation and the collector's work
// on it). A slab lives as long as any of its Messages does: until the last
// is reported, or longer if a report's Message is kept.
type messageSlab struct {
	next atomic.Int32
	msgs [32]Message
}

// newMessage returns a zero Message for Produce to fill.
func (p *Producer) newMessage() *Message {
	for {
		s := p.slab.Load()
		if s != nil {
			if i := s.next.Add(1) - 1; int(i) < len(s.msgs) {
				return &s.msgs[i]
			}
		}
		fresh := new(messageSlab)
		fresh.next.Store(1)
		if p.slab.CompareAndSwap(s, fresh) {
			return &fresh.msgs[0]
		}
	}
}

// NewProducer creates a producer for any topic: each message names its
// topic (Message.Topic, or the ToTopic option). Invalid configuration fails
// here with a *ConfigError naming the field. The producer's goroutines
// (per-broker senders, started on demand) stop at Close.
func (c *Client) NewProducer(cfg ProducerConfig) (*Producer, error) {
	return c.newProducer(cfg, "")
}

// NewProducer creates a producer whose messages go to this topic unless
// they name another; otherwise it is Client.NewProducer.
func (t *Topic) NewProducer(cfg ProducerConfig) (*Producer, error) {
	return t.client.newProducer(cfg, t.name)
}

func (c *Client) newProducer(cfg ProducerConfig, topic string) (*Producer, error) {
	ecfg, err := cfg.engineConfig(c)
	if err != nil {
		return nil, err
	}
	ecfg.Observer = c.cfg.hookSet.produceObserver()
	windows := c.cfg.hookSet.windowsObserver()
	if windows != nil {
		ecfg.Windows = windows
	}
	eng, err := c.engineFor("ProducerConfig", cfg.Engine, cfg.UseRdkafka)
	if err != nil {
		return nil, err
	}
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	// Engines start goroutines and connections here; there is no ctx in
	// NewProducer's signature because construction does no network wait
	// beyond what the client already did.
	ep, err := eng.NewProducer(context.Background(), c.cluster, ecfg)
	if err != nil {
		return nil, err
	}
	p := &Producer{
		client: c, topic: topic, cfg: cfg, maxBytes: ecfg.MaxMessageBytes, eng: ep,
		partitioner: cfg.Partitioner, abandoned: make(chan struct{}), hooks: c.cfg.hookSet,
		windows: windows,
	}
	if p.partitioner == nil {
		p.sticky = engineSticky(c.runsRdkafka(cfg.Engine, cfg.UseRdkafka), ecfg.BatchBytes)
		p.partitioner = p.sticky.partition
	}
	if cfg.DeliveryReports {
		p.reports = make(chan DeliveryReport, ecfg.MaxQueued)
	}
	p.done = p.report
	p.known.Store(&map[string]struct{}{})
	if ecfg.TransactionalID != "" {
		te, ok := ep.(engine.TxnProducer)
		if !ok {
			ep.Close(context.Background())
			return nil, fmt.Errorf("%w: the %s engine has no transactions", ErrUnsupported, cfg.Engine)
		}
		p.txn = &txnState{eng: te}
	}
	if err := c.adopt(p); err != nil {
		ep.Close(context.Background())
		return nil, err
	}
	return p, nil
}

// Topic is the topic of a producer made by Topic.NewProducer, or nil for
// one made by Client.NewProducer.
func (p *Producer) Topic() *Topic {
	if p.topic == "" {
		return nil
	}
	return &Topic{client: p.client, name: p.topic}
}

// DeliveryReports returns the channel of delivery reports, one per message,
// or nil unless ProducerConfig.DeliveryReports is set. The channel is closed
// after Close has reported every message.
func (p *Producer) DeliveryReports() <-chan DeliveryReport { return p.reports }

// Produce sends value, with the options' key, headers, timestamp, topic and
// partition, to the partition the partitioner chooses (or the one
// ToPartition names). In asynchronous mode it returns once the message is
// queued; in Sync mode once the message is acknowledged. It blocks while the
// queue is full unless FailWhenQueueFull is set, and stops waiting when ctx
// ends.
func (p *Producer) Produce(ctx context.Context, value []byte, opts ...ProduceOption) error {
	m := p.newMessage()
	m.Value = value
	for _, o := range opts {
		o(m)
	}
	return p.ProduceMessage(ctx, m)
}

// ProduceMessage is Produce for a message you built. The producer owns m
// until its delivery is reported: do not modify it meanwhile. Then m and
// its key, value and headers are yours again, once every report of it was
// handed out (OnDelivery returned, the report was received from
// DeliveryReports; with ProduceAsync, its done returned, which comes last).
// So a busy producer can recycle its Messages and their buffers instead of
// allocating them per message: Produce allocates a Message for each call,
// while with the caller's own Messages neither engine allocates per
// message. See the example.
func (p *Producer) ProduceMessage(ctx context.Context, m *Message) error {
	if !p.cfg.Sync {
		return p.enqueue(ctx, m, p.done)
	}
	result := make(chan error, 1)
	if err := p.enqueue(ctx, m, func(m *Message, err error) {
		p.deliver(m, err, true)
		result <- err
	}); err != nil {
		return err
	}
	select {
	case err := <-result:
		return err
	case <-ctx.Done():
		// The message stays queued and may still be delivered.
		return ctx.Err()
	}
}

// ProduceAsync queues m, like ProduceMessage in asynchronous mode, and calls
// done with its report once it was acknowledged or failed for good — in
// addition to OnDelivery and DeliveryReports, and after them: once done
// returns, m is yours again. done runs on a producer goroutine: keep it
// short, and do not call Flush or Close from it. If ProduceAsync returns an
// error, done is not called.
func (p *Producer) ProduceAsync(ctx context.Context, m *Message, done func(DeliveryReport)) error {
	if done == nil {
		return p.enqueue(ctx, m, p.done)
	}
	return p.enqueue(ctx, m, func(m *Message, err error) {
		// done last: the hooks run before every report, and once done
		// has returned nothing of the producer's touches m again.
		p.deliver(m, err, true)
		done(DeliveryReport{Message: m, Err: err})
	})
}

// ProduceSync produces every message and waits until each one was
// acknowledged or failed, or ctx ends; the messages of one call share
// batches. It returns one result per message, in order (a message that ctx
// left waiting reports ctx's error, though it may still be delivered):
//
//	if err := producer.ProduceSync(ctx, msgs...).Err(); err != nil { ... }
func (p *Producer) ProduceSync(ctx context.Context, msgs ...*Message) ProduceResults {
	var (
		mu       sync.Mutex
		results  = make(ProduceResults, len(msgs))
		finished = make([]bool, len(msgs))
		left     = len(msgs)
		all      = make(chan struct{})
	)
	finish := func(i int, err error) {
		mu.Lock()
		defer mu.Unlock()
		results[i].Err, finished[i] = err, true
		if left--; left == 0 {
			close(all)
		}
	}
	for i, m := range msgs {
		results[i].Message = m
		err := p.enqueue(ctx, m, func(m *Message, err error) {
			p.deliver(m, err, true)
			finish(i, err)
		})
		if err != nil {
			finish(i, err)
		}
	}
	if len(msgs) == 0 {
		return results
	}
	select {
	case <-all:
		return results
	case <-ctx.Done():
	}
	// Reports that come later must not write into what the caller holds:
	// hand back a copy in which the unfinished ones carry ctx's error.
	mu.Lock()
	defer mu.Unlock()
	out := slices.Clone(results)
	for i := range out {
		if !finished[i] {
			out[i].Err = ctx.Err()
		}
	}
	return out
}

// enqueue checks m, fills in its topic, partition and timestamp, and hands
// it to the engine with done.
func (p *Producer) enqueue(ctx context.Context, m *Message, done engine.DoneFunc) error {
	if m == nil {
		return ErrNilMessage
	}
	if p.closed.Load() {
		return ErrClosed
	}
	if m.Topic == "" {
		if p.topic == "" {
			return fmt.Errorf("%w: the message names no topic (set Message.Topic, or use a Topic's producer)", ErrInvalidTopic)
		}
		m.Topic = p.topic
	}
	n, err := p.partitions(ctx, m.Topic)
	if err != nil {
		return err
	}
	// The stamp, read before the partitioner so that the default one
	// uses the same clock reading; set on m once m is accepted.
	var now time.Time
	if m.Timestamp.IsZero() {
		now = p.clock.Now()
	}
	if !m.PartitionSet {
		if p.sticky != nil && m.Key == nil && !now.IsZero() {
			m.Partition = p.sticky.partitionAt(m, n, now.Sub(p.sticky.start))
		} else {
			m.Partition = p.partitioner(m, n)
		}
	}
	if m.Partition < 0 || m.Partition >= n {
		who := "the partitioner chose"
		if m.PartitionSet {
			who = "the message names"
		}
		return fmt.Errorf("%w: %s partition %d of %q, which has %d", ErrUnknownPartition, who, m.Partition, m.Topic, n)
	}
	if err := engine.CheckSize(m, p.maxBytes); err != nil {
		return err
	}
	if m.Timestamp.IsZero() {
		m.Timestamp = now
	}
	if p.txn != nil {
		// Inside the transaction's read lock: a commit waits until the
		// message is handed over, and covers it.
		p.txn.mu.RLock()
		defer p.txn.mu.RUnlock()
		if err := p.txn.check(); err != nil {
			return err
		}
	}
	if p.hooks != nil {
		return p.produceHooked(ctx, m, done)
	}
	return p.eng.Produce(ctx, m, done)
}

// produceHooked is the end of enqueue when hooks are registered: every
// message the produced hooks see gets one delivered event, even one the
// engine refuses.
func (p *Producer) produceHooked(ctx context.Context, m *Message, done engine.DoneFunc) error {
	p.hooks.recordProduced(m)
	err := p.eng.Produce(ctx, m, done)
	if err != nil {
		p.hooks.recordDelivered(m, err)
	}
	return err
}

// topicCount is a partition count as of a metadata snapshot.
type topicCount struct {
	snap  *cluster.Snapshot
	topic string
	n     int32
}

// partitions returns the partition count of topic, loading its metadata
// (or creating it, where the client auto-creates topics) the first time.
func (p *Producer) partitions(ctx context.Context, topic string) (int32, error) {
	snap := p.client.cluster.Snapshot()
	if c := p.count.Load(); c != nil && c.snap == snap && c.topic == topic {
		return c.n, nil // the producer's own topic, metadata unchanged
	}
	if _, ok := (*p.known.Load())[topic]; ok {
		if t, err := snap.Topic(topic); err == nil && len(t.Partitions) > 0 {
			if topic == p.topic {
				p.count.Store(&topicCount{snap: snap, topic: topic, n: int32(len(t.Partitions))})
			}
			return int32(len(t.Partitions)), nil
		}
	}
	t, err := p.client.loadTopic(ctx, topic)
	if err != nil {
		return 0, err
	}
	p.knowMu.Lock()
	old := *p.known.Load()
	if _, ok := old[topic]; !ok {
		known := make(map[string]struct{}, len(old)+1)
		for k := range old {
			known[k] = struct{}{}
		}
		known[topic] = struct{}{}
		p.known.Store(&known)
	}
	p.knowMu.Unlock()
	return int32(len(t.Partitions)), nil
}

// report is the DoneFunc of asynchronous messages.
func (p *Producer) report(m *Message, err error) { p.deliver(m, err, false) }

// deliver hands a message's outcome to the user: callback, report channel,
// or, when neither exists and the caller is not waiting (told), the failure
// tally that Flush returns.
func (p *Producer) deliver(m *Message, err error, told bool) {
	if p.hooks != nil {
		p.hooks.recordDelivered(m, err)
	}
	if p.cfg.OnDelivery != nil {
		p.cfg.OnDelivery(DeliveryReport{Message: m, Err: err})
		told = true
	}
	if p.reports != nil {
		select {
		case p.reports <- DeliveryReport{Message: m, Err: err}:
			told = true
		case <-p.abandoned:
		}
	}
	if err != nil && !told {
		p.errMu.Lock()
		p.failed++
		if p.firstFail == nil {
			p.firstFail = err
		}
		p.errMu.Unlock()
	}
}

// takeFailures returns, and forgets, the failures nobody was told about.
func (p *Producer) takeFailures() error {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	if p.failed == 0 {
		return nil
	}
	err := fmt.Errorf("kafka: %d message(s) could not be delivered; first: %w", p.failed, p.firstFail)
	p.failed, p.firstFail = 0, nil
	return err
}

// Flush sends every queued message now and waits until each one produced
// before the call is acknowledged or failed, or ctx ends. Without delivery
// reports or OnDelivery, it returns the messages that failed since the last
// Flush.
func (p *Producer) Flush(ctx context.Context) error {
	if p.closed.Load() {
		return ErrClosed
	}
	if err := p.eng.Flush(ctx); err != nil {
		return err
	}
	return p.takeFailures()
}

// Close flushes every queued message, waiting until they are all delivered or
// ctx ends (messages still queued then fail with ErrClosed), and stops the
// producer's goroutines. It returns the failures nobody was told about, like
// Flush. Calling Close again returns the first result.
func (p *Producer) Close(ctx context.Context) error {
	p.closeOnce.Do(func() {
		var abortErr error
		if p.txn != nil {
			// An open transaction is aborted: nothing half-visible.
			if abortErr = p.AbortTransaction(ctx); errors.Is(abortErr, ErrNoTransaction) {
				abortErr = nil
			}
		}
		p.closed.Store(true)
		stop := context.AfterFunc(ctx, func() { close(p.abandoned) })
		err := p.eng.Close(ctx)
		stop()
		if p.reports != nil {
			close(p.reports)
		}
		p.client.release(p)
		p.closeErr = errors.Join(abortErr, err, p.takeFailures())
	})
	return p.closeErr
}
