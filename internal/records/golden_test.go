package records

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The golden batches in testdata/golden were written by kafka-python (see
// gen.py there), an implementation independent of this one, including
// its CRC-32C and the C libraries' compressors.

const goldenBaseTs = 1700000000000

type wantRecord struct {
	offsetDelta int32
	ts          int64
	key, value  []byte
	headers     []Header
}

// goldenRecord mirrors gen.py's golden_record.
func goldenRecord(i int, gaps bool) wantRecord {
	r := wantRecord{offsetDelta: int32(i), ts: goldenBaseTs + 10*int64(i)}
	if gaps {
		r.offsetDelta = int32(3 * i)
	}
	if i == 2 {
		r.ts = goldenBaseTs - 5
	}
	switch i % 4 {
	case 0:
	case 1:
		r.key = []byte{}
	default:
		r.key = fmt.Appendf(nil, "key-%d", i)
	}
	switch {
	case i%5 == 0:
	case i%5 == 1:
		r.value = []byte{}
	case i == 7:
		for j := range 16000 {
			r.value = fmt.Appendf(r.value, "%05d,", j%997)
		}
	default:
		r.value = bytes.Repeat(fmt.Appendf(nil, "value-%d ", i), i+1)
	}
	if i%2 == 1 {
		r.headers = append(r.headers, Header{"trace", fmt.Appendf(nil, "t-%d", i)}, Header{"null", nil})
	}
	if i%3 == 2 {
		r.headers = append(r.headers, Header{"", []byte{}})
	}
	return r
}

func readGolden(t testing.TB, name string) []byte {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("testdata", "golden", "kafka-python-"+name+".hex"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.ReplaceAll(string(text), "\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkRecord compares a decoded record with the expectation, keeping
// null and empty apart.
func checkRecord(t testing.TB, got Record, want wantRecord, base int64) {
	t.Helper()
	if got.Offset != base+int64(want.offsetDelta) || got.Timestamp != want.ts {
		t.Errorf("offset/ts = %d/%d, want %d/%d", got.Offset, got.Timestamp, base+int64(want.offsetDelta), want.ts)
	}
	sameBytes(t, "key", got.Key, want.key)
	sameBytes(t, "value", got.Value, want.value)
	if len(got.Headers) != len(want.headers) {
		t.Fatalf("offset %d: %d headers, want %d", got.Offset, len(got.Headers), len(want.headers))
	}
	if len(want.headers) == 0 && got.Headers != nil {
		t.Errorf("offset %d: headers %v, want nil", got.Offset, got.Headers)
	}
	for i, h := range want.headers {
		if got.Headers[i].Key != h.Key {
			t.Errorf("header %d key %q, want %q", i, got.Headers[i].Key, h.Key)
		}
		sameBytes(t, "header value", got.Headers[i].Value, h.Value)
	}
}

func sameBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if (got == nil) != (want == nil) || !bytes.Equal(got, want) {
		t.Errorf("%s = %q (nil %v), want %q (nil %v)", what, trunc(got), got == nil, trunc(want), want == nil)
	}
}

func trunc(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

func TestGoldenKafkaPython(t *testing.T) {
	cases := []struct {
		name  string
		codec Codec
		n     int
		gaps  bool
		pid   int64
		txn   bool
	}{
		{"none", CodecNone, 5, false, -1, false},
		{"gzip", CodecGzip, 20, false, -1, false},
		{"snappy-xerial", CodecSnappy, 20, false, -1, false},
		{"snappy-raw", CodecSnappy, 20, false, -1, false},
		{"lz4", CodecLZ4, 20, false, -1, false},
		{"zstd", CodecZstd, 20, false, -1, false},
		{"txn-gaps", CodecNone, 6, true, 12345, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := readGolden(t, c.name)
			calls := 0
			err := DecodeBatches(data, DecodeOptions{}, func(info *BatchInfo, recs []Record) error {
				calls++
				if info.Codec != c.codec || info.NumRecords != int32(c.n) || len(recs) != c.n {
					t.Fatalf("codec %v, %d/%d records; want %v, %d", info.Codec, info.NumRecords, len(recs), c.codec, c.n)
				}
				if info.ProducerID != c.pid || info.Transactional != c.txn || info.Control || info.LogAppendTime {
					t.Errorf("info = %+v", *info)
				}
				last := goldenRecord(c.n-1, c.gaps)
				if info.LastOffset != int64(last.offsetDelta) || info.Size != len(data) {
					t.Errorf("LastOffset %d Size %d, want %d %d", info.LastOffset, info.Size, last.offsetDelta, len(data))
				}
				if info.BaseTimestamp != goldenBaseTs || info.MaxTimestamp != goldenBaseTs+10*int64(c.n-1) {
					t.Errorf("timestamps base %d max %d", info.BaseTimestamp, info.MaxTimestamp)
				}
				for i, r := range recs {
					checkRecord(t, r, goldenRecord(i, c.gaps), 0)
				}
				return nil
			})
			if err != nil || calls != 1 {
				t.Fatalf("err %v, %d calls", err, calls)
			}
		})
	}
	t.Run("txn-gaps-producer", func(t *testing.T) {
		_ = DecodeBatches(readGolden(t, "txn-gaps"), DecodeOptions{}, func(info *BatchInfo, _ []Record) error {
			if info.ProducerEpoch != 7 || info.BaseSequence != 42 || info.LastOffset != 15 {
				t.Errorf("info = %+v", *info)
			}
			return nil
		})
	})
}

// TestGoldenEncoding pins the Builder's uncompressed encoding to the bytes
// kafka-python produced for the same records; only the leader epoch (we
// write -1, kafka-python 0) and hence the CRC differ.
func TestGoldenEncoding(t *testing.T) {
	for _, c := range []struct {
		name string
		n    int
		gaps bool
	}{{"none", 5, false}} {
		want := readGolden(t, c.name)
		b := NewBuilder(CodecNone, 0)
		for i := range c.n {
			r := goldenRecord(i, c.gaps)
			b.Append(r.ts, r.key, r.value, r.headers)
		}
		got, err := b.Finish(nil, -1, -1, -1)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[HeaderSize:], want[HeaderSize:]) {
			t.Errorf("records differ:\n got %x\nwant %x", got[HeaderSize:], want[HeaderSize:])
		}
		if !bytes.Equal(got[:posLeaderEpoch], want[:posLeaderEpoch]) || !bytes.Equal(got[posMagic:posCRC], want[posMagic:posCRC]) ||
			!bytes.Equal(got[posAttributes:HeaderSize], want[posAttributes:HeaderSize]) {
			t.Errorf("headers differ:\n got %x\nwant %x", got[:HeaderSize], want[:HeaderSize])
		}
	}
}
