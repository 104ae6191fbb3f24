// Package records encodes and decodes Kafka record batches (message format
// v2, "magic 2", Kafka 0.11 and later) and their compression codecs. It is
// pure computation, no I/O: the producer builds its Produce request's
// records field with a Builder, and the fetcher turns a Fetch response's
// records field into records with a Decoder.
//
// # The format
//
// A partition's records are a sequence of batches. Every integer in the
// header is big-endian:
//
//	offset  field                 type    notes
//	0       baseOffset            int64   broker-assigned; a producer writes 0
//	8       batchLength           int32   bytes after this field
//	12      partitionLeaderEpoch  int32   broker-assigned; a producer writes -1
//	16      magic                 int8    2
//	17      crc                   uint32  CRC-32C of bytes 21..end
//	21      attributes            int16   see below
//	23      lastOffsetDelta       int32   last record's offset - baseOffset
//	27      baseTimestamp         int64   ms; the first record's timestamp
//	35      maxTimestamp          int64   ms; the largest timestamp
//	43      producerId            int64   -1 unless idempotent
//	51      producerEpoch         int16   -1 unless idempotent
//	53      baseSequence          int32   -1 unless idempotent
//	57      recordCount           int32
//	61      records                       compressed as a whole if codec != 0
//
// Attributes: bits 0-2 are the Codec (0 none, 1 gzip, 2 snappy, 3 lz4,
// 4 zstd); bit 3 the timestamp type (1: the broker's LogAppendTime, which
// then is maxTimestamp for every record); bit 4 transactional; bit 5
// control (the batch holds a transaction marker, see ParseControlKey); bit
// 6 means baseTimestamp holds the log cleaner's delete horizon.
//
// Each record is a sequence of zigzag varints (int32) and varlongs
// (int64), with no fixed-width field:
//
//	length          varint  bytes that follow
//	attributes      int8    unused, 0
//	timestampDelta  varlong from baseTimestamp
//	offsetDelta     varint  from baseOffset
//	keyLength       varint  -1 for a null key
//	key             bytes
//	valueLength     varint  -1 for a null value
//	value           bytes
//	headerCount     varint
//	headers         headerCount x (keyLength varint, key, valueLength varint
//	                (-1 null), value)
//
// Offsets within a batch need not be contiguous: compaction removes
// records but keeps the batch's baseOffset and lastOffsetDelta, so each
// record's offset is baseOffset + its own offsetDelta, and a batch may even
// be left with no records at all.
//
// # Compression
//
// Codecs follow what the Java client writes, which every client reads:
// gzip (RFC 1952); snappy in snappy-java's "xerial" framing (decoding
// also accepts one raw snappy block, as librdkafka writes); lz4 in the LZ4
// frame format with independent 64 KiB blocks; zstd frames. Encoders and
// decoders are pooled or shared process-wide, so steady-state compression
// allocates nothing per batch. Decompression is bounded: a batch that
// would decompress past DecodeOptions.MaxDecompressedBytes fails with
// ErrTooLarge. The output buffer is sized from a length the input claims
// only when that length is within the limit and possible for the input's
// size; otherwise it grows with the data.
//
// # Producing
//
// A Builder holds one batch for one partition:
//
//	b := records.NewBuilder(records.CodecZstd, 0) // once per partition buffer
//	for _, m := range msgs {
//		if b.NumRecords() > 0 && b.EncodedSize()+b.AppendSize(m.ts, m.key, m.value, m.headers) > maxBatch {
//			break // send this batch, start another
//		}
//		b.Append(m.ts, m.key, m.value, m.headers)
//	}
//	batch, err := b.Finish(nil, producerID, epoch, firstSeq)
//	b.Reset()
//
// Append copies its arguments, so buffers may be reused at once. Finish
// appends the batch to a buffer of the caller's; Framed returns it in the
// Builder's own buffer instead (valid until the next Append or Reset), and
// for an uncompressed batch without copying it: the Builder keeps room for
// the header in front of the records. A producer that keeps each batch until
// it is acknowledged uses Framed. When an
// idempotent producer must re-stamp a finished batch (new producer ID or
// epoch after a reset), SetProducer and SetBaseSequence rewrite the fields
// and the CRC in place, without re-encoding.
//
// # Consuming
//
// A Decoder walks a partition's records bytes batch by batch:
//
//	dec := records.NewDecoder(records.DecodeOptions{}) // one per fetch goroutine
//	err := dec.Decode(data, func(info *records.BatchInfo, recs []records.Record) error {
//		next = info.LastOffset + 1 // also past control and emptied batches
//		if info.Control {
//			return nil // transaction markers are not user records
//		}
//		for _, r := range recs {
//			if r.Offset >= fetchOffset { deliver(r) } // a batch may start before it
//		}
//		return nil
//	})
//
// The contract, in short:
//
//   - Zero copy: Record.Key, Value and header values point into data (or
//     into a buffer decompression allocated for that batch alone). They
//     stay valid while data does and may be kept after the callback. The
//     recs slice and *BatchInfo are reused: copy what you keep.
//   - A partial batch at the end of data, which brokers send routinely,
//     ends decoding silently; a corrupt one (bad CRC, impossible lengths,
//     bad varints, bad compressed data) returns a *BatchError matching
//     ErrCorrupt; a batch of magic 0 or 1 matches ErrUnsupportedMagic; one
//     too large to decompress, ErrTooLarge. Batches before the bad one
//     have been delivered, so the consumer's position is exact.
//   - Nothing panics on hostile input, and every allocation is bounded by
//     the input's size or the decompression limit.
//
// # Concurrency
//
// A Builder and a Decoder each belong to one goroutine at a time. The
// package-level functions and the shared codec state are safe for
// concurrent use.
package records
