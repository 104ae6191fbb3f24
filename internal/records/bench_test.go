package records

import (
	"strconv"
	"testing"
)

// Benchmarks on the producer's and fetcher's hot paths, with 100-byte
// JSON-like values (about 4:1 compressible) and 1000-record batches.
//
//	go test -bench . -benchmem -run '^$' ./internal/records/

const benchBatch = 1000

type benchRecord struct{ key, value []byte }

func benchRecords() []benchRecord {
	payload := testPayload(100 * benchBatch)
	recs := make([]benchRecord, benchBatch)
	for i := range recs {
		recs[i] = benchRecord{key: []byte("user-" + strconv.Itoa(i%97)), value: payload[i*100 : (i+1)*100]}
	}
	return recs
}

// BenchmarkAppend appends records to a batch, without headers and with
// one (a trace context); SetBytes counts the value.
func BenchmarkAppend(b *testing.B) {
	recs := benchRecords()
	for _, bc := range []struct {
		name    string
		headers []Header
	}{
		{"no-headers", nil},
		{"header", []Header{{"traceparent", []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bl := NewBuilder(CodecNone, 0)
			b.SetBytes(100)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%benchBatch == 0 {
					bl.Reset()
				}
				r := recs[i%benchBatch]
				bl.Append(1700000000000+int64(i), r.key, r.value, bc.headers)
			}
		})
	}
}

// BenchmarkBuildBatch is one producer batch: Reset, 1000 Appends, Finish.
func BenchmarkBuildBatch(b *testing.B) {
	recs := benchRecords()
	for _, c := range allCodecs {
		b.Run(c.String(), func(b *testing.B) {
			bl := NewBuilder(c, 0)
			var dst []byte
			b.SetBytes(100 * benchBatch)
			b.ReportAllocs()
			for b.Loop() {
				bl.Reset()
				for i, r := range recs {
					bl.Append(1700000000000+int64(i), r.key, r.value, nil)
				}
				var err error
				if dst, err = bl.Finish(dst[:0], 1, 0, 0); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(dst)), "batch-bytes")
		})
	}
}

// BenchmarkDecodeBatch decodes one 1000-record batch with a reused
// Decoder, as a fetcher does.
func BenchmarkDecodeBatch(b *testing.B) {
	recs := benchRecords()
	for _, c := range allCodecs {
		b.Run(c.String(), func(b *testing.B) {
			bl := NewBuilder(c, 0)
			for i, r := range recs {
				bl.Append(1700000000000+int64(i), r.key, r.value, nil)
			}
			batch, err := bl.Finish(nil, 1, 0, 0)
			if err != nil {
				b.Fatal(err)
			}
			d := NewDecoder(DecodeOptions{})
			n := 0
			fn := func(_ *BatchInfo, rs []Record) error { n += len(rs); return nil }
			b.SetBytes(100 * benchBatch)
			b.ReportAllocs()
			for b.Loop() {
				if err := d.Decode(batch, fn); err != nil {
					b.Fatal(err)
				}
			}
			if n == 0 {
				b.Fatal("no records")
			}
		})
	}
}

// BenchmarkDecodeBatchHeaders is DecodeBatch (uncompressed) with two
// headers per record.
func BenchmarkDecodeBatchHeaders(b *testing.B) {
	recs := benchRecords()
	headers := []Header{{"traceparent", []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")}, {"content-type", []byte("application/json")}}
	bl := NewBuilder(CodecNone, 0)
	for i, r := range recs {
		bl.Append(1700000000000+int64(i), r.key, r.value, headers)
	}
	batch, _ := bl.Finish(nil, 1, 0, 0)
	d := NewDecoder(DecodeOptions{})
	fn := func(*BatchInfo, []Record) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(batch, fn); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCodec compresses and decompresses 128 KiB of JSON-like data,
// about one batch.
func BenchmarkCodec(b *testing.B) {
	src := testPayload(128 << 10)
	for _, c := range allCodecs[1:] {
		comp, err := compress(nil, src, c, 0)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("compress/"+c.String(), func(b *testing.B) {
			var dst []byte
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			for b.Loop() {
				dst, _ = compress(dst[:0], src, c, 0)
			}
			b.ReportMetric(float64(len(src))/float64(len(dst)), "ratio")
		})
		b.Run("decompress/"+c.String(), func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decompress(comp, c, DefaultMaxDecompressedBytes, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
