package records

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Batches built with franz-go's kmsg wire types: a second independent
// encoder, and the easiest way to write what our Builder never does
// (offset gaps, control batches, LogAppendTime, empty batches).

// kmsgRecords encodes recs with kmsg, filling in each record's Length.
func kmsgRecords(recs []kmsg.Record) []byte {
	var out []byte
	for _, r := range recs {
		r.Length = 0
		body := r.AppendTo(nil)[1:] // drop the one-byte zero length
		r.Length = int32(len(body))
		out = r.AppendTo(out)
	}
	return out
}

// kmsgBatch frames records (already compressed if attrs say so) with
// kmsg.RecordBatch and our CRC.
func kmsgBatch(base int64, attrs int16, lastOffsetDelta, numRecords int32, records []byte) []byte {
	b := kmsg.NewRecordBatch()
	b.FirstOffset = base
	b.PartitionLeaderEpoch = 9
	b.Magic = 2
	b.Attributes = attrs
	b.LastOffsetDelta = lastOffsetDelta
	b.FirstTimestamp = 5000
	b.MaxTimestamp = 9000
	b.ProducerID = 31
	b.ProducerEpoch = 2
	b.FirstSequence = 8
	b.NumRecords = numRecords
	b.Records = records
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[posBatchLength:], uint32(len(out)-logOverhead))
	fixCRC(out)
	return out
}

func fixCRC(batch []byte) {
	binary.BigEndian.PutUint32(batch[posCRC:], crc32c(batch[posAttributes:]))
}

func decodeOne(t *testing.T, data []byte) (BatchInfo, []Record) {
	t.Helper()
	var info BatchInfo
	var recs []Record
	calls := 0
	if err := DecodeBatches(data, DecodeOptions{}, func(i *BatchInfo, rs []Record) error {
		info, recs = *i, append(recs, rs...)
		calls++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Fatalf("%d batches", calls)
	}
	return info, recs
}

func TestKmsgOffsetGaps(t *testing.T) {
	recs := []kmsg.Record{
		{OffsetDelta: 0, TimestampDelta64: 0, Key: []byte("a"), Value: []byte("1")},
		{OffsetDelta: 3, TimestampDelta64: 10, Value: []byte("2"), Headers: []kmsg.Header{{Key: "h", Value: []byte("v")}}},
		{OffsetDelta: 7, TimestampDelta64: -20, Key: []byte{}, Value: nil},
	}
	info, got := decodeOne(t, kmsgBatch(1000, 0, 9, 3, kmsgRecords(recs)))
	if info.BaseOffset != 1000 || info.LastOffset != 1009 || info.PartitionLeaderEpoch != 9 || info.NumRecords != 3 {
		t.Errorf("info %+v", info)
	}
	want := []wantRecord{
		{0, 5000, []byte("a"), []byte("1"), nil},
		{3, 5010, nil, []byte("2"), []Header{{"h", []byte("v")}}},
		{7, 4980, []byte{}, nil, nil},
	}
	for i := range want {
		checkRecord(t, got[i], want[i], 1000)
	}
}

func TestKmsgGzipStdlib(t *testing.T) {
	recs := []kmsg.Record{{Key: []byte("k"), Value: bytes.Repeat([]byte("compress me "), 100)}, {OffsetDelta: 1, Value: []byte("x")}}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf) // the standard library's writer, not ours
	zw.Write(kmsgRecords(recs))
	zw.Close()
	info, got := decodeOne(t, kmsgBatch(50, int16(CodecGzip), 1, 2, buf.Bytes()))
	if info.Codec != CodecGzip || len(got) != 2 || !bytes.Equal(got[0].Value, recs[0].Value) || got[1].Offset != 51 {
		t.Errorf("info %+v, records %+v", info, got)
	}
}

func TestKmsgControlBatch(t *testing.T) {
	// A COMMIT marker as the broker writes it: key version 0 type 1,
	// value version 0 plus the coordinator epoch.
	recs := []kmsg.Record{{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 5}}}
	info, got := decodeOne(t, kmsgBatch(77, attrControl|attrTransactional, 0, 1, kmsgRecords(recs)))
	if !info.Control || !info.Transactional || info.LastOffset != 77 || len(got) != 1 {
		t.Fatalf("info %+v", info)
	}
	if typ, ok := ParseControlKey(got[0].Key); !ok || typ != ControlCommit || typ.String() != "commit" {
		t.Errorf("control key %v %v", typ, ok)
	}
	if typ, ok := ParseControlKey([]byte{0, 0, 0, 0}); !ok || typ != ControlAbort {
		t.Errorf("abort key %v %v", typ, ok)
	}
	for _, bad := range [][]byte{nil, {0, 0, 0}, {0, 1, 0, 1}} {
		if _, ok := ParseControlKey(bad); ok {
			t.Errorf("ParseControlKey(%x) ok", bad)
		}
	}
}

func TestKmsgLogAppendTime(t *testing.T) {
	recs := []kmsg.Record{{Value: []byte("a")}, {OffsetDelta: 1, TimestampDelta64: 5, Value: []byte("b")}}
	info, got := decodeOne(t, kmsgBatch(0, attrLogAppendTime, 1, 2, kmsgRecords(recs)))
	if !info.LogAppendTime || got[0].Timestamp != 9000 || got[1].Timestamp != 9000 {
		t.Errorf("info %+v, timestamps %d %d", info, got[0].Timestamp, got[1].Timestamp)
	}
}

func TestKmsgEmptyBatch(t *testing.T) {
	// Compaction can remove every record and keep the batch, for its
	// offsets and producer state; the consumer must still move past it.
	for _, attrs := range []int16{0, int16(CodecZstd)} {
		info, got := decodeOne(t, kmsgBatch(300, attrs, 4, 0, nil))
		if info.NumRecords != 0 || len(got) != 0 || info.LastOffset != 304 {
			t.Errorf("attrs %d: info %+v, %d records", attrs, info, len(got))
		}
	}
}

// TestBuilderReadByKmsg parses our Builder's output with kmsg.
func TestBuilderReadByKmsg(t *testing.T) {
	recs := testRecords()
	batch := buildBatch(t, CodecNone, recs, 4, 1, 2)
	var b kmsg.RecordBatch
	if err := b.ReadFrom(batch); err != nil {
		t.Fatal(err)
	}
	if b.Magic != 2 || b.NumRecords != int32(len(recs)) || b.LastOffsetDelta != int32(len(recs)-1) ||
		b.ProducerID != 4 || b.ProducerEpoch != 1 || b.FirstSequence != 2 || b.PartitionLeaderEpoch != -1 ||
		b.FirstTimestamp != 1000 || b.MaxTimestamp != 1<<40 || int(b.Length) != len(batch)-12 {
		t.Fatalf("kmsg batch %+v", b)
	}
	if uint32(b.CRC) != crc32c(batch[posAttributes:]) {
		t.Error("CRC")
	}
	rest := b.Records
	for i, want := range recs {
		var r kmsg.Record
		if err := r.ReadFrom(rest); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		l, n := readVarint(rest)
		rest = rest[n+int(l):]
		if r.OffsetDelta != int32(i) || r.TimestampDelta64 != want.ts-1000 ||
			!bytes.Equal(r.Key, want.key) || (r.Key == nil) != (want.key == nil) ||
			!bytes.Equal(r.Value, want.value) || (r.Value == nil) != (want.value == nil) ||
			len(r.Headers) != len(want.headers) {
			t.Errorf("record %d: %+v", i, r)
		}
		for j, h := range want.headers {
			if r.Headers[j].Key != h.Key || !bytes.Equal(r.Headers[j].Value, h.Value) || (r.Headers[j].Value == nil) != (h.Value == nil) {
				t.Errorf("record %d header %d: %+v", i, j, r.Headers[j])
			}
		}
	}
	if len(rest) != 0 {
		t.Errorf("%d bytes left", len(rest))
	}
}
