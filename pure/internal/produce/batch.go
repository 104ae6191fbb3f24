package produce

import (
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
	// The stamp it carries is kept beside it, so that a batch re-stamped
	// after a producer ID change is rewritten in place, not re-encoded.
	wire      []byte
	wirePID   int64
	wireEpoch int16
	wireSeq   int32

	tries   int   // sends so far
	lastErr error // why the last send failed, for ErrDeliveryTimeout

	// The outcome, set when the batch completes, read by its reporter.
	err        error
	baseOffset int64
	appendTime int64 // LogAppendTime topics: the broker's timestamp, else -1
}

// newBatch returns an empty batch from the producer's pool.
func (p *Producer) newBatch(now time.Time) *batch {
	b, _ := p.batches.Get().(*batch)
	if b == nil {
		b = &batch{rb: records.NewBuilder(p.cfg.Compression, p.cfg.CompressionLevel)}
	}
	b.created = now
	b.deadline = now.Add(p.cfg.DeliveryTimeout)
	return b
}

// recycle returns a reported batch to the pool. Its buffers are kept unless
// a one-off large message grew them far past the batch size.
func (p *Producer) recycle(b *batch) {
	clear(b.msgs) // drop the references to messages and callbacks
	msgs := b.msgs[:0]
	wire := b.wire[:0]
	if cap(wire) > 2*p.cfg.BatchBytes {
		wire = nil
	}
	if b.rb.EncodedSize() > 2*p.cfg.BatchBytes {
		// The builder keeps its buffer on Reset; do not pin a huge one.
		b.rb = records.NewBuilder(p.cfg.Compression, p.cfg.CompressionLevel)
	} else {
		b.rb.Reset()
	}
	*b = batch{rb: b.rb, msgs: msgs, wire: wire}
	p.batches.Put(b)
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
		w, err := b.rb.Finish(b.wire[:0], pid, epoch, seq)
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
