package records

import "hash/crc32"

// castagnoli is the CRC-32C table. hash/crc32 uses the SSE4.2 CRC32
// instruction (with carry-less multiplication for long inputs) on amd64 and
// the CRC32C instructions on arm64, so checking a batch costs a few percent
// of decoding it.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32c is the checksum Kafka stores in a v2 batch: over every byte from
// the attributes field to the end of the batch.
func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
