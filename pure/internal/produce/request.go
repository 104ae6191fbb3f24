package produce

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// request is one Produce request being built or in flight: one batch from
// each of several partitions, of any topics, that one sink's broker leads.
type request struct {
	items []reqItem
	bytes int
	kreq  *kmsg.ProduceRequest
}

// reqItem is one batch of a request. ti and pi are where its partition
// sits in the request (kreq.Topics[ti].Partitions[pi]), which is where the
// broker's answer for it is expected too.
type reqItem struct {
	pt     *partition
	b      *batch
	ti, pi int
}

func (p *Producer) newRequest(s *sink) *request {
	r, _ := p.requests.Get().(*request)
	if r == nil {
		r = &request{kreq: kmsg.NewPtrProduceRequest()}
	}
	return r
}

// freeRequest keeps r for reuse: its item list and its request's topic
// and partition lists keep their capacity (a topic entry past the length
// keeps its partition list), so that building the next request allocates
// nothing once the lists have grown to the work's size.
func (p *Producer) freeRequest(r *request) {
	r.reset()
	p.requests.Put(r)
}

func (r *request) reset() {
	clear(r.items)
	r.items = r.items[:0]
	r.bytes = 0
	ts := r.kreq.Topics
	for i := range ts {
		clear(ts[i].Partitions) // do not pin batches
		ts[i].Partitions = ts[i].Partitions[:0]
		ts[i].Topic = ""
	}
	r.kreq.Topics = ts[:0]
}

func (r *request) add(pt *partition, b *batch) {
	r.items = append(r.items, reqItem{pt: pt, b: b})
	r.bytes += b.rb.EncodedSize()
}

// compareItems orders a request's items by topic, then partition, so that
// each topic is one entry of the request.
func compareItems(a, b reqItem) int {
	if c := strings.Compare(a.pt.topic, b.pt.topic); c != 0 {
		return c
	}
	return cmp.Compare(a.pt.id, b.pt.id)
}

// build fills req.kreq with the batches of req.items, one topic entry per
// topic, and returns the partitions whose batch could not be encoded (they
// are done, and their reporter must run). req.items keeps the items sent.
func (p *Producer) build(req *request) (reporters []*partition) {
	kreq := req.kreq
	kreq.Acks = int16(p.cfg.Acks)
	kreq.TimeoutMillis = int32(p.cfg.RequestTimeout / time.Millisecond)
	if p.tx != nil {
		kreq.TransactionID = &p.tx.id
	}
	// The sink's scan visits partitions in its own (rotating) order, in
	// which a topic's partitions need not be adjacent.
	slices.SortFunc(req.items, compareItems)
	topics := kreq.Topics[:0]
	live := req.items[:0]
	for _, it := range req.items {
		if err := it.b.finish(p.cfg.Idempotent); err != nil {
			// Only an invalid codec or a batch over 2 GiB gets here.
			it.pt.mu.Lock()
			it.pt.inflight = false
			it.pt.unstampLocked(it.b)
			if it.pt.completeLocked(it.b, fmt.Errorf("kafka: encoding a batch for %s/%d: %w", it.pt.topic, it.pt.id, err), -1, -1) {
				reporters = append(reporters, it.pt)
			}
			it.pt.mu.Unlock()
			continue
		}
		it.b.tries++
		if n := len(topics); n == 0 || topics[n-1].Topic != it.pt.topic {
			if n < cap(topics) {
				topics = topics[:n+1] // reuse the entry and its partition list
			} else {
				topics = append(topics, kmsg.NewProduceRequestTopic())
			}
			topics[n].Topic = it.pt.topic
		}
		it.ti = len(topics) - 1
		kt := &topics[it.ti]
		tp := kmsg.NewProduceRequestTopicPartition()
		tp.Partition = it.pt.id
		tp.Records = it.b.wire
		it.pi = len(kt.Partitions)
		kt.Partitions = append(kt.Partitions, tp)
		live = append(live, it)
	}
	kreq.Topics = topics
	clear(req.items[len(live):])
	req.items = live
	return reporters
}

// send sends req and, while there are ready batches, the requests that
// follow it (see take), on one goroutine that holds one in-flight slot.
func (s *sink) send(req *request) {
	p := s.p
	defer p.wg.Done()
	for req != nil {
		reporters := s.roundTrip(req)
		var more []*partition
		req, more = s.take()
		reporters = append(reporters, more...)
		if req == nil {
			s.inflight.Add(-1)
			s.wake()
		}
		if len(reporters) == 0 {
			continue
		}
		if req != nil && p.spawn(func() {
			defer p.wg.Done()
			for _, pt := range reporters {
				p.report(pt)
			}
		}) {
			continue // the next request goes out while they report
		}
		for _, pt := range reporters {
			p.report(pt)
		}
	}
}

// roundTrip encodes the request's batches, sends the request to the sink's
// broker and handles the answer. It returns the partitions whose reporter
// must run.
func (s *sink) roundTrip(req *request) (reporters []*partition) {
	p := s.p
	reporters = p.build(req)
	live := req.items

	var resp kmsg.Response
	var err error
	var sent time.Time
	if p.cfg.Observer != nil {
		sent = time.Now()
	}
	if len(live) > 0 {
		b, berr := p.cl.Broker(s.id)
		switch {
		case berr != nil:
			err = berr
		case p.tx != nil:
			resp, err = b.RequestAtMost(p.ctx, req.kreq, p.tx.produceMost())
		default:
			resp, err = b.Request(p.ctx, req.kreq)
		}
	}

	now := time.Now()
	if p.cfg.Observer != nil {
		observeBatches(p.cfg.Observer, s.id, live, now.Sub(sent), err)
	}
	var pr *kmsg.ProduceResponse
	if err == nil && resp != nil {
		pr = resp.(*kmsg.ProduceResponse)
		if pr.ThrottleMillis > 0 {
			// KIP-219: the broker answered at once and expects us to
			// hold further requests for this long (a quota).
			s.throttleUntil.Store(now.Add(time.Duration(pr.ThrottleMillis) * time.Millisecond).UnixNano())
			p.log.Debug("gokafka: produce throttled", "broker", s.id, "ms", pr.ThrottleMillis)
		}
	}
	for _, it := range live {
		var rp *kmsg.ProduceResponseTopicPartition
		ierr := err
		if ierr == nil && p.cfg.Acks != engine.RequireNone {
			if rp = findPartition(pr, it); rp == nil {
				ierr = fmt.Errorf("%w: broker %d did not answer for %s/%d", kerr.ErrCorruptResponse, s.id, it.pt.topic, it.pt.id)
			}
		}
		if p.handle(it, rp, ierr, now) {
			reporters = append(reporters, it.pt)
		}
		if p.tx != nil && p.tx.dropping() != nil && p.tx.drop(it.pt) {
			// The transaction failed or is aborting while this
			// batch was in flight: what queued behind it goes now.
			reporters = append(reporters, it.pt)
		}
	}
	p.freeRequest(req)
	return reporters
}

// findPartition finds the broker's answer for its item's topic and
// partition: at the place the item had in the request, where brokers put
// it, or else by searching.
func findPartition(pr *kmsg.ProduceResponse, it reqItem) *kmsg.ProduceResponseTopicPartition {
	topic, id := it.pt.topic, it.pt.id
	if it.ti < len(pr.Topics) {
		if rt := &pr.Topics[it.ti]; rt.Topic == topic && it.pi < len(rt.Partitions) && rt.Partitions[it.pi].Partition == id {
			return &rt.Partitions[it.pi]
		}
	}
	for t := range pr.Topics {
		rt := &pr.Topics[t]
		if rt.Topic != topic {
			continue
		}
		for j := range rt.Partitions {
			if rt.Partitions[j].Partition == id {
				return &rt.Partitions[j]
			}
		}
	}
	return nil
}

// handle applies the outcome of one batch's send: rp is the broker's
// answer (nil with acks=0 or when err is set), err a failure to get one.
// It reports whether the caller must run the partition's reporter.
func (p *Producer) handle(it reqItem, rp *kmsg.ProduceResponseTopicPartition, err error, now time.Time) (report bool) {
	pt, b := it.pt, it.b
	pt.mu.Lock()
	defer pt.mu.Unlock()
	pt.inflight = false
	if err == nil && rp != nil {
		err = kerr.WithMessage(rp.ErrorCode, rp.ErrorMessage)
	}
	switch {
	case err == nil && rp == nil: // acks=0: written is all we know
		pt.tries = 0
		return pt.completeLocked(b, nil, -1, -1)

	case err == nil || errors.Is(err, kerr.DuplicateSequenceNumber):
		// DUPLICATE_SEQUENCE_NUMBER: the broker has the batch already
		// (an earlier attempt was written); it is a success.
		pt.tries = 0
		return pt.completeLocked(b, nil, rp.BaseOffset, rp.LogAppendTime)

	case p.ctx.Err() != nil:
		// Close gave up: in-flight batches fail with the rest.
		return pt.completeLocked(b, fmt.Errorf("%w: %s/%d: producer closed before the broker answered", kerr.ErrClosed, pt.topic, pt.id), -1, -1)

	case p.tx != nil && isSequenceError(err):
		// In a transaction the producer ID and epoch are the
		// transaction's: a sequence or epoch the broker refuses fails
		// the batch, and with it the transaction (see txn.go), which
		// restarts the sequences when it aborts.
		return pt.completeLocked(b, p.brokerError(pt, err), -1, -1)

	case p.cfg.Idempotent && isSequenceError(err):
		// The broker lost our sequence (or we left a hole in it): the
		// batch was not written. Move to a new producer ID; the batch
		// is re-stamped under it on its next send.
		p.log.Info("gokafka: sequence rejected, getting a new producer ID", "topic", pt.topic, "partition", pt.id, "seq", b.seq, "err", err)
		gen := b.gen
		b.gen = 0
		p.resetProducerID(gen)
		return p.retryLocked(pt, b, err, now)

	case errors.Is(err, kerr.MessageTooLarge) && len(b.msgs) > 1:
		// The topic's max.message.bytes is below our batch size: send
		// the messages again in smaller batches.
		pt.unstampLocked(b)
		if p.splitLocked(pt, b) {
			return false
		}
		return pt.completeLocked(b, p.brokerError(pt, err), -1, -1)

	case p.tx != nil && errors.Is(err, kerr.ConcurrentTransactions):
		// The coordinator is still completing the previous
		// transaction: the leader is right, only early.
		return p.retryHereLocked(pt, b, err, now)

	case p.retriable(err):
		return p.retryLocked(pt, b, err, now)

	default:
		// Rejected for good, so not written: the next batch reuses its
		// sequence numbers.
		pt.unstampLocked(b)
		return pt.completeLocked(b, p.brokerError(pt, err), -1, -1)
	}
}

func (p *Producer) brokerError(pt *partition, err error) error {
	return fmt.Errorf("kafka: producing to %s/%d: %w", pt.topic, pt.id, err)
}

// retryHereLocked leaves b at the head of its partition, with the same
// leader, for another send after a short backoff (cluster.RetryWait), or
// fails it if its delivery timeout has passed. For errors that say nothing
// about where the partition lives, so no metadata refresh.
func (p *Producer) retryHereLocked(pt *partition, b *batch, err error, now time.Time) (report bool) {
	b.lastErr = err
	if !now.Before(b.deadline) {
		return p.expireLocked(pt, now)
	}
	pt.tries++
	pt.retryAt = now.Add(cluster.RetryWait(err, pt.tries, p.backoff(pt.tries)))
	p.log.Debug("gokafka: produce failed, retrying", "topic", pt.topic, "partition", pt.id, "attempt", b.tries, "err", err)
	if s := pt.sink; s != nil {
		s.wake() // to set its timer for retryAt
	}
	return false
}

// retryLocked puts b back at the head of its partition for another send,
// after a backoff and a metadata refresh (the leader may have moved), or
// fails it if its delivery timeout has passed.
func (p *Producer) retryLocked(pt *partition, b *batch, err error, now time.Time) (report bool) {
	b.lastErr = err
	if !now.Before(b.deadline) {
		return p.expireLocked(pt, now)
	}
	pt.tries++
	pt.retryAt = now.Add(p.backoff(pt.tries))
	pt.errSnap = p.cl.Snapshot()
	p.log.Debug("gokafka: produce failed, retrying", "topic", pt.topic, "partition", pt.id, "attempt", b.tries, "err", err)
	p.unhomeLocked(pt)
	p.cl.TriggerRefresh()
	return false
}

// isSequenceError reports the errors that mean the broker's idempotence
// state for us does not match the batch's stamp.
func isSequenceError(err error) bool {
	return errors.Is(err, kerr.OutOfOrderSequenceNumber) ||
		errors.Is(err, kerr.UnknownProducerID) ||
		errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.InvalidProducerIDMapping)
}

// retriable reports whether a failed send is worth retrying. Broker codes
// say so themselves, except CORRUPT_MESSAGE: resending the same bytes gets
// the same answer. A broker that was dropped from the metadata refuses
// requests with ErrClosed; its partitions move to their new leaders.
func (p *Producer) retriable(err error) bool {
	switch {
	case errors.Is(err, kerr.CorruptMessage):
		return false
	case kerr.IsRetriable(err), errors.Is(err, kerr.ErrCorruptResponse):
		return true
	case errors.Is(err, kerr.ErrClosed):
		select {
		case <-p.cl.Closing():
			return false
		default:
			return p.ctx.Err() == nil
		}
	}
	return false
}

// abandon returns the batches of a request that could not be sent because
// the producer is closing; Close fails them.
func (p *Producer) abandon(req *request) {
	for _, it := range req.items {
		it.pt.mu.Lock()
		it.pt.inflight = false
		it.pt.mu.Unlock()
	}
	p.freeRequest(req)
}
