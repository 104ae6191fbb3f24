package produce

import (
	"sync"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/records"
)

// pending is a message accepted by Produce and the function that reports it.
type pending struct {
	m    *engine.Message
	done engine.DoneFunc
}

// batch is one record batch of one partition: the records, encoded as they
// were produced, and the messages they came from. A batch is open (the
// partition appends to it) until it is sealed: when it is full, or when a
// sink takes it to send. From then on only the goroutine sending or
// reporting it touches its records and wire bytes.
type batch struct {
	rb   *records.Builder
	msgs []pending

	created  time.Time // first record appended: linger counts from here
	deadline time.Time // created + DeliveryTimeout
	sealed   bool

	// The idempotent stamp: producer ID generation, ID, epoch and base
	// sequence, assigned when the batch is first sent and kept across
	// retries so that the broker can deduplicate them. gen 0: unstamped.
	gen   uint64
	pid   int64
	epoch int16
	seq   int32

	// wire is the finished batch as last sent; empty until the first send.
	// It is rb's own buffer (records.Builder.Framed: an uncompressed batch
	// is framed where it was encoded, not copied), valid until rb is
	// reset. The stamp it carries is kept beside it, so that a batch
	// re-stamped after a producer ID change is rewritten in place, not
	// re-encoded.
	wire      []byte
	wirePID   int64
	wireEpoch int16
	wireSeq   int32

	tries   int   // sends so far
	lastErr error // why the last send failed, for ErrDeliveryTimeout

	// The outcome, set when the batch completes, read by its reporter.
	// dropped: it failed because its transaction failed or aborted (its
	// error is the transaction's, not news about it).
	dropped    bool
	err        error
	baseOffset int64
	appendTime int64 // LogAppendTime topics: the broker's timestamp, else -1
}

// Batches are reused, buffers and all, so that a producer in steady state
// allocates nothing per batch either. A free list keeps up to a budget of
// buffer bytes (a few batches' worth, enough to bridge a batch reported and
// the next one opened); beyond it batches go to a sync.Pool, which the
// garbage collector may empty. The free list is given up when the sinks
// go idle.
type freeList struct {
	mu     sync.Mutex
	list   []*batch
	bytes  int
	budget int
}

// newBatch returns an empty batch, with room for about hint bytes and
// count messages.
func (p *Producer) newBatch(now time.Time, hint, count int) *batch {
	var b *batch
	f := &p.free
	f.mu.Lock()
	if n := len(f.list); n > 0 {
		b = f.list[n-1]
		f.list[n-1] = nil
		f.list = f.list[:n-1]
		f.bytes -= b.rb.Cap() // as when recycle counted it: a listed builder does not change
	}
	f.mu.Unlock()
	if b == nil {
		b, _ = p.batches.Get().(*batch)
	}
	if b == nil {
		b = &batch{rb: p.newBuilder()}
	}
	if hint = min(hint, p.cfg.BatchBytes); hint > b.rb.Cap() {
		// One allocation of the expected size: left to grow by appends, a
		// buffer is copied each time it outgrows itself, and a
		// partition's batches are about the size of its previous one.
		b.rb.Grow(hint)
	}
	if count > cap(b.msgs) {
		b.msgs = make([]pending, 0, count)
	}
	b.created = now
	b.deadline = now.Add(p.cfg.DeliveryTimeout)
	return b
}

// newBuilder returns a record batch builder for this producer: its codec,
// and the transactional flag for a transactional producer (Reset keeps
// both).
func (p *Producer) newBuilder() *records.Builder {
	rb := records.NewBuilder(p.cfg.Compression, p.cfg.CompressionLevel)
	rb.SetTransactional(p.tx != nil)
	return rb
}

// recycle takes back a reported batch. Its buffers are kept unless a
// one-off large message grew them far past the batch size.
func (p *Producer) recycle(b *batch) {
	clear(b.msgs) // drop the references to messages and callbacks
	msgs := b.msgs[:0]
	if b.rb.Cap() > 2*p.cfg.BatchBytes {
		// The builder keeps its buffer on Reset; do not pin a huge one.
		b.rb = p.newBuilder()
	} else {
		b.rb.Reset()
	}
	*b = batch{rb: b.rb, msgs: msgs}
	// The budget counts what the buffer holds, not what this batch used:
	// a buffer that had to grow doubled.
	held := b.rb.Cap()
	f := &p.free
	f.mu.Lock()
	if f.bytes+held <= f.budget {
		f.list = append(f.list, b)
		f.bytes += held
		b = nil
	}
	f.mu.Unlock()
	if b != nil {
		p.batches.Put(b)
	}
}

// trimFree moves the free list to the pool, for the collector to reclaim.
func (p *Producer) trimFree() {
	f := &p.free
	f.mu.Lock()
	list := f.list
	f.list, f.bytes = nil, 0
	f.mu.Unlock()
	for _, b := range list {
		p.batches.Put(b)
	}
}

// finish makes b's wire bytes: encodes (and compresses) it on its first
// send, or rewrites the producer stamp of bytes already encoded when the
// batch was re-stamped since.
func (b *batch) finish(idempotent bool) error {
	pid, epoch, seq := int64(-1), int16(-1), int32(-1)
	if idempotent {
		pid, epoch, seq = b.pid, b.epoch, b.seq
	}
	if len(b.wire) == 0 {
		w, err := b.rb.Framed(pid, epoch, seq)
		if err != nil {
			return err
		}
		b.wire = w
	} else if pid != b.wirePID || epoch != b.wireEpoch || seq != b.wireSeq {
		if err := records.SetProducer(b.wire, pid, epoch, seq); err != nil {
			return err
		}
	}
	b.wirePID, b.wireEpoch, b.wireSeq = pid, epoch, seq
	return nil
}

// report calls every message's DoneFunc with the batch's outcome.
func (b *batch) report(partition int32) {
	if b.err != nil {
		for _, pm := range b.msgs {
			pm.done(pm.m, b.err)
		}
		return
	}
	off := b.baseOffset
	var ts time.Time
	if b.appendTime >= 0 {
		ts = time.UnixMilli(b.appendTime)
	}
	for _, pm := range b.msgs {
		m := pm.m
		m.Partition = partition
		m.Offset = off
		if off >= 0 {
			off++
		}
		if b.appendTime >= 0 {
			m.Timestamp = ts
		}
		pm.done(m, nil)
	}
}
