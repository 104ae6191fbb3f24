package kafka

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
)

// PipelineConfig configures a Pipeline: the group it consumes as, and the
// transactional producer it writes with.
type PipelineConfig struct {
	// Consumer is the group consumer's configuration. The pipeline
	// commits the consumer's offsets in its transactions, so AutoCommit
	// must be off; Isolation defaults to ReadCommitted (a pipeline that
	// reads another pipeline's output must not see its aborted data);
	// OnAssign, OnRevoke and OnLost are called as for a BalancedConsumer,
	// after the pipeline's own handling.
	Consumer BalancedConsumerConfig
	// Producer is the producer's configuration; TransactionalID is
	// required, and must be unique per pipeline instance (and stable
	// across its restarts, so that a restarted instance fences its
	// predecessor).
	Producer ProducerConfig
	// CommitInterval is how often the pipeline commits its transaction:
	// the outputs and the input offsets of what it handled since the last
	// commit become visible together. Default 100 ms.
	CommitInterval time.Duration
}

// Pipeline is a consume-transform-produce loop with exactly-once results: a
// group consumer reads the input topics, a handler turns each message into
// any number of output messages, and a transactional producer writes them
// with the consumed offsets in one transaction, committed every
// CommitInterval. Run it with Run; it is the loop of a few lines that Kafka
// transactions exist for.
//
// # Guarantees
//
// Every input message's outputs, and the input's offset, are committed
// together or not at all. So a read_committed reader of the outputs sees
// each input's outputs exactly once, whatever fails: a handler error, a
// process killed mid-transaction (its open transaction is aborted by the
// coordinator after TransactionTimeout, or at once when the instance
// restarts with the same TransactionalID), a broker killed (the
// transaction fails and is aborted, then done again), a rebalance (the
// transaction in flight is aborted before partitions leave, and every
// partition the member keeps is rewound to its last committed offset, so
// the aborted work is redone), a member that lost its partitions without
// knowing (its offsets carry its group generation, which the coordinator
// refuses: the transaction aborts). The handler itself may run more than
// once for a message (after an abort): its side effects outside Kafka are
// not covered.
//
// Only a Kafka-coordinated group (GroupProtocolClassic) gives that last
// guarantee; with ZooKeeper, Kafka's coordinator does not know the group's
// generations and cannot refuse a stale member's offsets. Both engines run
// pipelines: the librdkafka engine's transactions carry the Go group
// layer's generation and member id too (see the rdkafka package doc), on
// Kafka's classic transaction protocol, the only one librdkafka speaks.
//
// A Pipeline runs one Run at a time; Close it when done.
type Pipeline struct {
	consumer *BalancedConsumer
	producer *Producer
	interval time.Duration
	onRevoke func(context.Context, []TopicPartition) error
	onLost   func(context.Context, []TopicPartition) error

	// mu is held while the loop handles a message or commits, and by the
	// rebalance callbacks: a revocation waits for the message in hand,
	// then aborts the transaction.
	mu     sync.Mutex
	inTxn  bool // a transaction is open
	rewind bool // the last transaction was aborted: positions must go back to the committed offsets
}

// NewPipeline joins the consumer group and initializes the transactional
// producer. ctx bounds the join.
func (c *Client) NewPipeline(ctx context.Context, cfg PipelineConfig) (*Pipeline, error) {
	if cfg.Producer.TransactionalID == "" {
		return nil, kerr.Config("PipelineConfig.Producer.TransactionalID", "required: the pipeline writes in transactions")
	}
	if cfg.Consumer.AutoCommit {
		return nil, kerr.Config("PipelineConfig.Consumer.AutoCommit", "must be off: the pipeline commits offsets in its transactions")
	}
	if cfg.CommitInterval < 0 {
		return nil, kerr.Config("PipelineConfig.CommitInterval", "must not be negative, got %v", cfg.CommitInterval)
	}
	p := &Pipeline{interval: cfg.CommitInterval, onRevoke: cfg.Consumer.OnRevoke, onLost: cfg.Consumer.OnLost}
	if p.interval == 0 {
		p.interval = 100 * time.Millisecond
	}
	if cfg.Consumer.Isolation == ReadUncommitted {
		cfg.Consumer.Isolation = ReadCommitted
	}
	prod, err := c.NewProducer(cfg.Producer)
	if err != nil {
		return nil, err
	}
	p.producer = prod
	cfg.Consumer.OnRevoke = p.revoked
	cfg.Consumer.OnLost = p.lost
	cons, err := c.NewBalancedConsumer(ctx, cfg.Consumer)
	if err != nil {
		prod.Close(ctx)
		return nil, err
	}
	p.consumer = cons
	return p, nil
}

// Consumer is the pipeline's group consumer (for Partitions, Lag, ...).
func (p *Pipeline) Consumer() *BalancedConsumer { return p.consumer }

// Producer is the pipeline's transactional producer.
func (p *Pipeline) Producer() *Producer { return p.producer }

// Run consumes and handles messages until ctx ends or something fails for
// good; it returns ctx's error, the handler's error, or the failure
// (ErrProducerFenced: another instance with the same TransactionalID took
// over). handle produces a message's outputs with out (its Produce and
// ProduceMessage); a handler error aborts the transaction in flight, whose
// inputs will be read again, and ends Run. What Run committed stays
// committed; what it did not is aborted before it returns.
func (p *Pipeline) Run(ctx context.Context, handle func(ctx context.Context, in *Message, out *Producer) error) (err error) {
	defer func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.inTxn {
			// Within a bounded wait even when ctx ended: nothing half-done.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			err = errors.Join(err, p.abort(actx))
			cancel()
		}
	}()
	for {
		if err := p.cycle(ctx, handle); err != nil {
			return err
		}
		if err := p.commit(ctx); err != nil {
			return err
		}
	}
}

// cycle handles messages for one CommitInterval. One deadline for the
// whole interval, not one per message: a context with a deadline costs a
// timer, which per message was a visible share of a loop doing little
// else.
func (p *Pipeline) cycle(ctx context.Context, handle func(context.Context, *Message, *Producer) error) error {
	next := time.Now().Add(p.interval)
	pollCtx, cancel := context.WithDeadline(ctx, next)
	defer cancel()
	for time.Now().Before(next) {
		m, cerr := p.consumer.core.consumeOne(pollCtx)
		if cerr != nil && !(errors.Is(cerr, context.DeadlineExceeded) && ctx.Err() == nil) {
			return cerr
		}
		if err := p.step(ctx, m, handle); err != nil {
			return err
		}
	}
	return nil
}

// step handles one message (nil: none came) inside the transaction.
func (p *Pipeline) step(ctx context.Context, m *Message, handle func(context.Context, *Message, *Producer) error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rewind {
		// The transaction that read what came before was aborted:
		// read it again, and drop this message (the rewind refetches
		// it).
		return p.rewindLocked(ctx)
	}
	if m == nil {
		return nil
	}
	if !p.consumer.owns(m) {
		return nil // its partition was revoked since it was fetched
	}
	if !p.inTxn {
		if err := p.producer.BeginTransaction(ctx); err != nil {
			return err
		}
		p.inTxn = true
	}
	if err := handle(ctx, m, p.producer); err != nil {
		return errors.Join(err, p.abort(ctx))
	}
	return nil
}

// commit commits the open transaction with the consumer's positions. A
// transaction that cannot commit (a message or an offset refused, a
// generation gone stale) is aborted and its inputs read again.
func (p *Pipeline) commit(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.inTxn {
		return nil
	}
	// The offsets go to the group coordinator while the outputs are
	// being acknowledged: the commit then waits for the longer of the
	// two instead of their sum (one round trip to the group coordinator,
	// which with transactions v2 checks the transaction with its
	// coordinator first). Either failing dooms the transaction.
	sent := make(chan error, 1)
	go func() { sent <- p.producer.SendConsumerOffsets(ctx, p.consumer) }()
	ferr := p.producer.Flush(ctx)
	err := errors.Join(<-sent, ferr)
	if err == nil {
		err = p.producer.CommitTransaction(ctx)
	}
	switch {
	case err == nil:
		p.inTxn = false
		return nil
	case errors.Is(err, ErrProducerFenced), ctx.Err() != nil:
		return err
	}
	p.consumer.core.client.cfg.logger.Warn("kafka: pipeline transaction failed, aborting and reading its inputs again", "err", err)
	return p.abort(ctx)
}

// abort aborts the open transaction and marks the positions for a rewind.
// Caller holds mu.
func (p *Pipeline) abort(ctx context.Context) error {
	p.inTxn = false
	p.rewind = true
	return p.producer.AbortTransaction(ctx)
}

// rewindLocked moves every owned partition back to its committed offset
// (or AutoOffsetReset), after an abort. Caller holds mu.
func (p *Pipeline) rewindLocked(ctx context.Context) error {
	core := p.consumer.core
	start, err := core.startOffsets(ctx, core.assigned(), false)
	if err != nil {
		return err
	}
	if err := core.seek(ctx, start, false); err != nil && !errors.Is(err, ErrRebalanced) {
		return err
	}
	p.rewind = false
	return nil
}

// revoked runs before partitions leave the member: the transaction in
// flight holds their inputs and must not commit after they moved, so it is
// aborted (the member's other partitions are rewound at the next step).
func (p *Pipeline) revoked(ctx context.Context, tps []TopicPartition) error {
	p.mu.Lock()
	var err error
	if p.inTxn {
		err = p.abort(ctx)
	}
	p.mu.Unlock()
	if p.onRevoke != nil {
		err = errors.Join(err, p.onRevoke(ctx, tps))
	}
	return err
}

// lost runs when partitions were taken without notice: the transaction in
// flight would be refused (its generation is stale), so abort it now.
func (p *Pipeline) lost(ctx context.Context, tps []TopicPartition) error {
	p.mu.Lock()
	var err error
	if p.inTxn {
		err = p.abort(ctx)
	}
	p.mu.Unlock()
	if p.onLost != nil {
		err = errors.Join(err, p.onLost(ctx, tps))
	}
	return err
}

// Close aborts a transaction left open, leaves the group and closes the
// producer.
func (p *Pipeline) Close(ctx context.Context) error {
	p.mu.Lock()
	var err error
	if p.inTxn {
		err = p.abort(ctx)
	}
	p.mu.Unlock()
	return errors.Join(err, p.consumer.Close(ctx), p.producer.Close(ctx))
}

// owns reports whether the message's partition is still the member's.
func (c *BalancedConsumer) owns(m *Message) bool {
	c.core.mu.Lock()
	defer c.core.mu.Unlock()
	return c.core.parts[TopicPartition{Topic: m.Topic, Partition: m.Partition}] != nil
}
