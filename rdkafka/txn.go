//go:build cgo && !nordkafka

package rdkafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
)

// txnProducer is the engine.TxnProducer of a ProducerConfig with a
// TransactionalID: the producer, on a librdkafka instance configured with
// transactional.id and transaction.timeout.ms, plus librdkafka's
// transactional calls. librdkafka speaks the protocol (FindCoordinator for
// the transaction coordinator, InitProducerID, AddPartitionsToTxn before
// the first batch to a partition, AddOffsetsToTxn and TxnOffsetCommit,
// EndTxn); Produce, Flush and the delivery reports are the producer's, on
// the same path as a producer without transactions.
//
// The transactional calls take turns (librdkafka runs one at a time), with
// Close's abort among them. librdkafka's init, commit and abort can be
// resumed after a timeout, so they are called in slices of txnSlice: a call
// watches its ctx (deadline and cancellation) and Close at least that
// often, and the operation goes on in librdkafka when a slice ends.
// Sending offsets cannot be resumed (a retry starts it again); it is given
// ctx's deadline whole, and librdkafka bounds it by the transaction's
// remaining time.
type txnProducer struct {
	*producer
	// turn holds one token while a transactional call runs (capacity 1);
	// a channel, so that a call waiting for its turn watches its ctx.
	turn chan struct{}
	// Under turn:
	inited bool // InitTransactions succeeded
	open   bool // a transaction is open: begun, not committed nor aborted
}

var _ engine.TxnProducer = (*txnProducer)(nil)

// txnSlice is the longest a resumable transactional call waits inside
// librdkafka before it looks at its ctx and at Close again.
const txnSlice = 250 * time.Millisecond

func newTxnProducer(p *producer) *txnProducer {
	return &txnProducer{producer: p, turn: make(chan struct{}, 1)}
}

// take waits for the turn to make a transactional call.
func (t *txnProducer) take(ctx context.Context, what string) error {
	select {
	case t.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("rdkafka: %s: waiting for another transactional call: %w", what, ctx.Err())
	}
}

func (t *txnProducer) give() { <-t.turn }

// takeUnclosed is take for a call that needs the producer open: Close may
// have run while the call waited for its turn, and then the turn is given
// back and the call fails with kerr.ErrClosed.
func (t *txnProducer) takeUnclosed(ctx context.Context, what string) error {
	if err := t.take(ctx, what); err != nil {
		return err
	}
	if t.closed.Load() {
		t.give()
		return kerr.ErrClosed
	}
	return nil
}

// BeginTxn implements engine.TxnProducer. The first call initializes the
// transactions (librdkafka's InitTransactions: the transaction coordinator,
// a producer id and epoch for the transactional id, which fences an older
// producer with the same id and aborts its open transaction); a call whose
// ctx ended during the initialization leaves it going on in librdkafka, and
// the next BeginTxn resumes it.
func (t *txnProducer) BeginTxn(ctx context.Context) error {
	if t.closed.Load() {
		return kerr.ErrClosed
	}
	if err := t.takeUnclosed(ctx, "begin transaction"); err != nil {
		return err
	}
	defer t.give()
	if t.open {
		return kerr.ErrTransactionOpen
	}
	if !t.inited {
		if err := t.call(ctx, "init transactions", true, t.closing, t.rd.InitTransactions); err != nil {
			return err
		}
		t.inited = true
	}
	if err := t.rd.BeginTransaction(); err != nil {
		return fmt.Errorf("rdkafka: begin transaction: %w", txnError(err, t.rd))
	}
	t.open = true
	return nil
}

// SendOffsets implements engine.TxnProducer with librdkafka's
// SendOffsetsToTransaction (AddOffsetsToTxn to the transaction coordinator,
// then TxnOffsetCommit v3+ to the group coordinator), with c's generation,
// member id and instance id (groupmeta.go): the group coordinator refuses
// a stale member, with kerr.IllegalGeneration or kerr.UnknownMemberID
// (kerr.FencedInstanceID for a static member), and the transaction must
// then be aborted (the error matches kerr.ErrAbortRequired too).
func (t *txnProducer) SendOffsets(ctx context.Context, c engine.GroupCommit) error {
	if t.closed.Load() {
		return kerr.ErrClosed
	}
	if c.Group == "" {
		return kerr.ErrNoGroup
	}
	tps := make([]kafka.TopicPartition, 0, len(c.Offsets))
	for tp, off := range c.Offsets {
		if off < 0 {
			// librdkafka would skip it silently (a logical offset).
			return fmt.Errorf("rdkafka: send offsets: %s offset %d: %w", tp, off, kerr.ErrOffsetOutOfRange)
		}
		topic := tp.Topic
		tps = append(tps, kafka.TopicPartition{Topic: &topic, Partition: tp.Partition, Offset: kafka.Offset(off)})
	}
	slices.SortFunc(tps, func(a, b kafka.TopicPartition) int {
		return cmp.Or(cmp.Compare(*a.Topic, *b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	md, err := groupMetadata(c)
	if err != nil {
		return err
	}
	if err := t.takeUnclosed(ctx, "send offsets"); err != nil {
		return err
	}
	defer t.give()
	if !t.open {
		return kerr.ErrNoTransaction
	}
	if len(tps) == 0 {
		return nil
	}
	return t.call(ctx, "send offsets of group "+c.Group, false, t.closing, func(ctx context.Context) error {
		return t.rd.SendOffsetsToTransaction(ctx, tps, md)
	})
}

// EndTxn implements engine.TxnProducer.
//
// Commit: it waits until every message of the transaction was reported
// (their DoneFuncs returned), then commits with librdkafka's
// CommitTransaction (which would flush by itself; here it finds nothing
// left). A message that failed makes librdkafka refuse the commit with an
// abortable error: kerr.ErrAbortRequired. If ctx ends first, the
// transaction stays open: EndTxn may be called again (a commit that had
// started resumes).
//
// Abort: librdkafka's AbortTransaction purges the messages not yet sent
// (their reports fail with kerr.ErrTransactionAborted), waits for those in
// flight, and aborts; EndTxn returns once every message was reported.
func (t *txnProducer) EndTxn(ctx context.Context, commit bool) error {
	if t.closed.Load() {
		return kerr.ErrClosed
	}
	if err := t.takeUnclosed(ctx, "end transaction"); err != nil {
		return err
	}
	defer t.give()
	if !t.open {
		return kerr.ErrNoTransaction
	}
	var err error
	if commit {
		if err = t.flush(ctx); err != nil {
			return fmt.Errorf("rdkafka: commit transaction: waiting for its messages: %w", err)
		}
		err = t.call(ctx, "commit transaction", true, t.closing, t.rd.CommitTransaction)
	} else {
		err = t.abort(ctx, t.closing)
	}
	if err == nil || t.rd.GetFatalError() != nil {
		// Done, or never again: a fatal error leaves Close only.
		t.open = false
	}
	return err
}

// abortSettle is how long an abort first lets the transaction's messages
// be reported (see abort).
const abortSettle = 2 * time.Second

// abort aborts the open transaction and waits for the reports of its
// messages.
//
// It first gives the messages up to abortSettle to be reported, because of
// a librdkafka bug (confluentinc/librdkafka#4849, open in 2.11.1): a
// transaction begun right after a commit sees its AddPartitionsToTxn
// refused with CONCURRENT_TRANSACTIONS while the coordinator still writes
// the commit's markers, and an abort in that window sends EndTxn(ABORT)
// although no partition was registered; the coordinator, whose state is
// still CompleteCommit, answers INVALID_TXN_STATE, which librdkafka makes
// fatal. Seen in the pipeline test at every rebalance that revoked a
// member right after its commit. Once a message of a partition is reported
// its partition was registered (librdkafka sends nothing before), so the
// abort then finds the transaction Ongoing. Messages still unreported
// after abortSettle (their partitions refused for good, or the broker
// down) are purged by the abort as before.
func (t *txnProducer) abort(ctx context.Context, stop <-chan struct{}) error {
	sctx, cancel := context.WithTimeout(ctx, abortSettle)
	_ = t.flush(sctx) // bounded; what is left is purged below
	cancel()
	err := t.call(ctx, "abort transaction", true, stop, t.rd.AbortTransaction)
	if ferr := t.flush(ctx); ferr != nil && err == nil {
		err = fmt.Errorf("rdkafka: abort transaction: waiting for the reports of its messages: %w", ferr)
	}
	return err
}

// Close implements engine.Producer: once Produce refuses new messages, an
// open transaction is aborted (within ctx, and no longer than the
// transaction timeout, after which the coordinator aborts it anyway), then
// the producer closes as one without transactions does.
func (t *txnProducer) Close(ctx context.Context) error {
	return t.producer.close(ctx, t.abortOnClose)
}

func (t *txnProducer) abortOnClose(ctx context.Context) error {
	// A transactional call in progress ends within a slice of
	// noticing that the producer closes (or, sending offsets, within
	// the transaction's remaining time).
	if err := t.take(ctx, "close"); err != nil {
		t.turn <- struct{}{} // never destroy librdkafka under a running call
	}
	defer t.give()
	if !t.open {
		return nil
	}
	t.open = false
	if fe := t.rd.GetFatalError(); fe != nil {
		// Fenced: the coordinator aborted the transaction when the
		// newer producer started. Other fatal errors: nothing can
		// be sent any more; the coordinator aborts it after the
		// transaction timeout.
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.TransactionTimeout)
	defer cancel()
	if err := t.abort(ctx, nil); err != nil {
		return fmt.Errorf("rdkafka: close: the open transaction was not aborted (the coordinator aborts it after the transaction timeout): %w", err)
	}
	return nil
}

// call runs a transactional call of librdkafka until it succeeds, fails
// for good, ctx ends or stop is closed. A resumable call is made in slices
// of txnSlice, and a slice that times out is resumed at once; other
// retriable errors are retried after a backoff. librdkafka's conflict
// errors (another transactional call is in progress in librdkafka, which
// happens when a commit's ctx ended and an abort follows) are returned, not
// retried: they do not go away by themselves.
func (t *txnProducer) call(ctx context.Context, what string, resumable bool, stop <-chan struct{}, fn func(context.Context) error) error {
	var last error
	for attempt := 0; ; {
		select {
		case <-stop:
			return t.ended(what, kerr.ErrClosed, last)
		default:
		}
		if err := ctx.Err(); err != nil {
			return t.ended(what, err, last)
		}
		cctx, cancel := ctx, context.CancelFunc(func() {})
		if resumable {
			cctx, cancel = context.WithTimeout(ctx, txnSlice)
		}
		err := fn(cctx)
		cancel()
		if err == nil {
			return nil
		}
		var ke kafka.Error
		if !errors.As(err, &ke) || !ke.IsRetriable() || ke.IsFatal() || ke.TxnRequiresAbort() ||
			ke.Code() == kafka.ErrConflict || ke.Code() == kafka.ErrPrevInProgress {
			return fmt.Errorf("rdkafka: %s: %w", what, txnError(err, t.rd))
		}
		last = err
		if resumable && ke.Code() == kafka.ErrTimedOut {
			continue // the operation goes on in librdkafka: resume it
		}
		attempt++
		d := min(t.cfg.RetryBackoff<<min(attempt-1, 10), time.Second)
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-ctx.Done():
		case <-stop:
		}
		timer.Stop()
	}
}

// ended is the error of a call that ctx (or Close) ended, with the last
// retriable error librdkafka gave.
func (t *txnProducer) ended(what string, why, last error) error {
	if last == nil {
		return fmt.Errorf("rdkafka: %s: %w", what, why)
	}
	return fmt.Errorf("rdkafka: %s: %w (last error: %w)", what, why, mapError(last))
}
