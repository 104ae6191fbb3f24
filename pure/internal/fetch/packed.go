package fetch

import (
	"math"
	"math/bits"
	"sync"
	"time"
	"unsafe"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/records"
)

// Decoded records wait for Poll packed, and become Messages only when Poll
// hands them out.
//
// A consumer's fetcher keeps up to QueuedMaxMessages records decoded ahead
// of the application. As Messages (144 bytes each, with pointers to the
// topic, key, value and headers) they were most of the heap the collector
// had to scan in every cycle, and the collector was over a third of a
// consumer's CPU (GOGC=400 cut the CPU per message by 37 %). Packed, a
// record is 40 bytes without pointers, positions in the buffers its key
// and value lie in; the collector skips memory without pointers. Poll
// builds the Messages of one fetch at a time, which the application then
// drops as it goes.

// packed is the records of one fetch, in offset order.
type packed struct {
	bufs [][]byte // the buffers keys and values lie in (the response's record data, each decompressed batch)
	recs []packedRecord
	hdrs [][]engine.Header // the headers of the records that have any
}

// packedRecord is one record: its key and value are
// bufs[buf][at:at+len], or nil where len is -1.
type packedRecord struct {
	offset, timestamp int64
	buf               int32
	hdr               int32 // index in hdrs plus one; 0 for none
	keyAt, keyLen     int32
	valAt, valLen     int32
}

// recsPools recycle the arrays that packed records are kept in, one pool
// per power-of-two capacity from 2^minRecsClass to 2^maxRecsClass
// records (of *[]packedRecord). Poll is done with a fetch's records once it
// has built its Messages, which point into the buffers, not into the
// records; a fresh array for every fetch cost its zeroing and, on the
// first write of each record, page faults and cache misses (most of
// packed.add's time in a profile of the bench's consumer). Capacities are
// rounded up to a power of two so that fetches of varying sizes find an
// array; a fetch holds at most twice the room it needs, and is charged
// for it (apply.go).
var recsPools [maxRecsClass + 1]sync.Pool

const (
	minRecsClass = 8  // 256 records; fetches of 128 or fewer get arrays of their size, not recycled
	maxRecsClass = 16 // 65 536 records (2.5 MiB; a partition's 1 MiB of 100 B records is about 9 000); larger ones neither
)

// recsClass is the pool for arrays of n records, or -1 for none.
func recsClass(n int) int {
	c := bits.Len(uint(n - 1))
	if c < minRecsClass || c > maxRecsClass {
		return -1
	}
	return c
}

// newRecs returns an empty array with room for n records.
func newRecs(n int) []packedRecord {
	c := recsClass(n)
	if c < 0 {
		return make([]packedRecord, 0, n)
	}
	if r, _ := recsPools[c].Get().(*[]packedRecord); r != nil {
		return (*r)[:0]
	}
	return make([]packedRecord, 0, 1<<c)
}

// release gives p's records array back for another fetch; p has no
// records afterwards.
func (p *packed) release() {
	r := p.recs[:0]
	p.recs = nil
	if c := recsClass(cap(r)); c >= 0 && cap(r) == 1<<c {
		recsPools[c].Put(&r)
	}
}

// addBuf records a buffer that the next records lie in and returns its
// index.
func (p *packed) addBuf(b []byte) int32 {
	p.bufs = append(p.bufs, b)
	return int32(len(p.bufs) - 1)
}

// add packs r, whose key and value lie in p.bufs[buf].
func (p *packed) add(r *records.Record, buf int32) {
	base := p.bufs[buf]
	pr := packedRecord{offset: r.Offset, timestamp: r.Timestamp, buf: buf}
	var keyIn, valIn bool
	pr.keyAt, pr.keyLen, keyIn = position(r.Key, base)
	pr.valAt, pr.valLen, valIn = position(r.Value, base)
	if !keyIn || !valIn {
		// Not reached (see position); a copy of both beats trusting it.
		own := append(append(make([]byte, 0, len(r.Key)+len(r.Value)), r.Key...), r.Value...)
		pr.buf = p.addBuf(own)
		pr.keyAt, pr.valAt = 0, int32(len(r.Key))
	}
	if r.Headers != nil {
		p.hdrs = append(p.hdrs, r.Headers)
		pr.hdr = int32(len(p.hdrs))
	}
	p.recs = append(p.recs, pr)
}

// position is where s lies in base, and its length (-1 for nil), and
// whether it lies there. The records decoder slices every key and value
// out of the batch's body (records.BatchInfo.Body), and a response or a
// decompressed batch stays below 2 GiB (MaxResponseBytes,
// MaxDecompressedBytes).
func position(s, base []byte) (at, n int32, in bool) {
	if s == nil {
		return 0, -1, true
	}
	off := uintptr(unsafe.Pointer(unsafe.SliceData(s))) - uintptr(unsafe.Pointer(unsafe.SliceData(base)))
	if off > uintptr(len(base)) || uintptr(len(s)) > uintptr(len(base))-off || len(base) > math.MaxInt32 {
		return 0, int32(min(len(s), math.MaxInt32)), false
	}
	return int32(off), int32(len(s)), true
}

// slice is base[at:at+n] with no room to grow into its neighbours, or nil.
func slice(base []byte, at, n int32) []byte {
	if n < 0 {
		return nil
	}
	return base[at : at+n : at+n]
}

// messageSlab is how many Messages messages allocates at once (9 KiB). A
// slab for a whole fetch (thousands of Messages, over a MiB) was a large
// allocation, zeroed and faulted in afresh every time; see
// engine.MessageSlab.
const messageSlab = 64

// messages builds the Messages of p, in slabs of messageSlab; they share topic.
// A nil p has none.
func (p *packed) messages(topic string, partition int32) []*engine.Message {
	if p == nil {
		return nil
	}
	var slab engine.MessageSlab
	msgs := make([]*engine.Message, len(p.recs))
	for i := range p.recs {
		r := &p.recs[i]
		base := p.bufs[r.buf]
		m := slab.Next(min(messageSlab, len(p.recs)-i))
		m.Topic = topic
		m.Partition = partition
		m.Offset = r.offset
		m.Key = slice(base, r.keyAt, r.keyLen)
		m.Value = slice(base, r.valAt, r.valLen)
		if r.hdr > 0 {
			m.Headers = p.hdrs[r.hdr-1]
		}
		m.Timestamp = time.UnixMilli(r.timestamp)
		msgs[i] = m
	}
	return msgs
}

// bytes is the size of the keys, values and headers of p's records.
func (p *packed) bytes() int {
	n := 0
	for i := range p.recs {
		n += max(0, int(p.recs[i].keyLen)) + max(0, int(p.recs[i].valLen))
	}
	for _, hs := range p.hdrs {
		for _, h := range hs {
			n += len(h.Key) + len(h.Value)
		}
	}
	return n
}
