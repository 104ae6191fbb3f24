package records

import (
	"errors"
	"math/bits"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// zstd: klauspost/compress/zstd. Encoders and decoders are expensive to
// build (tables, block decoders) but their EncodeAll and DecodeAll are safe
// for concurrent use, so the package keeps shared instances: one encoder
// per speed level and one decoder per size class, created on first use
// and kept for the life of the process.

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

// zstdDecoders maps a size class to a *zstd.Decoder whose maximum
// decoded size is that class: the limit rounded up to a power of two, and
// at least zstdMinClass. The library enforces the maximum block by block
// while it decodes, so a bomb stops within one 128 KiB block of the
// class; the exact limit is checked around it. Classes keep the number of
// decoders tiny (a client uses one or two limits).
//
// The floor exists because the library also rejects frames whose declared
// window exceeds the maximum, and a streaming writer declares a window
// from its compression level, not from the data: zstd-jni, which the Java
// client uses, declares 2 MiB at the default level 3 and 8 MiB at level
// 19, even for a 1 KiB batch. So a frame without a content size may
// decode up to 8 MiB before failing a smaller limit. (The library's
// cap-limited DecodeAll mode would bound each call exactly, but it
// reports overruns with unexported errors, so it cannot be told from
// corruption.)
var zstdDecoders sync.Map // uint64 -> *zstd.Decoder

const zstdMinClass = 8 << 20

func zstdDecoder(limit int) (*zstd.Decoder, error) {
	class := uint64(1) << bits.Len64(uint64(max(limit, zstdMinClass))-1)
	if d, ok := zstdDecoders.Load(class); ok {
		return d.(*zstd.Decoder), nil
	}
	d, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0), // GOMAXPROCS concurrent DecodeAll calls
		zstd.WithDecoderMaxMemory(class),
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

// zstdDecompress decodes into a buffer of the frame's content size when
// the frame declares one (EncodeAll, librdkafka's one-shot compression).
// Otherwise (the Java client's streaming writer omits it) it starts from
// hint and DecodeAll grows the buffer as it goes.
func zstdDecompress(src []byte, limit, hint int) ([]byte, error) {
	dec, err := zstdDecoder(limit)
	if err != nil {
		return nil, err
	}
	var dst []byte
	var h zstd.Header
	switch {
	case h.Decode(src) != nil || !h.HasFCS:
		dst = make([]byte, 0, hint)
	case h.FrameContentSize > uint64(limit):
		return nil, ErrTooLarge
		// default: DecodeAll allocates exactly the content size itself
	}
	out, err := dec.DecodeAll(src, dst)
	if err != nil {
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
			return nil, ErrTooLarge
		}
		return nil, err
	}
	if len(out) > limit {
		return nil, ErrTooLarge
	}
	return out, nil
}
