package fetch

import (
	"encoding/binary"
	"errors"
	"slices"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/records"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Positions in a v2 batch header (see the records package documentation)
// that the pre-scan reads to size the message slab.
const (
	batchLengthPos = 8
	attributesPos  = 21
	recordCountPos = 57
	logOverhead    = 12 // base offset and length: what batchLength does not count
	controlBit     = 0x20
)

// errFull stops decoding once a fetch has filled the room left in the
// partition's queue.
var errFull = errors.New("fetch: queue full")

// decoded is one partition's share of a response, turned into messages.
type decoded struct {
	msgs []*engine.Message
	// next is the offset to fetch next: after the last batch seen
	// (control and emptied batches included), or at the first record left
	// out when the queue's room ran out. Never below the fetch offset.
	next int64
	// bytes and records measure the complete batches read, for sizing
	// later requests.
	bytes, records int
	// partial: data came but not one complete batch (the byte limit cut
	// the first batch).
	partial bool
	err     error // the records did not decode; msgs holds those before
}

// decoder turns Fetch response partitions into messages. Each source has
// one; it is not safe for concurrent use.
type decoder struct {
	dec           *records.Decoder
	topic         string
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
		topic:         cfg.Topic,
		readCommitted: cfg.Isolation == engine.ReadCommitted,
	}
}

// decode converts the records of rp, fetched from offset, into at most
// limit messages.
func (d *decoder) decode(rp *kmsg.FetchResponseTopicPartition, offset int64, limit int) decoded {
	res := decoded{next: offset}
	data := rp.RecordBatches
	if len(data) == 0 || limit <= 0 {
		return res
	}
	n := countRecords(data)
	if n > limit {
		n = limit
	}
	var slab []engine.Message
	if n > 0 {
		slab = make([]engine.Message, n)
		res.msgs = make([]*engine.Message, 0, n)
	}
	d.startTxns(rp)

	p := rp.Partition
	seen := false
	err := d.dec.Decode(data, func(info *records.BatchInfo, recs []records.Record) error {
		seen = true
		if d.readCommitted && d.skipBatch(info, recs) {
			res.bytes += info.Size
			res.next = max(res.next, info.LastOffset+1)
			return nil
		}
		if info.Control {
			res.bytes += info.Size
			res.next = max(res.next, info.LastOffset+1)
			return nil
		}
		for i := range recs {
			r := &recs[i]
			if r.Offset < offset {
				continue // a fetch returns the whole batch holding the offset
			}
			k := len(res.msgs)
			if k == len(slab) {
				// Out of room (the count above is exact for the
				// records a batch declares): stop before this record.
				res.next = max(res.next, r.Offset)
				return errFull
			}
			m := &slab[k]
			m.Topic = d.topic
			m.Partition = p
			m.Offset = r.Offset
			m.Key = r.Key
			m.Value = r.Value
			m.Headers = r.Headers
			m.Timestamp = time.UnixMilli(r.Timestamp)
			res.msgs = append(res.msgs, m)
		}
		res.bytes += info.Size
		res.records += len(recs)
		res.next = max(res.next, info.LastOffset+1)
		return nil
	})
	if err != nil && err != errFull {
		res.err = err
	}
	res.partial = !seen && res.err == nil
	return res
}

// countRecords sums the record counts of the complete, non-control batches
// in data: an upper bound of the messages they hold, read from the
// headers alone. Malformed headers stop the count; Decode reports them.
func countRecords(data []byte) int {
	n := 0
	for len(data) >= records.HeaderSize {
		size := logOverhead + int(int32(binary.BigEndian.Uint32(data[batchLengthPos:])))
		if size < records.HeaderSize || size > len(data) {
			break
		}
		if binary.BigEndian.Uint16(data[attributesPos:])&controlBit == 0 {
			if c := int32(binary.BigEndian.Uint32(data[recordCountPos:])); c > 0 {
				n += int(c)
			}
		}
		data = data[size:]
	}
	return n
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
