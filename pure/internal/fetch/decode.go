package fetch

import (
	"encoding/binary"
	"slices"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/records"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Positions in a v2 batch header (see the records package documentation)
// that scanBatches reads.
const (
	batchLengthPos     = 8
	attributesPos      = 21
	lastOffsetDeltaPos = 23
	recordCountPos     = 57
	logOverhead        = 12 // base offset and length: what batchLength does not count
	controlBit         = 0x20
)

// batchScan is what a partition's batch headers say, read without
// decoding: enough to send the next request before this one is decoded.
type batchScan struct {
	// count bounds the messages the data holds: the record counts of the
	// complete non-control batches (records before the fetch offset
	// included).
	count int
	// next is where the partition continues: after the last complete
	// batch, never below the fetch offset.
	next int64
	// bytes and records measure the complete batches, for sizing later
	// requests; batch is the size of the largest, or, when the data ends
	// in a batch cut short, of that one if larger (its header says).
	bytes, records, batch int
	// partial: data came but not one complete batch (the byte limit cut
	// the first batch).
	partial bool
}

// decoded is one partition's share of a response: the scan, then the
// messages.
type decoded struct {
	scan batchScan
	recs *packed // nil when no record is for the consumer
	// next is the offset to fetch next: after the last batch seen,
	// control and emptied batches included. Never below the fetch offset.
	next int64
	// inflated: the keys, values and headers of recs that decompression
	// put in buffers of their own (the byte budget counts them per fetch).
	inflated int
	err      error // the records did not decode; recs holds those before
}

// decoder turns Fetch response partitions into messages. Each source has
// one; it is not safe for concurrent use.
type decoder struct {
	dec           *records.Decoder
	readCommitted bool

	// For read_committed: the response's aborted transactions not yet
	// reached, sorted by first offset, and the producers whose
	// transaction is aborted at the current position.
	aborted []kmsg.FetchResponseTopicPartitionAbortedTransaction
	abortPs []int64
}

func newDecoder(cfg engine.FetcherConfig) decoder {
	return decoder{
		dec:           records.NewDecoder(records.DecodeOptions{SkipCRC: !cfg.CheckCRC}),
		readCommitted: cfg.Isolation == engine.ReadCommitted,
	}
}

// decode converts the records of rp, a partition's share of a response
// fetched from offset, into res's packed records (leaving res.scan alone).
func (d *decoder) decode(res *decoded, rp *kmsg.FetchResponseTopicPartition, offset int64) {
	res.recs, res.next, res.err, res.inflated = nil, offset, nil, 0
	data := rp.RecordBatches
	if len(data) == 0 {
		return
	}
	// The record counts of the batch headers, which Decode checks, bound
	// the records.
	p := &packed{bufs: [][]byte{data}}
	if n := scanBatches(data, offset).count; n > 0 {
		p.recs = newRecs(n)
	}
	d.startTxns(rp)

	next := offset
	inflated := 0
	res.err = d.dec.Decode(data, func(info *records.BatchInfo, recs []records.Record) error {
		next = max(next, info.LastOffset+1)
		if d.readCommitted && d.skipBatch(info, recs) || info.Control {
			return nil
		}
		buf := int32(0) // uncompressed: the records lie in data
		if info.Codec != records.CodecNone {
			buf = -1 // the decompressed body, added with the batch's first record kept
		}
		for i := range recs {
			r := &recs[i]
			if r.Offset < offset {
				continue // a fetch returns the whole batch holding the offset
			}
			if buf < 0 {
				buf = p.addBuf(info.Body)
			}
			p.add(r, buf)
			if info.Codec != records.CodecNone {
				inflated += recordBytes(r)
			}
		}
		return nil
	})
	if len(p.recs) > 0 {
		res.recs = p
	}
	res.next, res.inflated = next, inflated
}

// scanBatches reads the headers of the complete batches in data, fetched
// from offset. Malformed headers end the scan; Decode reports them.
func scanBatches(data []byte, offset int64) batchScan {
	sc := batchScan{next: offset, partial: len(data) > 0}
	be := binary.BigEndian
	for len(data) >= logOverhead {
		size := logOverhead + int(int32(be.Uint32(data[batchLengthPos:])))
		if size < records.HeaderSize {
			break
		}
		sc.batch = max(sc.batch, size)
		if size > len(data) {
			break // cut short; its size still tells how much to ask for
		}
		sc.partial = false
		n := int(int32(be.Uint32(data[recordCountPos:])))
		if be.Uint16(data[attributesPos:])&controlBit == 0 && n > 0 {
			sc.count += n
			sc.records += n
		}
		sc.bytes += size
		last := int64(be.Uint64(data)) + int64(int32(be.Uint32(data[lastOffsetDeltaPos:])))
		sc.next = max(sc.next, last+1)
		data = data[size:]
	}
	return sc
}

// startTxns loads the aborted transactions of a response partition.
func (d *decoder) startTxns(rp *kmsg.FetchResponseTopicPartition) {
	d.aborted = d.aborted[:0]
	d.abortPs = d.abortPs[:0]
	if !d.readCommitted || len(rp.AbortedTransactions) == 0 {
		return
	}
	d.aborted = append(d.aborted, rp.AbortedTransactions...)
	slices.SortFunc(d.aborted, func(a, b kmsg.FetchResponseTopicPartitionAbortedTransaction) int {
		switch {
		case a.FirstOffset < b.FirstOffset:
			return -1
		case a.FirstOffset > b.FirstOffset:
			return 1
		}
		return 0
	})
}

// skipBatch reports whether a read_committed consumer drops the batch:
// a transactional batch of a producer whose transaction is aborted here.
// The broker lists each aborted transaction with its first offset; the
// producer's abort marker (a control batch) ends it. This is the Java
// consumer's algorithm.
func (d *decoder) skipBatch(info *records.BatchInfo, recs []records.Record) bool {
	if info.ProducerID < 0 {
		return false
	}
	for len(d.aborted) > 0 && d.aborted[0].FirstOffset <= info.LastOffset {
		d.abortPs = append(d.abortPs, d.aborted[0].ProducerID)
		d.aborted = d.aborted[1:]
	}
	if info.Control {
		if len(recs) > 0 {
			if t, ok := records.ParseControlKey(recs[0].Key); ok && t == records.ControlAbort {
				if i := slices.Index(d.abortPs, info.ProducerID); i >= 0 {
					d.abortPs = slices.Delete(d.abortPs, i, i+1)
				}
			}
		}
		return false // control batches are skipped by the caller anyway
	}
	return info.Transactional && slices.Contains(d.abortPs, info.ProducerID)
}

// recordBytes is the size of r's key, value and headers.
func recordBytes(r *records.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}
