package records

import "math/bits"

// Kafka's record fields use zigzag varints (protobuf's sint32/sint64):
// zigzag maps 0, -1, 1, -2, ... to 0, 1, 2, 3, ... so that small negative
// numbers (the -1 of a null key) stay one byte, then the result is written
// 7 bits at a time, least significant group first, high bit set on every
// byte but the last. A varint (int32) takes at most 5 bytes, a varlong
// (int64) at most 10.

func zigzag32(v int32) uint32 { return uint32(v<<1) ^ uint32(v>>31) }
func zigzag64(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

// uvarintSize is the encoded size of u: one byte per started 7 bits.
func uvarintSize(u uint64) int { return (bits.Len64(u|1) + 6) / 7 }

func varintSize(v int32) int  { return uvarintSize(uint64(zigzag32(v))) }
func varlongSize(v int64) int { return uvarintSize(zigzag64(v)) }

func appendUvarint(b []byte, u uint64) []byte {
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

func appendVarint(b []byte, v int32) []byte {
	u := zigzag32(v)
	if u < 0x80 { // the common case: a length or delta below 64
		return append(b, byte(u))
	}
	return appendUvarint(b, uint64(u))
}

func appendVarlong(b []byte, v int64) []byte {
	u := zigzag64(v)
	if u < 0x80 {
		return append(b, byte(u))
	}
	return appendUvarint(b, u)
}

// readVarint decodes a zigzag varint from the front of b. n is the number
// of bytes read; n <= 0 means b is truncated or the varint is longer than
// 5 bytes or overflows 32 bits.
func readVarint(b []byte) (v int32, n int) {
	if len(b) > 0 && b[0] < 0x80 { // fast path, inlined
		u := uint32(b[0])
		return int32(u>>1) ^ -int32(u&1), 1
	}
	u, n := readUvarintSlow(b, 5)
	if n > 0 && u > 0xffffffff {
		return 0, -1
	}
	return int32(uint32(u)>>1) ^ -int32(u&1), n
}

// readVarlong decodes a zigzag varlong (at most 10 bytes) like readVarint.
func readVarlong(b []byte) (v int64, n int) {
	if len(b) > 0 && b[0] < 0x80 {
		u := uint64(b[0])
		return int64(u>>1) ^ -int64(u&1), 1
	}
	u, n := readUvarintSlow(b, 10)
	return int64(u>>1) ^ -int64(u&1), n
}

// readUvarintSlow decodes at most max bytes. It returns n == 0 if b ends
// first and n == -1 if the varint is longer than max bytes or overflows 64
// bits.
func readUvarintSlow(b []byte, max int) (uint64, int) {
	var u uint64
	var shift uint
	for i := 0; i < max; i++ {
		if i == len(b) {
			return 0, 0
		}
		c := b[i]
		if c < 0x80 {
			if i == 9 && c > 1 { // the 10th byte holds only bit 63
				return 0, -1
			}
			return u | uint64(c)<<shift, i + 1
		}
		u |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, -1
}
