package records

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

func TestCodecNames(t *testing.T) {
	for _, c := range allCodecs {
		got, err := ParseCodec(c.String())
		if err != nil || got != c {
			t.Errorf("ParseCodec(%q) = %v, %v", c.String(), got, err)
		}
		text, err := c.MarshalText()
		var back Codec
		if err != nil || back.UnmarshalText(text) != nil || back != c {
			t.Errorf("text round trip of %v: %q %v -> %v", c, text, err, back)
		}
	}
	for in, want := range map[string]Codec{"": CodecNone, "uncompressed": CodecNone, " ZSTD ": CodecZstd, "Snappy": CodecSnappy} {
		if got, err := ParseCodec(in); err != nil || got != want {
			t.Errorf("ParseCodec(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseCodec("brotli"); err == nil {
		t.Error("ParseCodec(brotli) succeeded")
	}
	var c Codec
	if c.UnmarshalText([]byte("lzma")) == nil {
		t.Error("UnmarshalText(lzma) succeeded")
	}
	if _, err := Codec(5).MarshalText(); err == nil || Codec(5).Valid() || Codec(5).String() != "codec(5)" {
		t.Error("codec 5 accepted")
	}
}

// testPayload is realistic: JSON-ish records, compressible about 4:1.
func testPayload(n int) []byte {
	var b []byte
	for i := 0; len(b) < n; i++ {
		b = binary.AppendUvarint(b, uint64(i))
		b = append(b, `{"user":"`...)
		b = append(b, byte('a'+i%26), byte('a'+i*7%26), byte('a'+i*13%26))
		b = append(b, `","event":"click","ts":1700000000`...)
		b = binary.AppendUvarint(b, uint64(i*i%100000))
		b = append(b, `,"ok":true}`...)
	}
	return b[:n]
}

func TestCompressRoundTrip(t *testing.T) {
	for _, c := range allCodecs {
		for _, n := range []int{0, 1, 100, 32 << 10, 32<<10 + 1, 1 << 20} {
			src := testPayload(n)
			comp, err := compress([]byte("pre"), src, c, 0)
			if err != nil || string(comp[:3]) != "pre" {
				t.Fatalf("%v %d: %v", c, n, err)
			}
			out, err := decompress(comp[3:], c, n, 0)
			if err != nil || !bytes.Equal(out, src) {
				t.Fatalf("%v %d bytes: %v (got %d bytes)", c, n, err, len(out))
			}
			if c != CodecNone && n > 0 {
				if _, err := decompress(comp[3:], c, n-1, 0); !errors.Is(err, ErrTooLarge) {
					t.Errorf("%v %d bytes under limit %d: %v", c, n, n-1, err)
				}
			}
		}
	}
}

func TestSnappyRawAndXerial(t *testing.T) {
	src := testPayload(100 << 10)
	raw := s2.EncodeSnappy(nil, src)
	xerial := xerialCompress(nil, src)
	if !bytes.HasPrefix(xerial, xerialMagic[:]) || binary.BigEndian.Uint32(xerial[8:]) != 1 || binary.BigEndian.Uint32(xerial[12:]) != 1 {
		t.Fatalf("xerial header %x", xerial[:16])
	}
	for name, comp := range map[string][]byte{"raw": raw, "xerial": xerial} {
		out, err := snappyDecompress(comp, 1<<20)
		if err != nil || !bytes.Equal(out, src) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Blocks are at most snappy-java's 32 KiB of input.
	blocks := 0
	for rest := xerial[16:]; len(rest) > 0; blocks++ {
		block, next, err := xerialBlock(rest)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := s2.DecodedLen(block); n > xerialBlockSize {
			t.Errorf("block of %d bytes", n)
		}
		rest = next
	}
	if blocks != 4 {
		t.Errorf("%d blocks", blocks)
	}
	if out, err := snappyDecompress(xerial[:16], 10); err != nil || len(out) != 0 {
		t.Errorf("header only: %q %v", out, err)
	}
	for _, bad := range [][]byte{
		xerial[:18],                        // truncated block length
		xerial[:len(xerial)-1],             // truncated block
		append(xerial[:16:16], 0, 0, 0, 0), // empty block
		{0xff, 0xff, 0xff, 0xff, 0x7f, 0},  // raw block claiming 4 GiB from 6 bytes
		{},
	} {
		if _, err := snappyDecompress(bad, 1<<30); err == nil || errors.Is(err, ErrTooLarge) {
			t.Errorf("%x: %v", bad, err)
		}
	}
}

// TestZipBombs checks that a batch decompressing far past the limit fails
// with ErrTooLarge, and without allocating much more than the limit.
func TestZipBombs(t *testing.T) {
	const limit = 1 << 20
	zeros := make([]byte, 16<<20)
	for _, c := range allCodecs[1:] {
		t.Run(c.String(), func(t *testing.T) {
			comp, err := compress(nil, zeros, c, 0)
			if err != nil {
				t.Fatal(err)
			}
			decompress(comp[:len(comp)/2], c, limit, 0) // warm pools and decoders up
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err = decompress(comp, c, limit, 0)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("%d compressed bytes: %v", len(comp), err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4*limit {
				t.Errorf("allocated %d bytes for a %d-byte limit", alloc, limit)
			}

			// Through the decoder: a batch whose one record is the bomb.
			b := NewBuilder(c, 0)
			b.Append(0, nil, zeros[:8<<20], nil)
			batch, err := b.Finish(nil, -1, -1, -1)
			if err != nil {
				t.Fatal(err)
			}
			_, err = decodeErr(batch, DecodeOptions{MaxDecompressedBytes: limit})
			var be *BatchError
			if !errors.Is(err, ErrTooLarge) || errors.Is(err, ErrCorrupt) || !errors.As(err, &be) {
				t.Fatalf("decode: %v", err)
			}
			if calls, err := decodeErr(batch, DecodeOptions{MaxDecompressedBytes: 9 << 20}); err != nil || calls != 1 {
				t.Fatalf("decode under a sufficient limit: %v", err)
			}
		})
	}
}

// TestZstdStreamBomb covers frames without a content size, as Java's
// streaming zstd writer produces: the size is only known by decoding.
func TestZstdStreamBomb(t *testing.T) {
	const limit = 1 << 20
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(make([]byte, 16<<20))
	zw.Close()
	var h zstd.Header
	if err := h.Decode(buf.Bytes()); err != nil || h.HasFCS {
		t.Fatalf("frame header %+v, %v", h, err)
	}
	decompress(buf.Bytes(), CodecZstd, limit, 0)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = decompress(buf.Bytes(), CodecZstd, limit, 0)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatal(err)
	}
	// Without a content size the library's own bound applies: the limit,
	// but at least zstdMinClass, reached by growing the buffer.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 6*zstdMinClass {
		t.Errorf("allocated %d bytes for a %d-byte limit", alloc, limit)
	}
	if out, err := decompress(buf.Bytes(), CodecZstd, 16<<20, 0); err != nil || len(out) != 16<<20 {
		t.Errorf("under a sufficient limit: %d bytes, %v", len(out), err)
	}
}

func TestCRC32C(t *testing.T) {
	// The standard check value of CRC-32C, and a bitwise implementation
	// of the reflected Castagnoli polynomial for longer inputs.
	if got := crc32c([]byte("123456789")); got != 0xE3069283 {
		t.Fatalf("crc32c check value %#x", got)
	}
	bitwise := func(b []byte) uint32 {
		crc := ^uint32(0)
		for _, c := range b {
			crc ^= uint32(c)
			for range 8 {
				crc = crc>>1 ^ 0x82F63B78&-(crc&1)
			}
		}
		return ^crc
	}
	data := testPayload(10000)
	if crc32c(data) != bitwise(data) {
		t.Fatal("crc32c differs from the bitwise reference")
	}
}

func TestVarints(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, -64, 64, -65, 1<<31 - 1, -1 << 31, 1 << 40, -1 << 40, 1<<63 - 1, -1 << 63} {
		b := appendVarlong(nil, v)
		if len(b) != varlongSize(v) {
			t.Errorf("%d: %d bytes, size says %d", v, len(b), varlongSize(v))
		}
		got, n := readVarlong(append(b, 0xaa))
		if got != v || n != len(b) {
			t.Errorf("varlong %d: read %d (%d bytes of %d)", v, got, n, len(b))
		}
		if _, n := readVarlong(b[:len(b)-1]); n > 0 {
			t.Errorf("varlong %d: truncated read succeeded", v)
		}
		if v == int64(int32(v)) {
			b32 := appendVarint(nil, int32(v))
			if !bytes.Equal(b32, b) || varintSize(int32(v)) != len(b) {
				t.Errorf("varint %d: %x vs varlong %x", v, b32, b)
			}
			if got, n := readVarint(b); int64(got) != v || n != len(b) {
				t.Errorf("varint %d: read %d, %d", v, got, n)
			}
		}
	}
	for _, bad := range [][]byte{
		{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, // 6 bytes
		{0xff, 0xff, 0xff, 0xff, 0x1f},       // 35 bits
		{},
	} {
		if _, n := readVarint(bad); n > 0 {
			t.Errorf("readVarint(%x) = %d bytes", bad, n)
		}
	}
	if _, n := readVarlong([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}); n > 0 {
		t.Error("65-bit varlong accepted")
	}
	if _, n := readVarlong(bytes.Repeat([]byte{0x80}, 11)); n > 0 {
		t.Error("11-byte varlong accepted")
	}
}

// TestConcurrentCodecs shares the pools and zstd instances between
// goroutines; run with -race.
func TestConcurrentCodecs(t *testing.T) {
	done := make(chan error)
	for g := range 8 {
		go func() {
			var err error
			defer func() { done <- err }()
			d := NewDecoder(DecodeOptions{MaxDecompressedBytes: 1 << 20 << (g % 2)})
			for i := range 20 {
				c := allCodecs[(g+i)%len(allCodecs)]
				b := NewBuilder(c, i%4)
				for j := range 50 {
					b.Append(int64(j), nil, testPayload(100+g+j), nil)
				}
				batch, ferr := b.Finish(nil, -1, -1, -1)
				if ferr != nil {
					err = ferr
					return
				}
				n := 0
				if err = d.Decode(batch, func(_ *BatchInfo, recs []Record) error {
					n += len(recs)
					return nil
				}); err != nil {
					return
				}
				if n != 50 {
					err = errors.New("lost records")
					return
				}
			}
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
