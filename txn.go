package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gokafka/kafka/internal/engine"
)

// Transactions
//
// A producer with a TransactionalID writes in transactions: the messages it
// produces between BeginTransaction and CommitTransaction, to any topics and
// partitions, become visible to read_committed consumers together, or — after
// AbortTransaction — never. Consumer offsets sent with SendOffsets are
// committed with the transaction, so a consume-transform-produce loop reads
// each input and writes its outputs exactly once (see Pipeline, which runs
// that loop):
//
//	p, err := client.NewProducer(kafka.ProducerConfig{TransactionalID: "orders-enricher-1"})
//	err = p.BeginTransaction(ctx) // the first one fences any older producer with the id
//	err = p.ProduceMessage(ctx, out)
//	err = p.SendConsumerOffsets(ctx, consumer)
//	err = p.CommitTransaction(ctx)
//
// Errors: a newer producer with the same TransactionalID fences this one
// (ErrProducerFenced, fatal: Close it). A message or an offset of the
// transaction that failed makes CommitTransaction fail with
// ErrAbortRequired: abort, then go on. A transaction the coordinator
// aborted for being open longer than TransactionTimeout cannot be told
// from a fence at commit time (Kafka answers both alike), so, as with the
// Java client, that commit fails for good (ErrProducerFenced, or the
// coordinator's INVALID_TXN_STATE with transactions v2); a message produced
// after the timeout only fails the transaction. Any error other than
// ErrAbortRequired and a context's ends the producer: every later call
// returns it. Messages dropped unwritten with an aborted transaction
// report ErrTransactionAborted. Producing outside a transaction is
// ErrNoTransaction.

// txnState is a transactional producer's state machine. Produce holds mu
// for reading while it hands a message to the engine; Begin, SendOffsets,
// Commit and Abort hold it for writing, so a commit covers exactly what was
// handed over before it.
type txnState struct {
	eng engine.TxnProducer

	mu        sync.RWMutex
	open      bool  // between Begin and the end of Commit or Abort
	mustAbort error // why the open transaction can only abort
	fatal     error // the producer cannot go on
}

// check is Produce's and SendOffsets' gate; the caller holds mu.
func (t *txnState) check() error {
	switch {
	case t.fatal != nil:
		return t.fatal
	case !t.open:
		return ErrNoTransaction
	case t.mustAbort != nil:
		return fmt.Errorf("%w: %w", ErrAbortRequired, t.mustAbort)
	}
	return nil
}

// outcome records what an engine call's error means for the transaction.
// Caller holds mu for writing.
func (t *txnState) outcome(err error) error {
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, ErrUnsupported), errors.Is(err, ErrInvalidConfig):
		// Interrupted, or refused before anything was done: the
		// transaction is as it was.
	case errors.Is(err, ErrAbortRequired):
		// A message or an offset of the transaction failed, or the
		// coordinator aborted it: only an abort can follow.
		t.mustAbort = err
	default:
		// The engines mark every error after which an abort lets the
		// producer go on with ErrAbortRequired; any other (fenced, an
		// authorization refused, a state the coordinator rejects) ends
		// the transactional producer.
		t.fatal = err
	}
	return err
}

func (p *Producer) txnOrErr() (*txnState, error) {
	if p.txn == nil {
		return nil, fmt.Errorf("%w: the producer has no ProducerConfig.TransactionalID", ErrInvalidConfig)
	}
	if p.closed.Load() {
		return nil, ErrClosed
	}
	return p.txn, nil
}

// lockTxn is the transaction state of a transactional producer that can
// go on, locked for writing (the caller unlocks it): Begin, Commit and
// Abort all start there. Otherwise it is why the producer cannot.
func (p *Producer) lockTxn() (*txnState, error) {
	t, err := p.txnOrErr()
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	if err := t.fatal; err != nil {
		t.mu.Unlock()
		return nil, err
	}
	return t, nil
}

// BeginTransaction opens a transaction. The first one initializes the
// producer's transactional state (finds the transaction coordinator, and
// fences any older producer with the same TransactionalID: its next send or
// commit fails with ErrProducerFenced). A transaction already open is
// ErrTransactionOpen.
func (p *Producer) BeginTransaction(ctx context.Context) error {
	t, err := p.lockTxn()
	if err != nil {
		return err
	}
	defer t.mu.Unlock()
	if t.open {
		return ErrTransactionOpen
	}
	if err := t.outcome(t.eng.BeginTxn(ctx)); err != nil {
		return err
	}
	t.open = true
	return nil
}

// CommitTransaction waits until every message of the transaction is
// acknowledged and commits it: its messages, and the offsets sent, become
// visible together. If something of it failed it returns an error matching
// ErrAbortRequired (call AbortTransaction); if ctx ends first, the
// transaction stays open and CommitTransaction may be called again.
func (p *Producer) CommitTransaction(ctx context.Context) error {
	return p.endTransaction(ctx, true)
}

// AbortTransaction discards the transaction: none of its messages or
// offsets will ever be visible to read_committed consumers. It waits for
// the messages in flight first. Messages not yet sent may be reported
// failed (ErrAbortRequired) rather than written and aborted, depending on
// the engine; either way none is visible.
func (p *Producer) AbortTransaction(ctx context.Context) error {
	return p.endTransaction(ctx, false)
}

func (p *Producer) endTransaction(ctx context.Context, commit bool) error {
	t, err := p.lockTxn()
	if err != nil {
		return err
	}
	defer t.mu.Unlock()
	switch {
	case !t.open:
		return ErrNoTransaction
	case commit && t.mustAbort != nil:
		return fmt.Errorf("%w: %w", ErrAbortRequired, t.mustAbort)
	}
	if err := t.outcome(t.eng.EndTxn(ctx, commit)); err != nil {
		return err
	}
	t.open, t.mustAbort = false, nil
	// The transaction's outcome is the report of its messages: those that
	// failed or were dropped with an abort are not news for Flush or
	// Close. (EndTxn returned after every one of them was reported.)
	p.takeFailures()
	return nil
}

// GroupMetadata identifies a consumer group's member for offsets committed
// in a transaction: the group, and the member's generation and ids, which
// let the group's coordinator refuse a commit from a member that lost its
// partitions (KIP-447). A member of a Kafka-coordinated group reports them;
// a simple consumer, or a ZooKeeper-coordinated group (Kafka's coordinator
// knows nothing of its membership), has Generation -1 and no ids: its
// offsets are committed without that check.
type GroupMetadata struct {
	Group      string
	Generation int32
	MemberID   string
	InstanceID string
}

// SendOffsets adds a consumer group's offsets to the open transaction: each
// the next offset to read of its partition. They are committed if, and only
// if, the transaction commits.
func (p *Producer) SendOffsets(ctx context.Context, group GroupMetadata, offsets map[TopicPartition]int64) error {
	t, err := p.txnOrErr()
	if err != nil {
		return err
	}
	if group.Group == "" {
		return ErrNoGroup
	}
	gc := engine.GroupCommit{
		Group: group.Group, Generation: group.Generation, MemberID: group.MemberID, InstanceID: group.InstanceID,
		Offsets: make(map[engine.TopicPartition]int64, len(offsets)),
	}
	for tp, off := range offsets {
		if off < 0 {
			return fmt.Errorf("%w: offset %d for %s", ErrOffsetOutOfRange, off, tp)
		}
		gc.Offsets[engine.TopicPartition(tp)] = off
	}
	// The write lock: a refused offset dooms the transaction, which
	// Commit must see; and sending offsets is rare.
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.check(); err != nil {
		return err
	}
	if len(gc.Offsets) == 0 {
		return nil
	}
	return t.outcome(t.eng.SendOffsets(ctx, gc))
}

// TransactionalConsumer is a consumer whose positions a transactional
// producer can commit: *SimpleConsumer and *BalancedConsumer.
type TransactionalConsumer interface {
	// GroupMetadata is the consumer's group membership.
	GroupMetadata() GroupMetadata
	// commitOffsets are the positions a commit would store now.
	commitOffsets() map[TopicPartition]int64
}

// SendConsumerOffsets adds a consumer's positions — what CommitOffsets would
// commit: the next offset of each partition it reads, or with CommitMarked
// the oldest not marked — to the open transaction, with its group
// membership. The consumer must not commit them itself (AutoCommit off).
func (p *Producer) SendConsumerOffsets(ctx context.Context, c TransactionalConsumer) error {
	return p.SendOffsets(ctx, c.GroupMetadata(), c.commitOffsets())
}

// commitOffsets is what a commit stores now, as plain offsets.
func (c *consumerCore) commitOffsets() map[TopicPartition]int64 {
	pos := c.commitPositions()
	out := make(map[TopicPartition]int64, len(pos))
	for tp, cm := range pos {
		out[tp] = cm.Offset
	}
	return out
}

// GroupMetadata is the consumer's group: Generation -1 and no member ids,
// since a simple consumer is no member.
func (c *SimpleConsumer) GroupMetadata() GroupMetadata {
	return GroupMetadata{Group: c.core.cfg.group, Generation: -1}
}

func (c *SimpleConsumer) commitOffsets() map[TopicPartition]int64 { return c.core.commitOffsets() }

// GroupMetadata is the member's group, generation and ids as of now (the
// generation changes at every rebalance of a Kafka-coordinated group).
func (c *BalancedConsumer) GroupMetadata() GroupMetadata {
	gen := c.generation()
	md := GroupMetadata{Group: c.cfg.Group, Generation: -1, MemberID: gen.MemberID}
	if gen.MemberID != "" {
		md.Generation = gen.ID
	}
	if gen.InstanceID != nil {
		md.InstanceID = *gen.InstanceID
	}
	return md
}

func (c *BalancedConsumer) commitOffsets() map[TopicPartition]int64 { return c.core.commitOffsets() }
