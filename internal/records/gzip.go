package records

import (
	"bytes"
	"encoding/binary"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// gzip: RFC 1952 streams through klauspost/compress/gzip, which is
// format-identical to compress/gzip and several times faster. Writers and
// readers carry large internal state (the deflate window and tables), so
// both are pooled: a Builder's Finish and a batch decode allocate nothing
// for them in steady state.

// gzipEnc is a pooled writer plus the appendWriter it writes through.
type gzipEnc struct {
	out appendWriter
	w   *gzip.Writer
}

// gzipEncPools holds one pool per level; index 0 is the default level.
var gzipEncPools [10]sync.Pool

// gzipLevel maps a Builder level to a pool index: 1-9 are deflate's levels,
// anything else is the default (6).
func gzipLevel(level int) int {
	if level < gzip.BestSpeed || level > gzip.BestCompression {
		return 0
	}
	return level
}

func gzipCompress(dst, src []byte, level int) ([]byte, error) {
	idx := gzipLevel(level)
	e, _ := gzipEncPools[idx].Get().(*gzipEnc)
	if e == nil {
		e = new(gzipEnc)
		lv := idx
		if lv == 0 {
			lv = gzip.DefaultCompression
		}
		var err error
		if e.w, err = gzip.NewWriterLevel(&e.out, lv); err != nil {
			return dst, err // unreachable: the level is validated above
		}
	}
	e.out.b = dst
	e.w.Reset(&e.out)
	_, err := e.w.Write(src)
	if err == nil {
		err = e.w.Close()
	}
	dst = e.out.b
	e.out.b = nil // do not pin the caller's buffer in the pool
	gzipEncPools[idx].Put(e)
	return dst, err
}

type gzipDec struct {
	src bytes.Reader
	r   gzip.Reader
	one [1]byte
}

var gzipDecPool = sync.Pool{New: func() any { return new(gzipDec) }}

// gzipHint reads ISIZE, the uncompressed size mod 2^32 that ends a gzip
// member, and trusts it only as far as deflate's maximum ratio (1032:1)
// and the limit allow.
func gzipHint(src []byte, limit, hint int) int {
	if len(src) < 18 {
		return hint
	}
	isize := int(binary.LittleEndian.Uint32(src[len(src)-4:]))
	if isize > 1032*len(src) {
		return hint
	}
	return min(isize, limit)
}

func gzipDecompress(src []byte, limit, hint int) ([]byte, error) {
	d := gzipDecPool.Get().(*gzipDec)
	defer func() {
		d.src.Reset(nil)
		gzipDecPool.Put(d)
	}()
	d.src.Reset(src)
	if err := d.r.Reset(&d.src); err != nil {
		return nil, err
	}
	return readBounded(&d.r, gzipHint(src, limit, hint), limit, d.one[:])
}
