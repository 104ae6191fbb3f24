package produce

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
)

// partition is the buffer of one partition of one topic: its queue of
// batches, the sink (leader broker) it is sent to, and its idempotent
// sequence, which is per topic and partition as the broker keeps it.
//
// At most one batch of a partition is in flight at a time, so retries can
// neither reorder nor, with idempotence, duplicate: a retried batch is
// resent with the same bytes and sequence until it is acknowledged, and
// the batches behind it wait. Several partitions share each request, and
// each broker has up to MaxInFlight requests in flight.
type partition struct {
	topic string
	id    int32

	mu sync.Mutex
	// batches is oldest first. batches[0] is the one in flight (when
	// inflight) or the next to send; the last one is open for appends
	// unless sealed.
	batches  []*batch
	inflight bool

	// sink is where the partition's batches go: the sink of its leader.
	// nil while homeless (leader unknown, or backing off after an error);
	// the router then owns the partition. See router.go.
	sink    *sink
	tries   int               // consecutive failed sends, for backoff
	retryAt time.Time         // homeless: do not look for a leader before; homed: do not send before
	errSnap *cluster.Snapshot // metadata when it last failed
	homeErr error             // why the router could not home it, if so

	// Idempotent sequence: the producer ID generation the partition's
	// sequence belongs to, and the next base sequence.
	gen     uint64
	pid     int64
	epoch   int16
	nextSeq int32

	// Completed batches waiting for their DoneFuncs, in partition order.
	// One goroutine at a time reports them (reporting), so the reports of
	// a partition come in order even though requests complete on
	// different goroutines.
	doneQ     []*batch
	reporting bool

	// batchBytes, when set, is a smaller batch size than BatchBytes: the
	// broker refused a batch of ours as too large (see splitLocked).
	batchBytes int

	lastBytes int // size of the last batch sent, to size the next one
	lastCount int // and its messages

	produced uint64 // messages appended, ever
	finished uint64 // messages reported, ever

	// Transactional producers only (see txn.go): the transaction the
	// partition has messages in (joined), and the one the transaction
	// coordinator has it in (added; classic protocol: AddPartitionsToTxn
	// before the first batch). Transactions are numbered from 1.
	joined, added uint64
}

// appendLocked encodes m into the partition's open batch, opening a new
// batch when there is none or m (size bytes at most) would overflow it. It
// reports whether the sink must be woken: the partition has a batch to
// schedule or send that the sink does not know about yet.
func (p *Producer) appendLocked(pt *partition, m *engine.Message, done engine.DoneFunc, size int) (wake bool) {
	var b *batch
	n := len(pt.batches)
	if n > 0 && !pt.batches[n-1].sealed {
		b = pt.batches[n-1]
		limit := p.cfg.BatchBytes
		if pt.batchBytes > 0 {
			limit = pt.batchBytes
		}
		if b.rb.EncodedSize()+size > limit {
			b.sealed = true
			// A full batch is ready: tell the sink, unless a send
			// of this partition is in flight (its response will).
			wake = !pt.inflight && n == 1
			b = nil
		}
	}
	if b == nil {
		hb, hc := p.sizeHint(pt)
		b = p.newBatch(time.Now(), hb, hc)
		pt.batches = append(pt.batches, b)
		if n == 0 && !pt.inflight {
			wake = true // new linger to schedule (or a send, linger 0)
		}
	}
	b.rb.Append(m.Timestamp.UnixMilli(), m.Key, m.Value, m.Headers)
	b.msgs = append(b.msgs, pending{m: m, done: done})
	pt.produced++
	return wake
}

// sizeHint is the room to give pt's next batch, in bytes and messages:
// twice its last one (batch sizes swing with load and round trips; one
// that outgrows its room grows by appends), at most BatchBytes.
//
// Twice, not more: a producer over many topics keeps a batch open on a
// partition of each, every one of them small, and the room given beyond
// what is used is allocated, zeroed (newBatch grows to it) and held all the same. With
// four times the last batch, and a full BatchBytes once batches passed a
// sixteenth of it, a producer over 10 topics of 12 partitions (250 000 x
// 100 B, acks=all, the shared dev cluster) spent 2.1-2.7 us of CPU per
// message and held 220-230 MiB of heap, against 1.0-1.2 us and 83-87 MiB
// over one topic; with twice, 1.7-1.9 us and 115-123 MiB, one topic
// unchanged (0.9-1.4 us, 3 interleaved runs each, load average 8-14).
func (p *Producer) sizeHint(pt *partition) (bytes, count int) {
	if pt.lastBytes == 0 {
		return 16 << 10, 64
	}
	return min(2*pt.lastBytes, p.cfg.BatchBytes), 2 * pt.lastCount
}

// completeLocked removes the head batch (which must be b) and queues it for
// reporting with err, or success at baseOffset. It reports whether the
// caller must run the partition's reporter after unlocking.
func (pt *partition) completeLocked(b *batch, err error, baseOffset, appendTime int64) (report bool) {
	if len(pt.batches) == 0 || pt.batches[0] != b {
		panic("produce: completing a batch that is not the partition's head")
	}
	copy(pt.batches, pt.batches[1:])
	pt.batches[len(pt.batches)-1] = nil
	pt.batches = pt.batches[:len(pt.batches)-1]
	b.sealed = true
	b.err, b.baseOffset, b.appendTime = err, baseOffset, appendTime
	pt.doneQ = append(pt.doneQ, b)
	if pt.reporting {
		return false
	}
	pt.reporting = true
	return true
}

// expireLocked fails the head batches whose delivery timeout passed, as
// long as they are not in flight (an in-flight batch waits for its
// response, which its request deadline bounds). It reports whether the
// caller must run the reporter.
func (p *Producer) expireLocked(pt *partition, now time.Time) (report bool) {
	for len(pt.batches) > 0 && !pt.inflight {
		b := pt.batches[0]
		if now.Before(b.deadline) {
			break
		}
		// A batch that was sent may have been written, so its sequence
		// numbers stay used: if it was not written, the next batch gets
		// OUT_OF_ORDER_SEQUENCE_NUMBER and the partition moves to a new
		// producer ID (see the sink's response handling).
		err := fmt.Errorf("%w: %s/%d: %d message(s) not acknowledged within %v", kerr.ErrDeliveryTimeout, pt.topic, pt.id, len(b.msgs), p.cfg.DeliveryTimeout)
		if b.lastErr != nil {
			err = fmt.Errorf("%w after %d attempt(s); last error: %v", err, b.tries, b.lastErr)
		}
		if pt.homeErr != nil {
			// For example the topic was deleted: its metadata
			// says so, and the sends failed before.
			err = fmt.Errorf("%w; no leader to send to: %v", err, pt.homeErr)
		}
		if pt.completeLocked(b, err, -1, -1) {
			report = true
		}
	}
	return report
}

// report runs the DoneFuncs of the partition's completed batches, in
// order, until none is left. Only the goroutine that completeLocked
// elected calls it, after unlocking.
func (p *Producer) report(pt *partition) {
	for {
		pt.mu.Lock()
		if len(pt.doneQ) == 0 {
			pt.reporting = false
			pt.mu.Unlock()
			return
		}
		b := pt.doneQ[0]
		copy(pt.doneQ, pt.doneQ[1:])
		pt.doneQ[len(pt.doneQ)-1] = nil
		pt.doneQ = pt.doneQ[:len(pt.doneQ)-1]
		pt.mu.Unlock()

		// The bytes to give back, counted before the DoneFuncs run: a
		// message may be reused once reported.
		n, size := len(b.msgs), 0
		if p.qb != nil {
			for i := range b.msgs {
				size += engine.SizeBound(b.msgs[i].m)
			}
		}
		b.report(pt.id)
		if b.err != nil && p.tx != nil && !b.dropped {
			// Before finished moves on, so that EndTxn's flush
			// sees the transaction failed.
			p.tx.batchFailed(b.err)
		}
		p.recycle(b)

		// Room first, then finished: a Flush that returns has its
		// messages' slots and bytes back.
		p.release(n, size)
		pt.mu.Lock()
		pt.finished += uint64(n)
		pt.mu.Unlock()
		if p.flushing.Load() > 0 {
			p.notifyFlush()
		}
	}
}

// stampLocked gives b its idempotent stamp if it has none: the partition's
// next sequence under the current producer ID. A partition adopts a new
// producer ID (sequence 0) only here, when nothing of it is in flight or
// stamped, so batches of two producer IDs never interleave.
func (pt *partition) stampLocked(b *batch, id *producerID) {
	if b.gen != 0 {
		return // keeps its stamp across retries
	}
	if pt.gen != id.gen {
		pt.gen, pt.pid, pt.epoch, pt.nextSeq = id.gen, id.id, id.epoch, 0
	}
	b.gen, b.pid, b.epoch, b.seq = pt.gen, pt.pid, pt.epoch, pt.nextSeq
	pt.nextSeq = addSeq(pt.nextSeq, int32(len(b.msgs)))
}

// unstampLocked drops b's stamp after the broker rejected it for good, so
// that its sequence numbers are reused by the next batch.
func (pt *partition) unstampLocked(b *batch) {
	if b.gen != 0 && b.gen == pt.gen && pt.nextSeq == addSeq(b.seq, int32(len(b.msgs))) {
		pt.nextSeq = b.seq
	}
	b.gen = 0
}

// addSeq adds n to a sequence number, wrapping past MaxInt32 to 0 as
// Kafka does.
func addSeq(seq, n int32) int32 {
	if seq > math.MaxInt32-n {
		return n - (math.MaxInt32 - seq) - 1
	}
	return seq + n
}
