package records

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// Byte positions of the v2 batch header fields (see doc.go).
const (
	posBaseOffset      = 0
	posBatchLength     = 8
	posLeaderEpoch     = 12
	posMagic           = 16
	posCRC             = 17
	posAttributes      = 21 // the CRC covers from here to the end
	posLastOffsetDelta = 23
	posBaseTimestamp   = 27
	posMaxTimestamp    = 35
	posProducerID      = 43
	posProducerEpoch   = 51
	posBaseSequence    = 53
	posRecordCount     = 57

	// logOverhead is what precedes batchLength's count: baseOffset and
	// batchLength itself.
	logOverhead = 12
)

// HeaderSize is the size of a v2 batch header, in bytes; the records
// follow it. A Builder's EncodedSize includes it.
const HeaderSize = 61

// Attribute bits of a v2 batch.
const (
	attrCodecMask        = 0x07
	attrLogAppendTime    = 0x08
	attrTransactional    = 0x10
	attrControl          = 0x20
	attrHasDeleteHorizon = 0x40
)

// Header is a record header. Kafka header keys are never null; a nil Value
// is a null value and is kept distinct from an empty one.
type Header struct {
	Key   string
	Value []byte
}

// Builder accumulates the records of one batch for one partition and
// turns them into a v2 record batch.
//
// Append encodes each record right away into the Builder's buffer (the
// key, value and headers are copied, so the caller may reuse them);
// Finish compresses and frames the batch into the caller's buffer, Framed
// into the Builder's own (an uncompressed batch without a copy: the buffer
// keeps room for the header in front of the records). After either the
// Builder still holds its records; Reset empties it for the next batch
// while keeping its buffers, so a long-lived Builder appends and
// compresses without allocating. It keeps about twice its largest batch:
// the records and their compressed copy.
//
// A Builder is not safe for concurrent use.
type Builder struct {
	codec         Codec
	level         int
	transactional bool

	// buf is HeaderSize bytes of room for the header (written by Framed),
	// then the encoded records, uncompressed; empty before the first
	// Append.
	buf     []byte
	comp    []byte // scratch for the compressed batch, header room first
	n       int32  // records appended
	firstTs int64  // the batch's baseTimestamp
	maxTs   int64
}

// NewBuilder returns a Builder whose batches are compressed with codec at
// level. Level 0 means the codec's default; otherwise it is read the way
// Kafka's compression.<codec>.level settings are:
//
//   - gzip: 1 (fastest) to 9 (smallest); default 6. Others mean default.
//   - lz4: 1 to 9 pick the high-compression compressor at that depth;
//     0 (and anything else) is the fast compressor, which is what most
//     clients use.
//   - zstd: zstd's 1 to 22 scale, mapped to the four speeds of
//     klauspost/compress (below 3 fastest, 3-5 default, 6-9 better, 10
//     and up best); default 3. Negative levels mean fastest.
//   - snappy and none: ignored.
//
// An invalid codec is not reported here; Finish returns the error.
func NewBuilder(codec Codec, level int) *Builder {
	return &Builder{codec: codec, level: level}
}

// Codec returns the Builder's codec.
func (b *Builder) Codec() Codec { return b.codec }

// SetTransactional marks the batches built from now on (until changed) as
// part of a transaction: a transactional producer must set it. Reset keeps
// it.
func (b *Builder) SetTransactional(transactional bool) { b.transactional = transactional }

// Reset empties the Builder for a new batch, keeping its codec, level,
// transactional flag and buffer.
func (b *Builder) Reset() {
	b.buf = b.buf[:0]
	b.n = 0
	b.firstTs, b.maxTs = 0, 0
}

// Grow makes room for the batch to reach n bytes of EncodedSize without
// another allocation: a producer that knows about how large a partition's
// batches get sizes the buffer once instead of letting appends grow it.
func (b *Builder) Grow(n int) {
	if len(b.buf) == 0 {
		b.buf = append(b.buf, headerRoom[:]...)
	}
	if more := n - len(b.buf); more > 0 {
		b.buf = slices.Grow(b.buf, more)
	}
}

// Cap returns the EncodedSize the Builder's buffer holds without growing.
func (b *Builder) Cap() int { return cap(b.buf) }

// NumRecords returns how many records were appended since the last Reset.
func (b *Builder) NumRecords() int { return int(b.n) }

// EncodedSize returns the size of the batch so far, uncompressed,
// including its HeaderSize-byte header: the figure producers compare with
// batch.size and max.request.size. The compressed batch is usually
// smaller, never larger by more than the codec's framing overhead.
func (b *Builder) EncodedSize() int { return max(len(b.buf), HeaderSize) }

// records is the encoded records, uncompressed.
func (b *Builder) records() []byte {
	if len(b.buf) < HeaderSize {
		return nil
	}
	return b.buf[HeaderSize:]
}

// AppendSize returns how many bytes Append with these arguments would add
// to EncodedSize, so a producer can close a batch before it overflows.
func (b *Builder) AppendSize(timestampMs int64, key, value []byte, headers []Header) int {
	tsDelta := int64(0)
	if b.n > 0 {
		tsDelta = timestampMs - b.firstTs
	}
	return RecordSize(key, value, headers, tsDelta, b.n)
}

// Append encodes one record into the batch. A nil key or value is written
// as null (length -1), an empty one as empty. The first record's
// timestamp becomes the batch's base timestamp; timestamps may go
// backwards. Offset deltas are 0, 1, 2, ... in append order.
func (b *Builder) Append(timestampMs int64, key, value []byte, headers []Header) {
	if b.n == 0 {
		b.firstTs, b.maxTs = timestampMs, timestampMs
	} else if timestampMs > b.maxTs {
		b.maxTs = timestampMs
	}
	if len(b.buf) == 0 {
		b.buf = append(b.buf, headerRoom[:]...)
	}
	b.buf = appendRecord(b.buf, timestampMs-b.firstTs, b.n, key, value, headers)
	b.n++
}

// Finish appends the complete batch to dst and returns the extended
// slice; the batch is dst[len(dst):] of the input. Its base offset is 0 and
// its partition leader epoch -1 (the broker assigns both). Pass
// producerID -1, producerEpoch -1 and baseSequence -1 for a producer that
// is not idempotent. It is Framed's batch, copied: for a caller that keeps
// the batch past the Builder's next use.
//
// Finish fails with ErrEmptyBatch without records, or when the codec is
// invalid or the batch would exceed Kafka's 2 GiB size field; dst is then
// returned unchanged. The Builder keeps its records: Finish may be called
// again (for another producer ID, say), and Reset starts the next batch.
func (b *Builder) Finish(dst []byte, producerID int64, producerEpoch int16, baseSequence int32) ([]byte, error) {
	batch, err := b.Framed(producerID, producerEpoch, baseSequence)
	if err != nil {
		return dst, err
	}
	return append(dst, batch...), nil
}

// Framed returns the complete batch, as Finish appends it, in a buffer of
// the Builder's: an uncompressed batch is its records buffer with the
// header written in the room kept in front (no copy), a compressed one the
// Builder's compression scratch. The batch stays valid until the next
// Append, Reset, Finish or Framed; records.SetProducer may rewrite its
// stamp in place. Errors are Finish's.
func (b *Builder) Framed(producerID int64, producerEpoch int16, baseSequence int32) ([]byte, error) {
	if b.n == 0 {
		return nil, ErrEmptyBatch
	}
	if !b.codec.Valid() {
		return nil, fmt.Errorf("kafka: records: cannot build a batch with %v", b.codec)
	}
	batch := b.buf
	if b.codec != CodecNone {
		var err error
		if b.comp, err = compress(append(b.comp[:0], headerRoom[:]...), b.records(), b.codec, b.level); err != nil {
			return nil, err
		}
		batch = b.comp
	}
	if err := b.frame(batch, producerID, producerEpoch, baseSequence); err != nil {
		return nil, err
	}
	return batch, nil
}

// headerRoom is what Append and Framed put where the header will go.
var headerRoom [HeaderSize]byte

// frame writes the header of h, a batch whose records (compressed or not)
// follow HeaderSize bytes of room.
func (b *Builder) frame(h []byte, producerID int64, producerEpoch int16, baseSequence int32) error {
	if len(h)-logOverhead > math.MaxInt32 {
		return fmt.Errorf("kafka: records: batch of %d bytes exceeds the format's limit", len(h))
	}
	attrs := uint16(b.codec)
	if b.transactional {
		attrs |= attrTransactional
	}
	be := binary.BigEndian
	be.PutUint64(h[posBaseOffset:], 0)
	be.PutUint32(h[posBatchLength:], uint32(len(h)-logOverhead))
	be.PutUint32(h[posLeaderEpoch:], math.MaxUint32) // -1
	h[posMagic] = 2
	be.PutUint16(h[posAttributes:], attrs)
	be.PutUint32(h[posLastOffsetDelta:], uint32(b.n-1))
	be.PutUint64(h[posBaseTimestamp:], uint64(b.firstTs))
	be.PutUint64(h[posMaxTimestamp:], uint64(b.maxTs))
	putProducer(h, producerID, producerEpoch, baseSequence)
	be.PutUint32(h[posRecordCount:], uint32(b.n))
	be.PutUint32(h[posCRC:], crc32c(h[posAttributes:]))
	return nil
}

func putProducer(h []byte, id int64, epoch int16, seq int32) {
	binary.BigEndian.PutUint64(h[posProducerID:], uint64(id))
	binary.BigEndian.PutUint16(h[posProducerEpoch:], uint16(epoch))
	binary.BigEndian.PutUint32(h[posBaseSequence:], uint32(seq))
}

// SetBaseSequence rewrites the base sequence of a finished batch and its
// CRC, keeping the producer ID and epoch. batch must be exactly one v2
// batch, as Finish appended it.
func SetBaseSequence(batch []byte, seq int32) error {
	if err := checkFinished(batch); err != nil {
		return err
	}
	binary.BigEndian.PutUint32(batch[posBaseSequence:], uint32(seq))
	binary.BigEndian.PutUint32(batch[posCRC:], crc32c(batch[posAttributes:]))
	return nil
}

// SetProducer rewrites the producer ID, epoch and base sequence of a
// finished batch and its CRC: an idempotent producer re-stamps its
// buffered batches after it gets a new producer ID or epoch. batch must be
// exactly one v2 batch, as Finish appended it.
func SetProducer(batch []byte, producerID int64, producerEpoch int16, baseSequence int32) error {
	if err := checkFinished(batch); err != nil {
		return err
	}
	putProducer(batch, producerID, producerEpoch, baseSequence)
	binary.BigEndian.PutUint32(batch[posCRC:], crc32c(batch[posAttributes:]))
	return nil
}

func checkFinished(batch []byte) error {
	if len(batch) < HeaderSize || batch[posMagic] != 2 ||
		int64(binary.BigEndian.Uint32(batch[posBatchLength:]))+logOverhead != int64(len(batch)) {
		return &BatchError{Kind: ErrCorrupt, Offset: -1, Detail: fmt.Sprintf("not exactly one v2 batch (%d bytes)", len(batch))}
	}
	return nil
}

// RecordSize returns the exact encoded size of one record, including its
// length prefix, with the given timestamp and offset deltas (relative to
// the batch's first record). It is what the record adds to a batch before
// compression. Builder.AppendSize supplies the deltas itself.
func RecordSize(key, value []byte, headers []Header, tsDelta int64, offsetDelta int32) int {
	n := recordBodySize(key, value, headers, tsDelta, offsetDelta)
	return uvarintSize(uint64(zigzag64(int64(n)))) + n
}

// bytesFieldSize is the size of a length-prefixed, nullable byte field.
func bytesFieldSize(b []byte) int {
	if b == nil {
		return 1 // varint -1
	}
	return uvarintSize(zigzag64(int64(len(b)))) + len(b)
}

func recordBodySize(key, value []byte, headers []Header, tsDelta int64, offsetDelta int32) int {
	n := 1 + // attributes
		varlongSize(tsDelta) +
		varintSize(offsetDelta) +
		bytesFieldSize(key) +
		bytesFieldSize(value) +
		uvarintSize(zigzag64(int64(len(headers))))
	for i := range headers {
		h := &headers[i]
		n += uvarintSize(zigzag64(int64(len(h.Key)))) + len(h.Key) + bytesFieldSize(h.Value)
	}
	return n
}

func appendBytesField(b, v []byte) []byte {
	if v == nil {
		return append(b, 1) // zigzag(-1)
	}
	b = appendVarlong(b, int64(len(v)))
	return append(b, v...)
}

// growDoubling makes room for n more bytes in b, at least doubling its
// capacity when it must grow. append's own rule grows a large slice by a
// quarter at a time: a batch that outgrows its first buffer on the way to a
// megabyte would be copied about a dozen times (the copies showed as 7 % of
// a producer's CPU), doubled it is copied about four times.
func growDoubling(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	return slices.Grow(b, max(n, cap(b)))
}

// appendRecord appends one encoded record. It sizes the record first so
// that the length prefix can be written up front and the buffer grows at
// most once.
func appendRecord(b []byte, tsDelta int64, offsetDelta int32, key, value []byte, headers []Header) []byte {
	body := recordBodySize(key, value, headers, tsDelta, offsetDelta)
	b = growDoubling(b, uvarintSize(zigzag64(int64(body)))+body)
	b = appendVarlong(b, int64(body))
	b = append(b, 0) // record attributes: unused
	b = appendVarlong(b, tsDelta)
	b = appendVarint(b, offsetDelta)
	b = appendBytesField(b, key)
	b = appendBytesField(b, value)
	b = appendVarlong(b, int64(len(headers)))
	for i := range headers {
		h := &headers[i]
		b = appendVarlong(b, int64(len(h.Key)))
		b = append(b, h.Key...)
		b = appendBytesField(b, h.Value)
	}
	return b
}
