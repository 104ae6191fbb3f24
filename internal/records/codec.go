package records

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Codec is a batch compression codec. Its values are the codec bits (0-2)
// of a v2 batch's attributes, so Codec(attributes&7) is the batch's codec.
type Codec int8

// The codecs Kafka defines. The zero value is CodecNone.
const (
	CodecNone   Codec = 0
	CodecGzip   Codec = 1
	CodecSnappy Codec = 2
	CodecLZ4    Codec = 3
	CodecZstd   Codec = 4
)

var codecNames = [...]string{"none", "gzip", "snappy", "lz4", "zstd"}

// Valid reports whether c is one of the five codecs Kafka defines.
func (c Codec) Valid() bool { return c >= CodecNone && c <= CodecZstd }

// String returns Kafka's name for the codec (the compression.type value):
// "none", "gzip", "snappy", "lz4" or "zstd".
func (c Codec) String() string {
	if c.Valid() {
		return codecNames[c]
	}
	return "codec(" + strconv.Itoa(int(c)) + ")"
}

// ParseCodec parses a compression.type name, case-insensitively. "" and
// "uncompressed" (the broker-side spelling) mean CodecNone.
func ParseCodec(s string) (Codec, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none", "uncompressed":
		return CodecNone, nil
	case "gzip":
		return CodecGzip, nil
	case "snappy":
		return CodecSnappy, nil
	case "lz4":
		return CodecLZ4, nil
	case "zstd":
		return CodecZstd, nil
	}
	return CodecNone, fmt.Errorf("kafka: records: unknown compression codec %q (want none, gzip, snappy, lz4 or zstd)", s)
}

// MarshalText implements encoding.TextMarshaler with String's names.
func (c Codec) MarshalText() ([]byte, error) {
	if !c.Valid() {
		return nil, fmt.Errorf("kafka: records: invalid codec %d", int8(c))
	}
	return []byte(c.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseCodec.
func (c *Codec) UnmarshalText(b []byte) error {
	v, err := ParseCodec(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// compress appends src compressed with c at level to dst. level 0 means
// the codec's default; see NewBuilder for each codec's range.
func compress(dst, src []byte, c Codec, level int) ([]byte, error) {
	switch c {
	case CodecNone:
		return append(dst, src...), nil
	case CodecGzip:
		return gzipCompress(dst, src, level)
	case CodecSnappy:
		return xerialCompress(dst, src), nil
	case CodecLZ4:
		return lz4Compress(dst, src, level)
	case CodecZstd:
		return zstdCompress(dst, src, level)
	}
	return dst, fmt.Errorf("kafka: records: cannot compress with %v", c)
}

// decompress returns src decompressed with c into a freshly allocated
// buffer that it never reuses (records may alias it). It fails with
// ErrTooLarge rather than produce more than limit bytes. hint is the
// expected output size (0: guess from the input size); a good hint saves
// growing the buffer. Allocation is a small multiple of the output, and
// of the limit (for zstd, of max(limit, zstdMinClass)).
func decompress(src []byte, c Codec, limit, hint int) ([]byte, error) {
	if hint <= 0 {
		hint = sizeHint(len(src), limit)
	}
	switch c {
	case CodecNone:
		return src, nil
	case CodecGzip:
		return gzipDecompress(src, limit, hint)
	case CodecSnappy:
		return snappyDecompress(src, limit)
	case CodecLZ4:
		return lz4Decompress(src, limit, hint)
	case CodecZstd:
		return zstdDecompress(src, limit, hint)
	}
	return nil, fmt.Errorf("unknown compression codec %d", int8(c))
}

// appendWriter is an io.Writer that appends to a slice: the streaming
// compressors write straight into the caller's batch buffer through it.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// readBounded reads r to EOF into a new buffer, starting with room for
// hint bytes (so an exact hint means one allocation), and fails with
// ErrTooLarge once more than limit bytes come out. one is a caller-owned
// byte used to probe for more data without allocating.
func readBounded(r io.Reader, hint, limit int, one []byte) ([]byte, error) {
	buf := make([]byte, 0, min(max(hint, 512), limit))
	for stalls := 0; ; {
		if len(buf) == cap(buf) {
			// Full: probe before growing, so that a stream that ends
			// exactly here costs no reallocation.
			n, err := io.ReadFull(r, one[:1])
			if n == 0 {
				if err == io.EOF {
					return buf, nil
				}
				return nil, err
			}
			if len(buf) >= limit {
				return nil, ErrTooLarge
			}
			next := make([]byte, len(buf), min(2*cap(buf), limit))
			copy(next, buf)
			buf = append(next, one[0])
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
		if n > 0 {
			stalls = 0
		} else if stalls++; stalls > 100 {
			return nil, io.ErrNoProgress
		}
	}
}

// sizeHint guesses a decompressed size when neither the caller nor the
// format says: Kafka payloads (JSON, Avro, logs) typically compress 3-5x.
func sizeHint(compressedLen, limit int) int {
	return min(4*compressedLen, limit)
}
