package records

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/klauspost/compress/s2"
)

// snappy: Kafka has two spellings of a snappy batch.
//
//   - xerial framing, what the Java client writes (snappy-java's
//     SnappyOutputStream): a 16-byte header, the magic "\x82SNAPPY\x00" and
//     two big-endian int32s (version 1, minimum compatible version 1), then
//     blocks of [int32 big-endian length][raw snappy block], each block
//     holding at most 32 KiB of input.
//   - a single raw snappy block (a uvarint decoded length, then the
//     compressed elements), which librdkafka and some older clients write.
//
// We write xerial, which every client reads, and read both. The raw
// blocks go through s2, whose decoder accepts every snappy block (and S2's
// extensions, which no Kafka client writes).

var xerialMagic = [8]byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const (
	xerialHeaderLen = 16
	xerialBlockSize = 32 << 10 // snappy-java's default block size
)

// maxSnappyRatio bounds the decoded length a snappy block may claim: the
// densest snappy element is a 3-byte copy of 64 bytes, so no genuine
// block expands more than 22:1. Rejecting larger claims stops a tiny
// input from making us allocate up to the limit.
const maxSnappyRatio = 22

var errSnappyClaim = errors.New("snappy: block claims an impossible decoded length")

func xerialCompress(dst, src []byte) []byte {
	blocks := (len(src) + xerialBlockSize - 1) / xerialBlockSize
	dst = slices.Grow(dst, xerialHeaderLen+blocks*(4+s2.MaxEncodedLen(xerialBlockSize)))
	dst = append(dst, xerialMagic[:]...)
	dst = binary.BigEndian.AppendUint32(dst, 1) // version
	dst = binary.BigEndian.AppendUint32(dst, 1) // minimum compatible version
	for len(src) > 0 {
		chunk := src[:min(len(src), xerialBlockSize)]
		src = src[len(chunk):]
		lenAt := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		// The room reserved above lets EncodeSnappy write in place.
		n := len(s2.EncodeSnappy(dst[len(dst):cap(dst)], chunk))
		binary.BigEndian.PutUint32(dst[lenAt:], uint32(n))
		dst = dst[:len(dst)+n]
	}
	return dst
}

// snappyBlockLen returns the decoded length a raw snappy block claims,
// after checking it against the block's size.
func snappyBlockLen(block []byte) (int, error) {
	n, err := s2.DecodedLen(block)
	if err != nil {
		return 0, err
	}
	if n > maxSnappyRatio*len(block) {
		return 0, errSnappyClaim
	}
	return n, nil
}

func snappyDecompress(src []byte, limit int) ([]byte, error) {
	if len(src) >= xerialHeaderLen && [8]byte(src) == xerialMagic {
		return xerialDecompress(src[xerialHeaderLen:], limit)
	}
	n, err := snappyBlockLen(src)
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, ErrTooLarge
	}
	out := make([]byte, n)
	if _, err := s2.Decode(out, src); err != nil {
		return nil, err
	}
	return out, nil
}

// xerialDecompress decodes the blocks after the header in two passes: the
// first validates every block's framing and sums the decoded lengths, so
// that the second decodes into one exactly-sized buffer.
func xerialDecompress(src []byte, limit int) ([]byte, error) {
	total := 0
	for rest := src; len(rest) > 0; {
		block, next, err := xerialBlock(rest)
		if err != nil {
			return nil, err
		}
		n, err := snappyBlockLen(block)
		if err != nil {
			return nil, err
		}
		if total += n; total > limit {
			return nil, ErrTooLarge
		}
		rest = next
	}
	out := make([]byte, total)
	pos := 0
	for rest := src; len(rest) > 0; {
		block, next, _ := xerialBlock(rest) // validated above
		n, _ := s2.DecodedLen(block)
		if _, err := s2.Decode(out[pos:pos+n], block); err != nil {
			return nil, err
		}
		pos += n
		rest = next
	}
	return out, nil
}

// xerialBlock splits the first [length][block] off src.
func xerialBlock(src []byte) (block, rest []byte, err error) {
	if len(src) < 4 {
		return nil, nil, fmt.Errorf("snappy: xerial block length truncated (%d bytes left)", len(src))
	}
	n := binary.BigEndian.Uint32(src)
	if uint64(n) > uint64(len(src)-4) {
		return nil, nil, fmt.Errorf("snappy: xerial block of %d bytes but only %d left", n, len(src)-4)
	}
	return src[4 : 4+n], src[4+n:], nil
}
