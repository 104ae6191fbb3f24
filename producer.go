package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gokafka/kafka/internal/engine"
)

// Producer sends messages to one topic. Create one with Topic.NewProducer.
//
// By default Produce only queues the message and returns: the producer
// batches messages per partition in the background and sends a batch when it
// has lingered long enough (ProducerConfig.Linger) or is full. To learn what
// became of each message, use Sync mode, DeliveryReports, or OnDelivery; if
// you use none of them, Flush and Close return the failures.
//
// A Producer is safe for concurrent use. Close it to flush what is queued.
type Producer struct {
	topic       *Topic
	cfg         ProducerConfig
	eng         engine.Producer
	partitioner Partitioner
	reports     chan DeliveryReport
	done        engine.DoneFunc // for asynchronous messages

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
}

// NewProducer creates a producer for the topic. Invalid configuration fails
// here with a *ConfigError naming the field. The producer's goroutines
// (per-broker senders, started on demand) stop at Close.
func (t *Topic) NewProducer(cfg ProducerConfig) (*Producer, error) {
	ecfg, err := cfg.engineConfig(t.name, t.client)
	if err != nil {
		return nil, err
	}
	eng, err := engineFor(cfg.UseRdkafka)
	if err != nil {
		return nil, err
	}
	if err := t.client.checkOpen(); err != nil {
		return nil, err
	}
	// Engines start goroutines and connections here; there is no ctx in
	// NewProducer's signature because construction does no network wait
	// beyond what the client already did.
	ep, err := eng.NewProducer(context.Background(), t.client.cluster, ecfg)
	if err != nil {
		return nil, err
	}
	p := &Producer{topic: t, cfg: cfg, eng: ep, partitioner: cfg.Partitioner, abandoned: make(chan struct{})}
	if p.partitioner == nil {
		p.partitioner = NewStickyPartitioner(0)
	}
	if cfg.DeliveryReports {
		p.reports = make(chan DeliveryReport, ecfg.MaxQueued)
	}
	p.done = p.report
	if err := t.client.adopt(p); err != nil {
		ep.Close(context.Background())
		return nil, err
	}
	return p, nil
}

// Topic is the topic the producer writes to.
func (p *Producer) Topic() *Topic { return p.topic }

// DeliveryReports returns the channel of delivery reports, one per message,
// or nil unless ProducerConfig.DeliveryReports is set. The channel is closed
// after Close has reported every message.
func (p *Producer) DeliveryReports() <-chan DeliveryReport { return p.reports }

// Produce sends value, with the options' key, headers and timestamp, to the
// partition the partitioner chooses. In asynchronous mode it returns once the
// message is queued; in Sync mode once the message is acknowledged. It blocks
// while the queue is full unless FailWhenQueueFull is set, and stops waiting
// when ctx ends.
func (p *Producer) Produce(ctx context.Context, value []byte, opts ...ProduceOption) error {
	m := &Message{Value: value}
	for _, o := range opts {
		o(m)
	}
	return p.ProduceMessage(ctx, m)
}

// ProduceMessage is Produce for a message you built. The producer owns m
// until its delivery is reported: do not modify it meanwhile.
func (p *Producer) ProduceMessage(ctx context.Context, m *Message) error {
	if m == nil {
		return ErrNilMessage
	}
	if p.closed.Load() {
		return ErrClosed
	}
	meta, err := p.topic.meta()
	if err != nil {
		return err
	}
	n := int32(len(meta.Partitions))
	if n == 0 {
		return fmt.Errorf("%w: %q has no partitions", ErrUnknownTopic, p.topic.name)
	}
	m.Topic = p.topic.name
	m.Partition = p.partitioner(m, n)
	if m.Partition < 0 || m.Partition >= n {
		return fmt.Errorf("%w: partitioner chose %d of %d partitions", ErrUnknownPartition, m.Partition, n)
	}
	if !p.cfg.Sync {
		return p.eng.Produce(ctx, m, p.done)
	}
	result := make(chan error, 1)
	err = p.eng.Produce(ctx, m, func(m *Message, err error) {
		p.deliver(m, err, true)
		result <- err
	})
	if err != nil {
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

// report is the DoneFunc of asynchronous messages.
func (p *Producer) report(m *Message, err error) { p.deliver(m, err, false) }

// deliver hands a message's outcome to the user: callback, report channel,
// or, when neither exists and the caller is not waiting (told), the failure
// tally that Flush returns.
func (p *Producer) deliver(m *Message, err error, told bool) {
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
		p.closed.Store(true)
		stop := context.AfterFunc(ctx, func() { close(p.abandoned) })
		err := p.eng.Close(ctx)
		stop()
		if p.reports != nil {
			close(p.reports)
		}
		p.topic.client.release(p)
		p.closeErr = errors.Join(err, p.takeFailures())
	})
	return p.closeErr
}

// engineFor picks the engine of a producer or consumer.
func engineFor(useRdkafka bool) (engine.Engine, error) {
	if useRdkafka {
		return engine.Lookup("rdkafka")
	}
	return pureEngine, nil
}
