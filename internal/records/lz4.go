package records

import (
	"bytes"
	"encoding/binary"
	"sync"

	"github.com/pierrec/lz4/v4"
)

// lz4: the LZ4 frame format (magic 0x184D2204), which is what Kafka has
// used since magic 1 (KIP-57 fixed the header checksum the 0.8-era Java
// client got wrong). We write what the Java client writes: independent
// 64 KiB blocks and no content checksum (the batch CRC already covers the
// bytes). We read any valid frame: other block sizes, dependent blocks,
// block and content checksums.

var lz4Levels = [10]lz4.CompressionLevel{
	lz4.Fast, lz4.Level1, lz4.Level2, lz4.Level3, lz4.Level4,
	lz4.Level5, lz4.Level6, lz4.Level7, lz4.Level8, lz4.Level9,
}

type lz4Enc struct {
	out appendWriter
	w   *lz4.Writer
}

// lz4EncPools holds one pool per level; index 0 is the fast compressor.
var lz4EncPools [10]sync.Pool

func lz4Compress(dst, src []byte, level int) ([]byte, error) {
	if level < 0 || level >= len(lz4Levels) {
		level = 0
	}
	e, _ := lz4EncPools[level].Get().(*lz4Enc)
	if e == nil {
		e = new(lz4Enc)
		e.w = lz4.NewWriter(&e.out)
		if err := e.w.Apply(
			lz4.BlockSizeOption(lz4.Block64Kb),
			lz4.ChecksumOption(false),
			lz4.CompressionLevelOption(lz4Levels[level]),
		); err != nil {
			return dst, err // unreachable: constant, valid options
		}
	}
	e.out.b = dst
	e.w.Reset(&e.out) // keeps the options
	_, err := e.w.Write(src)
	if err == nil {
		err = e.w.Close()
	}
	dst = e.out.b
	e.out.b = nil
	lz4EncPools[level].Put(e)
	return dst, err
}

type lz4Dec struct {
	src bytes.Reader
	r   *lz4.Reader
	one [1]byte
}

var lz4DecPool = sync.Pool{New: func() any { return &lz4Dec{r: lz4.NewReader(nil)} }}

// lz4Hint uses the frame's optional content size when the frame has one
// and it is plausible (LZ4 expands at most about 255:1).
func lz4Hint(src []byte, limit, hint int) int {
	const flagContentSize = 0x08
	if len(src) >= 14 && binary.LittleEndian.Uint32(src) == 0x184D2204 && src[4]&flagContentSize != 0 {
		if cs := binary.LittleEndian.Uint64(src[6:]); cs <= uint64(255*len(src)) {
			return min(int(cs), limit)
		}
	}
	return hint
}

func lz4Decompress(src []byte, limit, hint int) ([]byte, error) {
	d := lz4DecPool.Get().(*lz4Dec)
	defer func() {
		d.src.Reset(nil)
		d.r.Reset(nil)
		lz4DecPool.Put(d)
	}()
	d.src.Reset(src)
	d.r.Reset(&d.src)
	return readBounded(d.r, lz4Hint(src, limit, hint), limit, d.one[:])
}
