package records

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Record is one decoded record.
//
// Key, Value and the header values alias either the data given to Decode
// (uncompressed batches) or a buffer that decompression allocated for
// this batch alone and never reuses: they are zero-copy, valid for as
// long as the caller keeps the input data unmodified, and may be retained
// after the callback returns. A null key or value is nil; an empty one is
// non-nil with length 0. Their capacities are clipped, so appending to one
// copies instead of overwriting its neighbour.
type Record struct {
	Offset    int64 // BaseOffset plus the record's offset delta
	Timestamp int64 // milliseconds since the epoch; MaxTimestamp under LogAppendTime
	Key       []byte
	Value     []byte
	Headers   []Header // nil when the record has none
}

// BatchInfo describes one decoded batch.
type BatchInfo struct {
	BaseOffset int64
	// LastOffset is the offset of the batch's last record as the
	// producer wrote it. A consumer continues from LastOffset+1 even when
	// compaction removed that record or every record (NumRecords 0).
	LastOffset           int64
	PartitionLeaderEpoch int32
	Codec                Codec
	LogAppendTime        bool // timestamps were set by the broker (timestampType 1)
	Transactional        bool
	// Control marks a batch of control records (transaction markers);
	// consumers skip its records but still advance past it.
	Control       bool
	ProducerID    int64 // -1 when not idempotent
	ProducerEpoch int16
	BaseSequence  int32
	NumRecords    int32
	BaseTimestamp int64
	MaxTimestamp  int64
	// Size is the number of bytes the batch occupies in the input,
	// including the 12 bytes of base offset and length.
	Size int
	// Body is the bytes the batch's records were read from: part of the
	// input, or the buffer decompression allocated. Every record's Key
	// and Value is a part of it.
	Body []byte
}

// DefaultMaxDecompressedBytes is the decompressed-size limit when
// DecodeOptions.MaxDecompressedBytes is 0.
const DefaultMaxDecompressedBytes = 256 << 20

// DecodeOptions configures decoding. The zero value is the default.
type DecodeOptions struct {
	// SkipCRC skips the CRC-32C check of each batch. The check is on by
	// default; with hardware CRC it costs a few percent of decoding.
	SkipCRC bool

	// MaxDecompressedBytes bounds what one compressed batch may
	// decompress to; past it, decoding fails with ErrTooLarge instead of
	// allocating further. 0 means DefaultMaxDecompressedBytes (256 MiB).
	// Decompression allocates as the output grows, so a small batch costs
	// little whatever the limit. One exception: a zstd frame that does
	// not declare its size (the Java client's) is bounded by the limit
	// rounded up to a power of two and to at least 8 MiB, and fails with
	// ErrTooLarge if the window it declares is larger than that.
	MaxDecompressedBytes int
}

// Decoder decodes the record batches of one partition's fetched records.
// It reuses its record slice and header-key cache between calls, so a
// long-lived Decoder per fetching goroutine decodes uncompressed batches
// without allocating. The zero value uses the default options.
//
// A Decoder is not safe for concurrent use.
type Decoder struct {
	opts DecodeOptions
	info BatchInfo
	recs []Record

	// keys caches recent header keys: the []byte -> string conversion
	// would otherwise allocate for every header of every record, and
	// topics tend to use a handful of keys.
	keys    [8]string
	keyNext int

	// ratio remembers each codec's last expansion ratio, in eighths, to
	// size the next decompression buffer right the first time.
	ratio [CodecZstd + 1]int
}

// NewDecoder returns a Decoder with the given options.
func NewDecoder(opts DecodeOptions) *Decoder { return &Decoder{opts: opts} }

// DecodeBatches decodes data with a temporary Decoder; see Decoder.Decode.
// Use a long-lived Decoder on hot paths.
func DecodeBatches(data []byte, opts DecodeOptions, fn func(info *BatchInfo, recs []Record) error) error {
	d := Decoder{opts: opts}
	return d.Decode(data, fn)
}

// The smallest encodings: a record of a length byte plus six one-byte
// fields (attributes, timestamp delta, offset delta, key and value
// lengths, header count), and a header of two one-byte lengths.
const (
	minRecordBody = 6
	minRecordSize = 1 + minRecordBody
	minHeaderSize = 2
)

// Decode calls fn for every complete batch in data, in order: the records
// field of one partition in a fetch response. fn sees every batch,
// including control batches and batches that compaction emptied, so that
// a consumer can advance to info.LastOffset+1.
//
// info and recs are reused: they are valid only until fn returns (copy
// the Record values, which stay valid, to keep them; see Record). If fn
// returns an error, Decode stops and returns it unchanged.
//
// A trailing partial batch (brokers cut responses at the fetch size, so
// the last batch is often incomplete) ends decoding without error; if fn
// was never called although data is not empty, the first batch was
// larger than the fetch size. Any other malformed batch stops decoding
// with a *BatchError matching ErrCorrupt, ErrUnsupportedMagic or
// ErrTooLarge, after fn has seen the batches before it.
//
// Decode never panics on malformed input and allocates in proportion to
// the input, except for decompression, which is bounded by
// MaxDecompressedBytes (a small multiple of it while the buffer grows).
func (d *Decoder) Decode(data []byte, fn func(info *BatchInfo, recs []Record) error) error {
	// The reused records and the batch's Body alias data: forget them on
	// return, else the Decoder alone keeps data (a whole Fetch response,
	// say) alive.
	defer func() {
		clear(d.recs[:cap(d.recs)])
		d.info.Body = nil
	}()
	for pos := 0; ; {
		rest := data[pos:]
		if len(rest) < logOverhead {
			return nil // nothing, or a partial batch, left
		}
		length := int32(binary.BigEndian.Uint32(rest[posBatchLength:]))
		if length < 0 {
			return d.fail(pos, rest, corruptf("negative batch length %d", length))
		}
		size := logOverhead + int(length)
		if size > len(rest) {
			return nil // partial trailing batch
		}
		batch := rest[:size]
		if err := d.decodeBatch(batch); err != nil {
			return d.fail(pos, batch, err)
		}
		d.info.Size = size
		if err := fn(&d.info, d.recs); err != nil {
			return err
		}
		pos += size
	}
}

// fail completes a *BatchError with the batch's position and base offset.
func (d *Decoder) fail(pos int, batch []byte, err error) error {
	var be *BatchError
	if !errors.As(err, &be) {
		be = &BatchError{Kind: ErrCorrupt, Cause: err}
	}
	be.Pos = pos
	be.Offset = -1
	if len(batch) >= 8 {
		be.Offset = int64(binary.BigEndian.Uint64(batch))
	}
	return be
}

// decodeBatch fills d.info and d.recs from one complete batch.
func (d *Decoder) decodeBatch(batch []byte) error {
	if len(batch) <= posMagic {
		return corruptf("batch of %d bytes is too short to hold a magic byte", len(batch))
	}
	if magic := batch[posMagic]; magic != 2 {
		return &BatchError{Kind: ErrUnsupportedMagic, Detail: fmt.Sprintf("magic %d, want 2", int8(magic))}
	}
	if len(batch) < HeaderSize {
		return corruptf("batch of %d bytes is shorter than the %d-byte header", len(batch), HeaderSize)
	}
	be := binary.BigEndian
	if !d.opts.SkipCRC {
		stored, computed := be.Uint32(batch[posCRC:]), crc32c(batch[posAttributes:])
		if stored != computed {
			return corruptf("CRC mismatch: stored %#08x, computed %#08x", stored, computed)
		}
	}
	attrs := be.Uint16(batch[posAttributes:])
	info := &d.info
	*info = BatchInfo{
		BaseOffset:           int64(be.Uint64(batch[posBaseOffset:])),
		PartitionLeaderEpoch: int32(be.Uint32(batch[posLeaderEpoch:])),
		Codec:                Codec(attrs & attrCodecMask),
		LogAppendTime:        attrs&attrLogAppendTime != 0,
		Transactional:        attrs&attrTransactional != 0,
		Control:              attrs&attrControl != 0,
		ProducerID:           int64(be.Uint64(batch[posProducerID:])),
		ProducerEpoch:        int16(be.Uint16(batch[posProducerEpoch:])),
		BaseSequence:         int32(be.Uint32(batch[posBaseSequence:])),
		NumRecords:           int32(be.Uint32(batch[posRecordCount:])),
		BaseTimestamp:        int64(be.Uint64(batch[posBaseTimestamp:])),
		MaxTimestamp:         int64(be.Uint64(batch[posMaxTimestamp:])),
	}
	// Consumers continue from LastOffset+1 and trust record offsets, so
	// offsets that go backwards or overflow would make them loop or
	// jump; Kafka never writes them.
	lastDelta := int32(be.Uint32(batch[posLastOffsetDelta:]))
	if info.BaseOffset < 0 || lastDelta < 0 || info.BaseOffset > math.MaxInt64-1-int64(lastDelta) {
		return corruptf("impossible offsets: base %d, last delta %d", info.BaseOffset, lastDelta)
	}
	info.LastOffset = info.BaseOffset + int64(lastDelta)
	if !info.Codec.Valid() {
		return corruptf("unknown compression codec %d", int(info.Codec))
	}
	if info.NumRecords < 0 {
		return corruptf("negative record count %d", info.NumRecords)
	}
	d.recs = d.recs[:0]
	if info.NumRecords == 0 {
		return nil // emptied by compaction: only the offsets and producer state matter
	}
	payload := batch[HeaderSize:]
	if info.Codec != CodecNone {
		limit := d.opts.MaxDecompressedBytes
		if limit <= 0 {
			limit = DefaultMaxDecompressedBytes
		}
		hint := 0
		if r := d.ratio[info.Codec]; r > 0 {
			hint = int(min(int64(len(payload))*int64(r)/8, int64(limit)))
		}
		out, err := decompress(payload, info.Codec, limit, hint)
		if err == nil && len(payload) > 0 {
			// Eighths, plus 1/8 of margin: the next batch of this topic
			// likely compresses alike.
			d.ratio[info.Codec] = int(min(int64(len(out))*9/int64(len(payload))+1, 8*1100))
		}
		if err != nil {
			if errors.Is(err, ErrTooLarge) {
				return &BatchError{Kind: ErrTooLarge, Detail: fmt.Sprintf("%v batch decompresses past %d bytes", info.Codec, limit)}
			}
			return &BatchError{Kind: ErrCorrupt, Detail: fmt.Sprintf("%v decompression failed", info.Codec), Cause: err}
		}
		payload = out
	}
	info.Body = payload
	return d.decodeRecords(payload, lastDelta)
}

// decodeRecords parses info.NumRecords records that must fill data
// exactly, with offset deltas up to lastDelta.
func (d *Decoder) decodeRecords(data []byte, lastDelta int32) error {
	info := &d.info
	n := int(info.NumRecords)
	if n > len(data)/minRecordSize {
		return corruptf("%d records cannot fit in %d bytes", n, len(data))
	}
	if cap(d.recs) < n {
		d.recs = make([]Record, 0, n)
	}
	recs := d.recs[:n]
	var hdrs []Header // this batch's headers; never reused, records keep them
	p := 0
	for i := range recs {
		length, m := readVarint(data[p:])
		if m <= 0 {
			return corruptf("record %d: bad length varint", i)
		}
		p += m
		if length < minRecordBody || int(length) > len(data)-p {
			return corruptf("record %d: length %d with %d bytes left", i, length, len(data)-p)
		}
		body := data[p : p+int(length)]
		p += int(length)

		r := &recs[i]
		q := 1 // skip the record attributes, which are unused
		tsDelta, m := readVarlong(body[q:])
		if m <= 0 {
			return corruptf("record %d: bad timestamp delta", i)
		}
		q += m
		offDelta, m := readVarint(body[q:])
		if m <= 0 {
			return corruptf("record %d: bad offset delta", i)
		}
		q += m
		var ok bool
		if r.Key, q, ok = readBytesField(body, q); !ok {
			return corruptf("record %d: bad key length", i)
		}
		if r.Value, q, ok = readBytesField(body, q); !ok {
			return corruptf("record %d: bad value length", i)
		}
		hc, m := readVarint(body[q:])
		if m <= 0 || hc < 0 || int(hc) > (len(body)-q-m)/minHeaderSize {
			return corruptf("record %d: bad header count", i)
		}
		q += m
		r.Headers = nil
		if hc > 0 {
			if cap(hdrs)-len(hdrs) < int(hc) {
				// Guess that the remaining records carry as many
				// headers, within what the remaining bytes can hold.
				guess := min(int64(hc)*int64(n-i), int64(hc)+int64((len(data)-p)/minHeaderSize))
				hdrs = make([]Header, 0, int(guess))
			}
			start := len(hdrs)
			for j := 0; j < int(hc); j++ {
				kl, m := readVarint(body[q:])
				if m <= 0 || kl < 0 || int(kl) > len(body)-q-m {
					return corruptf("record %d header %d: bad key length", i, j)
				}
				q += m
				h := Header{Key: d.intern(body[q : q+int(kl)])}
				q += int(kl)
				if h.Value, q, ok = readBytesField(body, q); !ok {
					return corruptf("record %d header %d: bad value length", i, j)
				}
				hdrs = append(hdrs, h)
			}
			r.Headers = hdrs[start:len(hdrs):len(hdrs)]
		}
		if q != len(body) {
			return corruptf("record %d: %d unparsed bytes", i, len(body)-q)
		}
		if offDelta < 0 || offDelta > lastDelta {
			return corruptf("record %d: offset delta %d outside the batch's 0..%d", i, offDelta, lastDelta)
		}
		r.Offset = info.BaseOffset + int64(offDelta)
		if info.LogAppendTime {
			r.Timestamp = info.MaxTimestamp
		} else {
			r.Timestamp = info.BaseTimestamp + tsDelta
		}
	}
	if p != len(data) {
		return corruptf("%d bytes after the last of %d records", len(data)-p, n)
	}
	d.recs = recs
	return nil
}

// readBytesField reads a nullable length-prefixed field at b[q:],
// returning the field (nil if null, capacity clipped) and the next
// position.
func readBytesField(b []byte, q int) ([]byte, int, bool) {
	l, m := readVarint(b[q:])
	if m <= 0 || l < -1 || int(l) > len(b)-q-m {
		return nil, q, false
	}
	q += m
	if l == -1 {
		return nil, q, true
	}
	end := q + int(l)
	return b[q:end:end], end, true
}

// intern returns b as a string, reusing a recently seen equal string.
func (d *Decoder) intern(b []byte) string {
	for _, k := range d.keys {
		if k == string(b) { // compiles to a comparison, no allocation
			return k
		}
	}
	s := string(b)
	d.keys[d.keyNext] = s
	d.keyNext = (d.keyNext + 1) % len(d.keys)
	return s
}
