package produce

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/offsets"
)

// TxnProducer is the transactional producer (engine.TxnProducer): a Producer
// whose messages all belong to transactions, with one transactional id.
// Safe for concurrent use; the root calls BeginTxn, SendOffsets and EndTxn
// in a valid order, and they run one at a time. See the package
// documentation for the protocol and the errors.
type TxnProducer struct {
	*Producer
}

var _ engine.TxnProducer = (*TxnProducer)(nil)

// BeginTxn implements engine.TxnProducer. The first call finds the
// transaction coordinator and gets the producer ID and epoch of the
// transactional id (InitProducerID), which fences older producers of the id
// and aborts what they left open; it also picks the protocol (transactions
// v2 where the cluster has finalized transaction.version 2, the classic one
// otherwise). If ctx ends first, BeginTxn returns its error and may be
// called again.
func (tp *TxnProducer) BeginTxn(ctx context.Context) error { return tp.tx.begin(ctx) }

// SendOffsets implements engine.TxnProducer. Any failure, the end of ctx
// included, leaves the transaction able to abort only (an error matching
// kerr.ErrAbortRequired), or the producer fenced.
func (tp *TxnProducer) SendOffsets(ctx context.Context, c engine.GroupCommit) error {
	return tp.tx.sendOffsets(ctx, c)
}

// EndTxn implements engine.TxnProducer. A commit waits for every message of
// the transaction; an abort fails the messages not sent yet and waits only
// for those in flight. If ctx ends first, the transaction is still being
// ended: call EndTxn again with the same commit.
func (tp *TxnProducer) EndTxn(ctx context.Context, commit bool) error {
	return tp.tx.end(ctx, commit)
}

// txn is a transactional producer's transaction state. Produce and the
// sinks read the atomic fields; BeginTxn, SendOffsets, EndTxn and Close's
// abort hold ctl, one at a time.
type txn struct {
	p     *Producer
	id    string
	coord *cluster.Coordinator

	ctl   chan struct{} // capacity 1: the control calls, one at a time (a channel, so waiting honours ctx)
	reqMu sync.Mutex    // one request to the transaction coordinator at a time

	seq      atomic.Uint64              // the open (or last) transaction's number, from 1
	open     atomic.Bool                // Produce may add to the transaction
	v2       atomic.Bool                // transactions v2 (KIP-890); chosen once, at init
	most     atomic.Int32               // highest Produce version (the classic protocol: 11)
	failure  atomic.Pointer[txnFailure] // why the transaction (or, fatal, the producer) failed
	dropErr  atomic.Pointer[error]      // set: batches not in flight fail with it (failure or abort)
	notOpen  error                      // Produce outside a transaction
	forceOld bool                       // tests: the classic protocol even where v2 is available
	adds     atomic.Int32               // AddPartitionsToTxn requests sent (tests)

	mu       sync.Mutex
	pending  []*partition // classic: partitions waiting for AddPartitionsToTxn
	adding   bool         // the adder goroutine runs
	started  int8         // the coordinator knows of the transaction: none, maybe (a request without an answer), yes
	needBump bool         // classic: bump the epoch after the abort (KIP-360)

	// Held with ctl.
	inited  bool
	canBump bool // the coordinator takes InitProducerID v3+ (KIP-360 epoch bumps)
	active  bool // between BeginTxn and the end of EndTxn
	ending  int8 // the EndTxn under way (its request may have been sent): endCommit or endAbort
	bumpDue bool // an epoch bump still to do (its EndTxn's caller ran out of time)
	groups  map[string]*offsets.Group
}

// txnFailure is what ended a transaction (abortable) or the producer
// (fatal); err is what the calls return.
type txnFailure struct {
	err   error
	fatal bool
}

const (
	startedNone  = 0
	startedMaybe = 1
	startedYes   = 2

	endCommit = 1
	endAbort  = 2

	// maxGroups bounds the offset stores kept for SendOffsets (one per
	// consumer group; a pipeline has one).
	maxGroups = 16
)

func newTxn(p *Producer) *txn {
	t := &txn{
		p:      p,
		id:     p.cfg.TransactionalID,
		coord:  cluster.NewCoordinator(p.cl, cluster.TxnCoordinator, p.cfg.TransactionalID),
		ctl:    make(chan struct{}, 1),
		groups: map[string]*offsets.Group{},
	}
	t.notOpen = fmt.Errorf("%w: transactional producer %q produces inside transactions only", kerr.ErrNoTransaction, t.id)
	t.most.Store(math.MaxInt16)
	return t
}

// lock takes ctl, unless ctx ends or the producer is closed first.
func (t *txn) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err // not a coin toss with a free ctl
	}
	select {
	case t.ctl <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if t.p.closed.Load() {
		t.unlock()
		return fmt.Errorf("%w: transactional producer %q", kerr.ErrClosed, t.id)
	}
	return nil
}

func (t *txn) unlock() { <-t.ctl }

// produceMost is the highest Produce version the sinks may send.
func (t *txn) produceMost() int16 { return int16(t.most.Load()) }

// produceErr is why Produce must refuse a message now, or nil. Produce
// calls it before and again under the partition's lock.
func (t *txn) produceErr() error {
	if f := t.failure.Load(); f != nil {
		return f.err
	}
	if !t.open.Load() {
		return t.notOpen
	}
	return nil
}

// dropping is the error batches not in flight fail with now, or nil.
func (t *txn) dropping() *error { return t.dropErr.Load() }

// joinLocked puts pt in the open transaction, if it is not yet: with
// transactions v2 the partition leader adds it to the transaction when the
// first batch arrives; with the classic protocol the adder sends
// AddPartitionsToTxn first (and the sinks hold its batches until then).
// The caller holds pt.mu and checked produceErr.
func (t *txn) joinLocked(pt *partition) {
	seq := t.seq.Load()
	if pt.joined == seq {
		return
	}
	pt.joined = seq
	if t.v2.Load() {
		pt.added = seq
		t.mu.Lock()
		t.started = startedYes
		t.mu.Unlock()
		return
	}
	t.mu.Lock()
	t.pending = append(t.pending, pt)
	start := !t.adding
	t.adding = true
	t.mu.Unlock()
	if start && !t.p.spawn(t.addLoop) {
		t.mu.Lock()
		t.adding = false // closing: Close fails what is left
		t.mu.Unlock()
	}
}

// sendableLocked reports whether a sink may send pt's head batch: not while
// the transaction is failing or aborting (the batches go, failed), nor
// before the coordinator has the partition in the transaction. The caller
// holds pt.mu; pt has batches and none in flight.
func (t *txn) sendableLocked(pt *partition, sc *scan) bool {
	if t.dropping() != nil {
		if t.dropLocked(pt) {
			sc.reporters = append(sc.reporters, pt)
		}
		return false
	}
	if pt.added != pt.joined {
		sc.busy = true
		sc.next = earliest(sc.next, pt.batches[0].deadline) // to expire it on time
		return false
	}
	return true
}

// drop fails pt's batches that are not in flight, if the transaction is
// failing or aborting, and reports whether the caller must run pt's
// reporter.
func (t *txn) drop(pt *partition) bool {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return t.dropLocked(pt)
}

func (t *txn) dropLocked(pt *partition) (report bool) {
	errp := t.dropping()
	if errp == nil {
		return false
	}
	for len(pt.batches) > 0 && !pt.inflight {
		b := pt.batches[0]
		if b.gen != 0 {
			// Sent before and waiting for a retry: it may have been
			// written, and its sequence numbers are spent.
			t.mu.Lock()
			t.needBump = true
			t.mu.Unlock()
		}
		b.dropped = true
		report = pt.completeLocked(b, fmt.Errorf("kafka: producing to %s/%d: %w", pt.topic, pt.id, *errp), -1, -1) || report
	}
	return report
}

// dropAll fails the batches not in flight of every partition.
func (t *txn) dropAll() {
	for _, pt := range t.p.partitions() {
		if t.drop(pt) {
			t.p.report(pt)
		}
	}
}

// batchFailed is the reporter's news that a batch of the transaction
// failed (not one the transaction dropped): the transaction can only abort,
// or, for the errors Java's client calls fatal, the producer is done.
func (t *txn) batchFailed(err error) {
	if isFatal(err) {
		t.fail(err, true)
		return
	}
	if !t.v2.Load() {
		// Java's rule: after a failed batch the classic protocol
		// bumps the epoch, so that nothing of the batch can land
		// later and its sequence numbers start afresh.
		t.mu.Lock()
		t.needBump = true
		t.mu.Unlock()
	}
	t.fail(err, false)
}

// fail records that the transaction (fatal: the producer) failed with
// cause, unless an earlier failure stands (a fatal one overrides an
// abortable one), and fails what is queued.
func (t *txn) fail(cause error, fatal bool) {
	var err error
	switch {
	case fatal && isFenced(cause):
		err = fmt.Errorf("kafka: transactional producer %q: %w: %w", t.id, kerr.ErrProducerFenced, cause)
	case fatal:
		err = fmt.Errorf("kafka: transactional producer %q cannot go on: %w", t.id, cause)
	default:
		err = fmt.Errorf("kafka: transactional producer %q: %w: %w", t.id, kerr.ErrAbortRequired, cause)
	}
	t.mu.Lock()
	if cur := t.failure.Load(); cur != nil && (cur.fatal || !fatal) {
		t.mu.Unlock()
		return
	}
	t.failure.Store(&txnFailure{err: err, fatal: fatal})
	t.dropErr.Store(&err)
	t.mu.Unlock()
	t.p.log.Warn("gokafka: transaction failed", "transactional_id", t.id, "fatal", fatal, "err", cause)
	t.dropAll()
}

// fatalErr is the producer's fatal failure, or nil.
func (t *txn) fatalErr() error {
	if f := t.failure.Load(); f != nil && f.fatal {
		return f.err
	}
	return nil
}

// begin opens a transaction (see TxnProducer.BeginTxn).
func (t *txn) begin(ctx context.Context) error {
	if err := t.lock(ctx); err != nil {
		return err
	}
	defer t.unlock()
	if err := t.fatalErr(); err != nil {
		return err
	}
	if t.active {
		return fmt.Errorf("%w: transactional producer %q", kerr.ErrTransactionOpen, t.id)
	}
	if !t.inited {
		if err := t.init(ctx); err != nil {
			return err
		}
	}
	if t.bumpDue {
		if err := t.bump(ctx); err != nil {
			return err
		}
	}
	t.mu.Lock()
	t.started = startedNone
	t.needBump = false
	t.pending = t.pending[:0]
	t.mu.Unlock()
	t.failure.Store(nil)
	t.dropErr.Store(nil)
	t.seq.Add(1)
	t.active = true
	t.open.Store(true)
	return nil
}

// sendOffsets adds a group's offsets to the transaction (see
// TxnProducer.SendOffsets).
func (t *txn) sendOffsets(ctx context.Context, c engine.GroupCommit) error {
	if err := t.lock(ctx); err != nil {
		return err
	}
	defer t.unlock()
	if f := t.failure.Load(); f != nil {
		return f.err
	}
	if !t.active || !t.open.Load() {
		return fmt.Errorf("%w: SendOffsets of transactional producer %q", kerr.ErrNoTransaction, t.id)
	}
	if len(c.Offsets) == 0 {
		return nil
	}
	if c.Group == "" {
		return fmt.Errorf("%w: SendOffsets without a consumer group", kerr.ErrNoGroup)
	}
	g, err := t.group(c.Group)
	if err != nil {
		return err
	}
	if err := t.addOffsets(ctx, c.Group); err != nil {
		return t.offsetsFailed(err)
	}
	commits := make(map[offsets.TopicPartition]offsets.Commit, len(c.Offsets))
	for tp, off := range c.Offsets {
		commits[offsets.TopicPartition(tp)] = offsets.At(off)
	}
	gen := offsets.Generation{ID: c.Generation, MemberID: c.MemberID}
	if c.InstanceID != "" {
		gen.InstanceID = &c.InstanceID
	}
	id := t.p.pid.Load()
	err = g.TxnCommit(ctx, commits, gen, offsets.Txn{ID: t.id, ProducerID: id.id, Epoch: id.epoch, V2: t.v2.Load()})
	if err != nil {
		return t.offsetsFailed(err)
	}
	return nil
}

// offsetsFailed makes a failed SendOffsets fail the transaction: the
// offsets may be in it in part (a partition refused, or ctx ended with the
// request in flight), and a transaction that commits the output of records
// without all of their offsets would have them processed again.
func (t *txn) offsetsFailed(err error) error {
	t.fail(err, isFatal(err))
	if f := t.failure.Load(); f != nil {
		return f.err
	}
	return err
}

// group returns the offset store of a consumer group.
func (t *txn) group(id string) (*offsets.Group, error) {
	if g := t.groups[id]; g != nil {
		return g, nil
	}
	g, err := offsets.NewGroup(t.p.cl, id, offsets.GroupOptions{})
	if err != nil {
		return nil, err
	}
	if len(t.groups) >= maxGroups {
		for k := range t.groups {
			delete(t.groups, k)
			break
		}
	}
	t.groups[id] = g
	return g, nil
}

// end commits or aborts the open transaction (see TxnProducer.EndTxn).
func (t *txn) end(ctx context.Context, commit bool) error {
	if err := t.lock(ctx); err != nil {
		return err
	}
	defer t.unlock()
	return t.endLocked(ctx, commit)
}

// closeAbort aborts the open transaction, if any, for Close.
func (t *txn) closeAbort(ctx context.Context) error {
	select {
	case t.ctl <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("kafka: aborting the open transaction of %q on close: %w", t.id, ctx.Err())
	}
	defer t.unlock()
	if !t.active || t.fatalErr() != nil {
		return nil
	}
	if err := t.endLocked(ctx, false); err != nil {
		return fmt.Errorf("kafka: aborting the open transaction of %q on close: %w", t.id, err)
	}
	return nil
}

func (t *txn) endLocked(ctx context.Context, commit bool) error {
	if err := t.fatalErr(); err != nil {
		return err
	}
	if !t.active {
		return fmt.Errorf("%w: EndTxn of transactional producer %q", kerr.ErrNoTransaction, t.id)
	}
	want := int8(endAbort)
	if commit {
		want = endCommit
	}
	if t.ending != 0 && t.ending != want {
		// The coordinator may have the first decision already.
		return fmt.Errorf("%w: transactional producer %q: an earlier %s of this transaction was cut short; repeat it",
			kerr.ErrTransactionOpen, t.id, map[int8]string{endCommit: "commit", endAbort: "abort"}[t.ending])
	}
	if f := t.failure.Load(); commit && f != nil {
		return f.err
	}
	if errp := t.dropping(); commit && errp != nil {
		// An abort cut short has failed messages already.
		return fmt.Errorf("%w: transactional producer %q: an abort of this transaction is under way", kerr.ErrAbortRequired, t.id)
	}

	// No more messages join; then the transaction's messages settle. An
	// abort fails those not sent yet (they must not be written) and
	// waits for those in flight, whose outcome must be known before the
	// markers are written.
	t.open.Store(false)
	if !commit && t.dropping() == nil {
		err := fmt.Errorf("%w: transactional producer %q", kerr.ErrTransactionAborted, t.id)
		t.dropErr.Store(&err)
	}
	t.dropAll() // also the barrier: Produce checks open under each partition's lock
	if err := t.p.flush(ctx); err != nil {
		return fmt.Errorf("kafka: ending the transaction of %q: %w", t.id, err)
	}
	if f := t.failure.Load(); commit && f != nil {
		// A message failed while the commit waited: abort it is.
		t.ending = 0
		return f.err
	}

	t.ending = want
	err := t.endTxn(ctx, commit)
	switch {
	case err == nil:
	case isContextErr(err) || errors.Is(err, kerr.ErrClosed):
		return fmt.Errorf("kafka: ending the transaction of %q: %w", t.id, err)
	case isFatal(err):
		t.fail(err, true)
		return t.fatalErr()
	default:
		// TRANSACTION_ABORTABLE, UNKNOWN_PRODUCER_ID: the transaction
		// can only abort (an abort that met them: abort again).
		if errors.Is(err, kerr.UnknownProducerID) && !t.v2.Load() {
			if !t.canBump {
				t.fail(err, true)
				return t.fatalErr()
			}
			t.mu.Lock()
			t.needBump = true
			t.mu.Unlock()
		}
		t.fail(err, false)
		if commit {
			t.ending = 0
		}
		return t.failure.Load().err
	}

	t.mu.Lock()
	bump := t.needBump && !commit && !t.v2.Load()
	t.mu.Unlock()
	t.ending = 0
	t.active = false
	if f := t.failure.Load(); f != nil && !f.fatal {
		t.failure.Store(nil)
	}
	t.dropErr.Store(nil)
	if bump {
		// KIP-360: a new epoch for the next transaction, so that
		// nothing of this one can land later; a failure here leaves
		// it for the next BeginTxn.
		t.bumpDue = true
		if err := t.bump(ctx); err != nil && t.fatalErr() != nil {
			return err
		}
	}
	return nil
}

// isFatal reports the errors after which a transactional producer cannot
// go on, whatever request met them (Java's client: ProducerFenced,
// TransactionalIdAuthorization, ClusterAuthorization, InvalidPidMapping,
// UnsupportedVersion).
func isFatal(err error) bool {
	return isFenced(err) ||
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed) ||
		errors.Is(err, kerr.ClusterAuthorizationFailed) ||
		errors.Is(err, kerr.InvalidProducerIDMapping) ||
		errors.Is(err, kerr.UnsupportedVersion) ||
		errors.Is(err, kerr.ErrUnsupportedVersion) ||
		errors.Is(err, kerr.UnsupportedForMessageFormat) ||
		errors.Is(err, errCoordFatal)
}

// isFenced reports PRODUCER_FENCED. INVALID_PRODUCER_EPOCH is fencing too
// when the transaction coordinator answers it (coordFenced); a partition
// leader answers it to a Produce of an epoch the coordinator has moved
// past, which the transaction survives by aborting (as in Java's client).
func isFenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, errCoordFenced)
}

// isAbortable reports the errors after which the transaction can only
// abort and the producer goes on.
func isAbortable(err error) bool {
	return errors.Is(err, kerr.TransactionAbortable) ||
		errors.Is(err, kerr.TopicAuthorizationFailed) ||
		errors.Is(err, kerr.GroupAuthorizationFailed) ||
		errors.Is(err, kerr.OperationNotAttempted)
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
