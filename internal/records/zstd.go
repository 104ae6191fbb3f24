package records

import (
	"errors"
	"fmt"
	"math/bits"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// zstd: klauspost/compress/zstd. Encoders and decoders are expensive to
// build (tables, block decoders) but their EncodeAll and DecodeAll are safe
// for concurrent use, so the package keeps shared instances: one encoder
// per speed level and one decoder per size limit, created on first use and
// kept for the life of the process.

// zstdEncoders is indexed by zstd.EncoderLevel (1-4).
var zstdEncoders [zstd.SpeedBestCompression + 1]struct {
	once sync.Once
	enc  *zstd.Encoder
	err  error
}

// zstdEncoderLevel maps a Builder level, which follows zstd's own 1-22
// scale (Kafka's compression.zstd.level), to one of the library's four
// speeds. 0 means zstd's default level 3.
func zstdEncoderLevel(level int) zstd.EncoderLevel {
	if level == 0 {
		level = 3
	}
	return zstd.EncoderLevelFromZstd(level)
}

func zstdCompress(dst, src []byte, level int) ([]byte, error) {
	l := zstdEncoderLevel(level)
	slot := &zstdEncoders[l]
	slot.once.Do(func() {
		// EncodeAll on a batch-sized input writes one single-segment
		// frame with its content size, so a reader can allocate once.
		slot.enc, slot.err = zstd.NewWriter(nil, zstd.WithEncoderLevel(l))
	})
	if slot.err != nil {
		return dst, slot.err
	}
	return slot.enc.EncodeAll(src, dst), nil
}

// zstdDecoders maps a power-of-two size class to a *zstd.Decoder whose
// maximum decoded size is that class. The library enforces the maximum
// block by block while it decodes, so a bomb stops after at most one
// 128 KiB block past the class; the exact limit is checked afterwards.
// Classes keep the number of decoders tiny (a client uses one or two
// limits; there are at most 64 classes).
var zstdDecoders sync.Map // uint64 -> *zstd.Decoder

func zstdDecoder(limit int) (*zstd.Decoder, error) {
	class := uint64(1) << bits.Len64(uint64(max(limit, 1024))-1)
	if d, ok := zstdDecoders.Load(class); ok {
		return d.(*zstd.Decoder), nil
	}
	d, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0), // GOMAXPROCS concurrent DecodeAll calls
		zstd.WithDecoderMaxMemory(class),
		zstd.WithDecoderMaxWindow(max(class, zstd.MinWindowSize)),
	)
	if err != nil {
		return nil, err
	}
	if prev, loaded := zstdDecoders.LoadOrStore(class, d); loaded {
		d.Close()
		return prev.(*zstd.Decoder), nil
	}
	return d, nil
}

func zstdDecompress(src []byte, limit int) ([]byte, error) {
	dec, err := zstdDecoder(limit)
	if err != nil {
		return nil, err
	}
	var dst []byte
	var h zstd.Header
	if h.Decode(src) != nil || !h.HasFCS {
		// No content size (Java's streaming writer omits it): guess, and
		// let DecodeAll grow the buffer.
		dst = make([]byte, 0, sizeHint(len(src), limit))
	} // else DecodeAll allocates exactly the content size itself
	out, err := dec.DecodeAll(src, dst)
	if err != nil {
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
			return nil, fmt.Errorf("%w: %w", ErrTooLarge, err)
		}
		return nil, err
	}
	if len(out) > limit {
		return nil, ErrTooLarge
	}
	return out, nil
}
