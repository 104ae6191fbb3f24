package records

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// The fuzz targets' seeds run in every go test; fuzz further with e.g.
//
//	go test -run '^$' -fuzz '^FuzzDecodeBatches$' -fuzztime 5m -fuzzminimizetime 10s ./internal/records/
//
// Properties: nothing panics; decompression never returns more than the
// limit; what decodes is internally consistent; what we encode decodes
// back unchanged.

const fuzzLimit = 1 << 20

// fixCRCs recomputes the CRC of every complete v2 batch in data, so that
// mutations reach the record parser instead of stopping at the checksum.
func fixCRCs(data []byte) {
	for len(data) >= HeaderSize {
		size := logOverhead + int(int32(binary.BigEndian.Uint32(data[posBatchLength:])))
		if size < HeaderSize || size > len(data) || data[posMagic] != 2 {
			return
		}
		fixCRC(data[:size])
		data = data[size:]
	}
}

func FuzzDecodeBatches(f *testing.F) {
	for _, name := range []string{"none", "gzip", "zstd", "txn-gaps"} {
		f.Add(readGolden(f, name)) // the small ones: big seeds slow the fuzzer
	}
	for _, c := range allCodecs {
		f.Add(buildBatch(f, c, testRecords()[:5], 1, 2, 3))
	}
	two := append(buildBatch(f, CodecNone, testRecords()[:2], -1, -1, -1), buildBatch(f, CodecGzip, testRecords()[:3], -1, -1, -1)...)
	f.Add(two)
	f.Add(two[:len(two)-7])
	f.Add([]byte{})
	f.Add(make([]byte, 12))
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := DecodeOptions{MaxDecompressedBytes: fuzzLimit}
		check := func(info *BatchInfo, recs []Record) error {
			if len(recs) != int(info.NumRecords) || info.Size < HeaderSize || info.Size > len(data) {
				t.Fatalf("info %+v with %d records of %d bytes", *info, len(recs), len(data))
			}
			for _, r := range recs {
				if len(r.Key) > fuzzLimit || len(r.Value) > fuzzLimit || len(r.Headers) > fuzzLimit {
					t.Fatalf("record larger than its batch: %d %d %d", len(r.Key), len(r.Value), len(r.Headers))
				}
			}
			return nil
		}
		DecodeBatches(data, opts, check)
		fixed := bytes.Clone(data)
		fixCRCs(fixed)
		DecodeBatches(fixed, opts, check)
	})
}

func fuzzDecompress(f *testing.F, c Codec) {
	for _, n := range []int{0, 1, 200, 40 << 10} {
		comp, err := compress(nil, testPayload(n), c, 0)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(comp)
	}
	f.Add([]byte{})
	if c == CodecSnappy {
		f.Add(xerialMagic[:])
		f.Add(append(xerialMagic[:], 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 3, 2, 4, 'a'))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// As compressed input: must not panic or exceed the limit.
		if out, err := decompress(data, c, fuzzLimit, 0); err == nil && len(out) > fuzzLimit {
			t.Fatalf("%d bytes out under a %d limit", len(out), fuzzLimit)
		}
		// As plain input: must round-trip.
		comp, err := compress(nil, data, c, 0)
		if err != nil {
			t.Fatal(err)
		}
		out, err := decompress(comp, c, len(data), 0)
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("round trip of %d bytes: %v", len(data), err)
		}
	})
}

func FuzzDecompressGzip(f *testing.F)   { fuzzDecompress(f, CodecGzip) }
func FuzzDecompressSnappy(f *testing.F) { fuzzDecompress(f, CodecSnappy) }
func FuzzDecompressLZ4(f *testing.F)    { fuzzDecompress(f, CodecLZ4) }
func FuzzDecompressZstd(f *testing.F)   { fuzzDecompress(f, CodecZstd) }

// FuzzRoundTrip builds a batch from fuzzed records and decodes it.
func FuzzRoundTrip(f *testing.F) {
	f.Add(int64(0), []byte("k"), []byte("v"), "h", []byte("hv"), uint8(0), uint8(1))
	f.Add(int64(-1<<40), []byte(nil), []byte{}, "", []byte(nil), uint8(3), uint8(7))
	f.Fuzz(func(t *testing.T, ts int64, key, value []byte, hkey string, hval []byte, codec, n uint8) {
		c := Codec(codec % 5)
		count := int(n%8) + 1
		var headers []Header
		if hkey != "" || hval != nil {
			headers = []Header{{hkey, hval}, {"x", nil}}
		}
		b := NewBuilder(c, 0)
		for i := range count {
			b.Append(ts+int64(i)*int64(codec), key, value, headers)
		}
		batch, err := b.Finish(nil, int64(n), int16(codec), int32(ts))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		err = DecodeBatches(batch, DecodeOptions{}, func(info *BatchInfo, recs []Record) error {
			if info.Codec != c || info.ProducerID != int64(n) || info.BaseSequence != int32(ts) {
				t.Fatalf("info %+v", *info)
			}
			for i, r := range recs {
				checkRecord(t, r, wantRecord{int32(i), ts + int64(i)*int64(codec), key, value, headers}, 0)
			}
			got += len(recs)
			return nil
		})
		if err != nil || got != count {
			t.Fatalf("%d of %d records: %v", got, count, err)
		}
	})
}
