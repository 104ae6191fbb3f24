package produce

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file holds the requests to the transaction coordinator:
// InitProducerID (the first BeginTxn, and KIP-360 epoch bumps),
// AddPartitionsToTxn (the adder goroutine, classic protocol),
// AddOffsetsToTxn (classic protocol) and EndTxn, with the retry rules of
// Java's TransactionManager.

// Request versions where the protocols part: transactions v2 are Produce
// v12, EndTxn v5 and TxnOffsetCommit v5 (offsets.Txn.V2); the classic
// protocol stays below them.
const (
	produceV2 = 12
	endTxnV2  = 5
)

var (
	// errCoordFenced marks INVALID_PRODUCER_EPOCH from the transaction
	// coordinator: a newer producer took the transactional id (older
	// coordinators answer it for PRODUCER_FENCED).
	errCoordFenced = errors.New("the transaction coordinator knows a newer epoch")
	// errCoordFatal marks a coordinator's answer after which Java's
	// client gives the producer up (INVALID_TXN_STATE, an error it does
	// not expect, ...).
	errCoordFatal = errors.New("refused for good by the transaction coordinator")
	// errStale ends a request the transaction no longer needs.
	errStale = errors.New("produce: transaction request no longer needed")
	// errSkip: nothing to send (EndTxn of a transaction the coordinator
	// never heard of).
	errSkip = errors.New("produce: nothing to send")
)

// call sends a request to the transaction coordinator and returns the
// error its answer carries (answer reads it), retrying as Java's client
// does: the coordinator looked up again when it moved (NOT_COORDINATOR,
// COORDINATOR_NOT_AVAILABLE, a lost connection), any retriable answer
// (CONCURRENT_TRANSACTIONS while the previous transaction completes,
// COORDINATOR_LOAD_IN_PROGRESS) sent again after a backoff, until ctx
// ends. build makes the request afresh for each attempt, holding reqMu, and
// may return errStale or errSkip to send nothing; answer runs under reqMu
// too. most caps the request's version.
func (t *txn) call(ctx context.Context, most int16, build func() (kmsg.Request, error), answer func(*cluster.Broker, kmsg.Response) error) error {
	var last error
	for attempt := 1; ; attempt++ {
		err := t.callOnce(ctx, most, build, answer)
		if err == nil || errors.Is(err, errStale) || errors.Is(err, errSkip) {
			return err
		}
		if ctx.Err() != nil {
			if last == nil {
				last = err
			}
			return cluster.GaveUp(ctx, last)
		}
		if !t.p.cl.Retriable(err) {
			return err
		}
		last = err
		d := t.p.cl.BackoffAfter(err, attempt)
		t.p.log.Debug("gokafka: transaction request failed, retrying", "transactional_id", t.id, "attempt", attempt, "err", err)
		if serr := t.p.cl.Sleep(ctx, d); serr != nil {
			if errors.Is(serr, kerr.ErrClosed) {
				return serr
			}
			return cluster.GaveUp(ctx, last)
		}
	}
}

func (t *txn) callOnce(ctx context.Context, most int16, build func() (kmsg.Request, error), answer func(*cluster.Broker, kmsg.Response) error) error {
	b, err := t.coord.Broker(ctx)
	if err != nil {
		return err
	}
	t.reqMu.Lock()
	defer t.reqMu.Unlock()
	req, err := build()
	if err != nil {
		return err
	}
	resp, err := b.RequestAtMost(ctx, req, most)
	if err == nil {
		err = answer(b, resp)
	}
	t.coord.Failed(b, err)
	return err
}

// coordErr marks a non-retriable answer of the transaction coordinator
// with what Java's client makes of it: fenced (PRODUCER_FENCED,
// INVALID_PRODUCER_EPOCH), fatal (INVALID_TXN_STATE,
// INVALID_PRODUCER_ID_MAPPING, authorization, and, when unexpected is set,
// any code the request has no rule for), or left as it is (abortable:
// UNKNOWN_PRODUCER_ID, TRANSACTION_ABORTABLE, ...). Retriable errors pass
// unchanged, for call to retry.
func coordErr(err error, unexpected bool) error {
	switch {
	case err == nil, kerr.IsRetriable(err):
		return err
	case errors.Is(err, kerr.ProducerFenced):
		return err
	case errors.Is(err, kerr.InvalidProducerEpoch):
		return fmt.Errorf("%w: %w", errCoordFenced, err)
	case errors.Is(err, kerr.InvalidTxnState), errors.Is(err, kerr.InvalidTransactionTimeout), isFatal(err):
		return fmt.Errorf("%w: %w", errCoordFatal, err)
	case errors.Is(err, kerr.UnknownProducerID), isAbortable(err):
		return err
	case unexpected:
		return fmt.Errorf("%w: %w", errCoordFatal, err)
	}
	return err
}

// setPID makes id/epoch the producer ID that batches are stamped with from
// now on. Each one is a new generation: partitions adopt it at their next
// batch and restart their sequences at 0. Called while no batch exists.
func (t *txn) setPID(id int64, epoch int16) {
	p := t.p
	p.pidMu.Lock()
	p.pidGen++
	p.pid.Store(&producerID{id: id, epoch: epoch, gen: p.pidGen})
	p.pidMu.Unlock()
	p.log.Debug("gokafka: transactional producer ID", "transactional_id", t.id, "id", id, "epoch", epoch)
}

// initRequest is InitProducerID for the transactional id; with cur, a
// KIP-360 epoch bump of the current producer ID.
func (t *txn) initRequest(cur *producerID) *kmsg.InitProducerIDRequest {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID = &t.id
	req.TransactionTimeoutMillis = int32(t.p.cfg.TransactionTimeout / time.Millisecond)
	if cur != nil {
		req.ProducerID, req.ProducerEpoch = cur.id, cur.epoch
	}
	return req
}

// init gets the producer ID and epoch of the transactional id, which fences
// older producers of the id, and chooses the protocol. Called with ctl.
func (t *txn) init(ctx context.Context) error {
	var coordinator *cluster.Broker
	var pid int64
	var epoch int16
	err := t.call(ctx, math.MaxInt16, func() (kmsg.Request, error) {
		return t.initRequest(nil), nil
	}, func(b *cluster.Broker, resp kmsg.Response) error {
		r := resp.(*kmsg.InitProducerIDResponse)
		coordinator, pid, epoch = b, r.ProducerID, r.ProducerEpoch
		return coordErr(kerr.ForCode(r.ErrorCode), true)
	})
	if err == nil {
		err = t.chooseProtocol(ctx, coordinator)
	}
	if err != nil {
		if isFatal(err) {
			t.fail(err, true)
			return t.fatalErr()
		}
		return fmt.Errorf("kafka: initializing transactional producer %q: %w", t.id, err)
	}
	t.setPID(pid, epoch)
	t.inited = true
	return nil
}

// chooseProtocol picks transactions v2 where the cluster finalized
// transaction.version 2 (KIP-890) and the coordinator speaks EndTxn v5, the
// classic protocol otherwise, as Java's client does when it initializes.
// The choice holds for the producer's life: a cluster that finalizes
// version 2 later is served the classic protocol, which it still accepts.
func (t *txn) chooseProtocol(ctx context.Context, coordinator *cluster.Broker) error {
	conn, err := coordinator.Conn(ctx, cluster.LaneGeneral)
	if err != nil {
		return err
	}
	vs := conn.Versions()
	level, _ := vs.Finalized("transaction.version")
	endMax, _ := vs.Max(26)  // EndTxn
	initMax, _ := vs.Max(22) // InitProducerID
	v2 := level >= 2 && endMax >= endTxnV2 && !t.forceOld
	t.v2.Store(v2)
	t.canBump = initMax >= 3
	if !v2 {
		t.most.Store(produceV2 - 1)
	}
	t.p.log.Info("gokafka: transactional producer ready", "transactional_id", t.id, "transactions_v2", v2, "epoch_bumps", t.canBump)
	return nil
}

// bump gets a new epoch for the current producer ID (KIP-360: InitProducerID
// v3+ with the ID and epoch, which the coordinator checks, so that it cannot
// fence a newer producer of the id). Called with ctl, after an abort.
func (t *txn) bump(ctx context.Context) error {
	if !t.canBump {
		err := fmt.Errorf("%w: the transaction coordinator cannot bump the epoch (InitProducerID v3, Kafka 2.5), so the failed transaction's sequence numbers cannot be retired", kerr.ErrUnsupported)
		t.fail(err, true)
		return t.fatalErr()
	}
	cur := t.p.pid.Load()
	var pid int64
	var epoch int16
	err := t.call(ctx, math.MaxInt16, func() (kmsg.Request, error) {
		return t.initRequest(cur), nil
	}, func(b *cluster.Broker, resp kmsg.Response) error {
		r := resp.(*kmsg.InitProducerIDResponse)
		if r.Version < 3 {
			return fmt.Errorf("%w: broker %d answered InitProducerID v%d to an epoch bump", kerr.ErrUnsupportedVersion, b.ID, r.Version)
		}
		pid, epoch = r.ProducerID, r.ProducerEpoch
		return coordErr(kerr.ForCode(r.ErrorCode), true)
	})
	if err != nil {
		if isFatal(err) {
			t.fail(err, true)
			return t.fatalErr()
		}
		return fmt.Errorf("kafka: bumping the epoch of transactional producer %q: %w", t.id, err)
	}
	t.setPID(pid, epoch)
	t.bumpDue = false
	return nil
}

// addLoop is the adder goroutine of the classic protocol: it sends
// AddPartitionsToTxn for the partitions that joined the transaction, as
// many per request as are waiting, until none is.
func (t *txn) addLoop() {
	defer t.p.wg.Done()
	for {
		t.mu.Lock()
		todo := t.pending
		t.pending = nil
		if len(todo) == 0 {
			t.adding = false
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
		t.addPartitions(todo)
	}
}

// addPartitions adds partitions of the current transaction to it and lets
// their sinks send.
func (t *txn) addPartitions(todo []*partition) {
	seq := t.seq.Load()
	live := todo[:0]
	for _, pt := range todo {
		pt.mu.Lock()
		if pt.joined == seq && pt.added != seq {
			live = append(live, pt)
		}
		pt.mu.Unlock()
	}
	if len(live) == 0 {
		return
	}
	slices.SortFunc(live, func(a, b *partition) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return int(a.id) - int(b.id)
	})
	id := t.p.pid.Load()
	err := t.call(t.p.ctx, 3, func() (kmsg.Request, error) {
		// Not for a transaction that is over or failing: its
		// partitions must not start the coordinator's next one.
		if t.seq.Load() != seq || t.dropping() != nil {
			return nil, errStale
		}
		t.mu.Lock()
		if t.started == startedNone {
			t.started = startedMaybe
		}
		t.mu.Unlock()
		t.adds.Add(1)
		req := kmsg.NewPtrAddPartitionsToTxnRequest()
		req.TransactionalID = t.id
		req.ProducerID, req.ProducerEpoch = id.id, id.epoch
		for _, pt := range live {
			if n := len(req.Topics); n == 0 || req.Topics[n-1].Topic != pt.topic {
				rt := kmsg.NewAddPartitionsToTxnRequestTopic()
				rt.Topic = pt.topic
				req.Topics = append(req.Topics, rt)
			}
			rt := &req.Topics[len(req.Topics)-1]
			rt.Partitions = append(rt.Partitions, pt.id)
		}
		return req, nil
	}, func(_ *cluster.Broker, resp kmsg.Response) error {
		err := addPartitionsOutcome(resp.(*kmsg.AddPartitionsToTxnResponse), live)
		if err == nil {
			t.mu.Lock()
			t.started = startedYes
			t.mu.Unlock()
		}
		return err
	})
	switch {
	case err == nil:
		for _, pt := range live {
			pt.mu.Lock()
			if pt.joined == seq {
				pt.added = seq
			}
			s := pt.sink
			pt.mu.Unlock()
			if s != nil {
				s.wake()
			}
		}
	case errors.Is(err, errStale), t.p.ctx.Err() != nil:
	default:
		t.fail(fmt.Errorf("kafka: adding %d partition(s) to the transaction: %w", len(live), err), isFatal(err))
	}
}

// addPartitionsOutcome is the error an AddPartitionsToTxn answer carries:
// nil when every partition was added; else a retriable error (call sends
// the request again, as Java does for the whole set), or the first other
// one, classified (coordErr).
func addPartitionsOutcome(r *kmsg.AddPartitionsToTxnResponse, live []*partition) error {
	var final error
	seen := 0
	for _, rt := range r.Topics {
		for _, rp := range rt.Partitions {
			seen++
			err := kerr.ForCode(rp.ErrorCode)
			if err == nil {
				continue
			}
			err = fmt.Errorf("%s/%d: %w", rt.Topic, rp.Partition, err)
			if kerr.IsRetriable(err) {
				return err
			}
			if final == nil || errors.Is(final, kerr.OperationNotAttempted) {
				final = err
			}
		}
	}
	if final != nil {
		return coordErr(final, false)
	}
	if seen < len(live) {
		return fmt.Errorf("%w: AddPartitionsToTxn answered %d of %d partitions", kerr.ErrCorruptResponse, seen, len(live))
	}
	return nil
}

// addOffsets is AddOffsetsToTxn for a group (classic protocol: the group's
// offsets partition joins the transaction before TxnOffsetCommit); with
// transactions v2 TxnOffsetCommit does it. Called with ctl.
func (t *txn) addOffsets(ctx context.Context, group string) error {
	t.mu.Lock()
	if t.v2.Load() {
		t.started = startedYes
	} else if t.started == startedNone {
		t.started = startedMaybe
	}
	t.mu.Unlock()
	if t.v2.Load() {
		return nil
	}
	id := t.p.pid.Load()
	return t.call(ctx, math.MaxInt16, func() (kmsg.Request, error) {
		req := kmsg.NewPtrAddOffsetsToTxnRequest()
		req.TransactionalID = t.id
		req.ProducerID, req.ProducerEpoch = id.id, id.epoch
		req.Group = group
		return req, nil
	}, func(_ *cluster.Broker, resp kmsg.Response) error {
		err := coordErr(kerr.ForCode(resp.(*kmsg.AddOffsetsToTxnResponse).ErrorCode), true)
		if err == nil {
			t.mu.Lock()
			t.started = startedYes
			t.mu.Unlock()
		}
		return err
	})
}

// endTxn sends EndTxn, unless the coordinator never heard of the
// transaction. With transactions v2 the answer carries the producer ID and
// epoch of the next transaction. Called with ctl, once every batch of the
// transaction is done.
func (t *txn) endTxn(ctx context.Context, commit bool) error {
	v2 := t.v2.Load()
	most := int16(endTxnV2 - 1)
	if v2 {
		most = endTxnV2
	}
	id := t.p.pid.Load()
	var started int8
	var next *producerID
	err := t.call(ctx, most, func() (kmsg.Request, error) {
		t.mu.Lock()
		started = t.started
		t.mu.Unlock()
		if started == startedNone {
			return nil, errSkip
		}
		req := kmsg.NewPtrEndTxnRequest()
		req.TransactionalID = t.id
		req.ProducerID, req.ProducerEpoch = id.id, id.epoch
		req.Commit = commit
		return req, nil
	}, func(b *cluster.Broker, resp kmsg.Response) error {
		r := resp.(*kmsg.EndTxnResponse)
		err := kerr.ForCode(r.ErrorCode)
		if errors.Is(err, kerr.InvalidTxnState) && !commit && started == startedMaybe {
			// The only request that could have started the
			// transaction never got an answer, and the coordinator
			// has no transaction to abort: nothing to do.
			return nil
		}
		if err == nil && v2 {
			if r.Version < endTxnV2 || r.ProducerID < 0 {
				return fmt.Errorf("%w: broker %d ended a transaction of transactions v2 with EndTxn v%d", kerr.ErrUnsupportedVersion, b.ID, r.Version)
			}
			next = &producerID{id: r.ProducerID, epoch: r.ProducerEpoch}
		}
		return coordErr(err, true)
	})
	if errors.Is(err, errSkip) {
		return nil
	}
	if err == nil && next != nil {
		t.setPID(next.id, next.epoch)
	}
	return err
}
