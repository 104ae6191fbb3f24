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
// 5 bytes or overflows 32 bits. Written as one small loop without calls
// so that it inlines into the record parser.
func readVarint(b []byte) (v int32, n int) {
	var u uint32
	for i := 0; i < len(b) && i < 5; i++ {
		c := b[i]
		if i == 4 && c > 0x0f { // bits past 32
			break
		}
		u |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int32(u>>1) ^ -int32(u&1), i + 1
		}
	}
	return 0, -1
}

// readVarlong decodes a zigzag varlong (at most 10 bytes) like readVarint.
func readVarlong(b []byte) (v int64, n int) {
	var u uint64
	for i := 0; i < len(b) && i < 10; i++ {
		c := b[i]
		if i == 9 && c > 1 { // bits past 64
			break
		}
		u |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), i + 1
		}
	}
	return 0, -1
}
