package records

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"unsafe"
)

var allCodecs = []Codec{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}

type testRecord struct {
	ts         int64
	key, value []byte
	headers    []Header
}

// testRecords is a mix of what producers send: null and empty keys and
// values, headers with null values, timestamps out of order, and values
// large enough to span several codec blocks.
func testRecords() []testRecord {
	big := make([]byte, 200<<10)
	for i := range big {
		big[i] = "kafka records "[i%14] ^ byte(i/977)
	}
	return []testRecord{
		{ts: 1000, key: []byte("k0"), value: []byte("v0")},
		{ts: 999, key: nil, value: []byte("null key")},
		{ts: 2000, key: []byte{}, value: nil},
		{ts: 1500, key: []byte("k3"), value: []byte{}, headers: []Header{{"a", []byte("1")}, {"b", nil}, {"", []byte{}}}},
		{ts: -1, key: nil, value: nil},
		{ts: 1 << 40, key: bytes.Repeat([]byte("K"), 300), value: big},
		{ts: 3000, key: []byte("k6"), value: []byte("v6"), headers: []Header{{"a", []byte("2")}}},
	}
}

func buildBatch(t testing.TB, codec Codec, recs []testRecord, pid int64, epoch int16, seq int32) []byte {
	t.Helper()
	b := NewBuilder(codec, 0)
	for _, r := range recs {
		b.Append(r.ts, r.key, r.value, r.headers)
	}
	out, err := b.Finish(nil, pid, epoch, seq)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	recs := testRecords()
	for _, codec := range allCodecs {
		t.Run(codec.String(), func(t *testing.T) {
			batch := buildBatch(t, codec, recs, 77, 3, 1000)
			var gotInfo BatchInfo
			var got []Record
			err := DecodeBatches(batch, DecodeOptions{}, func(info *BatchInfo, rs []Record) error {
				gotInfo = *info
				got = append(got, rs...) // Records stay valid after fn
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := BatchInfo{
				BaseOffset: 0, LastOffset: int64(len(recs) - 1), PartitionLeaderEpoch: -1,
				Codec: codec, ProducerID: 77, ProducerEpoch: 3, BaseSequence: 1000,
				NumRecords: int32(len(recs)), BaseTimestamp: 1000, MaxTimestamp: 1 << 40, Size: len(batch),
			}
			body := gotInfo.Body
			gotInfo.Body = nil
			if !reflect.DeepEqual(gotInfo, want) {
				t.Errorf("info\n got %+v\nwant %+v", gotInfo, want)
			}
			if len(got) != len(recs) {
				t.Fatalf("%d records, want %d", len(got), len(recs))
			}
			for i, r := range got {
				if !within(r.Key, body) || !within(r.Value, body) {
					t.Fatalf("record %d: key or value outside BatchInfo.Body", i)
				}
			}
			for i, r := range recs {
				checkRecord(t, got[i], wantRecord{offsetDelta: int32(i), ts: r.ts, key: r.key, value: r.value, headers: r.headers}, 0)
			}
			if codec != CodecNone && len(batch) >= HeaderSize+len(recs[5].value) {
				t.Errorf("%v batch of %d bytes did not compress", codec, len(batch))
			}
		})
	}
}

func TestRoundTripLevels(t *testing.T) {
	recs := testRecords()
	for _, codec := range allCodecs {
		for _, level := range []int{-5, 0, 1, 3, 9, 12, 22, 100} {
			b := NewBuilder(codec, level)
			for _, r := range recs {
				b.Append(r.ts, r.key, r.value, r.headers)
			}
			batch, err := b.Finish(nil, -1, -1, -1)
			if err != nil {
				t.Fatalf("%v level %d: %v", codec, level, err)
			}
			n := 0
			if err := DecodeBatches(batch, DecodeOptions{}, func(_ *BatchInfo, rs []Record) error {
				n += len(rs)
				return nil
			}); err != nil || n != len(recs) {
				t.Fatalf("%v level %d: %d records, %v", codec, level, n, err)
			}
		}
	}
}

func TestRecordSize(t *testing.T) {
	for _, codec := range allCodecs {
		b := NewBuilder(codec, 0)
		for i, r := range testRecords() {
			before := b.EncodedSize()
			predicted := b.AppendSize(r.ts, r.key, r.value, r.headers)
			b.Append(r.ts, r.key, r.value, r.headers)
			if got := b.EncodedSize() - before; got != predicted {
				t.Errorf("record %d: AppendSize %d, Append added %d", i, predicted, got)
			}
			if got := RecordSize(r.key, r.value, r.headers, r.ts-1000, int32(i)); got != predicted {
				t.Errorf("record %d: RecordSize %d, want %d", i, got, predicted)
			}
		}
		if b.NumRecords() != len(testRecords()) {
			t.Errorf("NumRecords %d", b.NumRecords())
		}
		if codec == CodecNone {
			batch, _ := b.Finish(nil, -1, -1, -1)
			if len(batch) != b.EncodedSize() {
				t.Errorf("uncompressed batch is %d bytes, EncodedSize %d", len(batch), b.EncodedSize())
			}
		}
	}
}

func TestBuilderReuse(t *testing.T) {
	b := NewBuilder(CodecLZ4, 0)
	b.SetTransactional(true)
	dst := []byte("prefix")
	var batches [][]byte
	for round := range 3 {
		b.Reset()
		if b.NumRecords() != 0 || b.EncodedSize() != HeaderSize {
			t.Fatalf("after Reset: %d records, %d bytes", b.NumRecords(), b.EncodedSize())
		}
		for i := range 10 + round {
			b.Append(int64(100*round+i), nil, fmt.Appendf(nil, "r%d-%d", round, i), nil)
		}
		start := len(dst)
		var err error
		if dst, err = b.Finish(dst, 5, 0, int32(round*100)); err != nil {
			t.Fatal(err)
		}
		batches = append(batches, dst[start:])
	}
	if string(dst[:6]) != "prefix" {
		t.Fatal("Finish clobbered dst's prefix")
	}
	// Three batches back to back form a valid fetch response.
	round := 0
	err := DecodeBatches(dst[6:], DecodeOptions{}, func(info *BatchInfo, recs []Record) error {
		if !info.Transactional || info.BaseSequence != int32(round*100) || len(recs) != 10+round {
			t.Errorf("batch %d: %+v, %d records", round, *info, len(recs))
		}
		if string(recs[len(recs)-1].Value) != fmt.Sprintf("r%d-%d", round, 9+round) {
			t.Errorf("batch %d: last value %q", round, recs[len(recs)-1].Value)
		}
		round++
		return nil
	})
	if err != nil || round != 3 {
		t.Fatalf("err %v after %d batches", err, round)
	}
	_ = batches
}

func TestFinishErrors(t *testing.T) {
	if _, err := NewBuilder(CodecNone, 0).Finish(nil, -1, -1, -1); !errors.Is(err, ErrEmptyBatch) {
		t.Errorf("empty: %v", err)
	}
	b := NewBuilder(Codec(6), 0)
	b.Append(0, nil, []byte("x"), nil)
	if out, err := b.Finish([]byte("keep"), -1, -1, -1); err == nil || string(out) != "keep" {
		t.Errorf("invalid codec: %q, %v", out, err)
	}
}

func TestSetProducer(t *testing.T) {
	for _, codec := range allCodecs {
		batch := buildBatch(t, codec, testRecords()[:3], -1, -1, -1)
		if err := SetProducer(batch, 900, 4, 17); err != nil {
			t.Fatal(err)
		}
		check := func(pid int64, epoch int16, seq int32) {
			t.Helper()
			err := DecodeBatches(batch, DecodeOptions{}, func(info *BatchInfo, recs []Record) error {
				if info.ProducerID != pid || info.ProducerEpoch != epoch || info.BaseSequence != seq || len(recs) != 3 {
					t.Errorf("%v: %+v", codec, *info)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("%v: %v", codec, err) // a stale CRC fails here
			}
		}
		check(900, 4, 17)
		if err := SetBaseSequence(batch, 1<<30); err != nil {
			t.Fatal(err)
		}
		check(900, 4, 1<<30)
	}
	batch := buildBatch(t, CodecNone, testRecords()[:1], -1, -1, -1)
	for _, bad := range [][]byte{nil, batch[:HeaderSize-1], batch[:len(batch)-1], append(batch[:len(batch):len(batch)], 0)} {
		if err := SetBaseSequence(bad, 1); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%d bytes: %v", len(bad), err)
		}
	}
}

// setBaseOffset stamps a batch's base offset as a broker does; the CRC
// does not cover it.
func setBaseOffset(batch []byte, off int64) { binary.BigEndian.PutUint64(batch, uint64(off)) }

func TestMultipleBatchesAndTruncation(t *testing.T) {
	var data []byte
	var bounds []int
	for i, codec := range allCodecs {
		start := len(data)
		data = append(data, buildBatch(t, codec, testRecords()[:4], -1, -1, -1)...)
		setBaseOffset(data[start:], int64(100*i))
		bounds = append(bounds, len(data))
	}
	// Every cut point: the batches that are complete are delivered, the
	// partial one is dropped silently.
	for cut := 0; cut <= len(data); cut++ {
		want := 0
		for _, b := range bounds {
			if b <= cut {
				want++
			}
		}
		got := 0
		err := DecodeBatches(data[:cut], DecodeOptions{}, func(info *BatchInfo, recs []Record) error {
			if info.BaseOffset != int64(100*got) || recs[3].Offset != int64(100*got+3) {
				t.Fatalf("cut %d: batch %d at %d", cut, got, info.BaseOffset)
			}
			got++
			return nil
		})
		if err != nil || got != want {
			t.Fatalf("cut %d: %d batches, want %d; err %v", cut, got, want, err)
		}
	}
}

func TestCallbackError(t *testing.T) {
	data := append(buildBatch(t, CodecNone, testRecords()[:2], -1, -1, -1), buildBatch(t, CodecNone, testRecords()[:2], -1, -1, -1)...)
	stop := errors.New("stop")
	calls := 0
	err := DecodeBatches(data, DecodeOptions{}, func(*BatchInfo, []Record) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("err %v after %d calls", err, calls)
	}
}

func TestDecoderReuse(t *testing.T) {
	d := NewDecoder(DecodeOptions{})
	big := buildBatch(t, CodecNone, testRecords(), -1, -1, -1)
	small := buildBatch(t, CodecNone, testRecords()[:2], -1, -1, -1)
	var kept []Record
	for _, data := range [][]byte{big, small, big} {
		if err := d.Decode(data, func(_ *BatchInfo, recs []Record) error {
			kept = append(kept, recs...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(kept) != 2*len(testRecords())+2 {
		t.Fatalf("%d records", len(kept))
	}
	// Records kept from the first call survive later calls.
	checkRecord(t, kept[3], wantRecord{3, 1500, testRecords()[3].key, testRecords()[3].value, testRecords()[3].headers}, 0)
}

// TestFramed: Framed gives the bytes Finish gives, for every codec and
// across Reset, without a copy of an uncompressed batch (it is the
// Builder's own buffer, so appending after Reset reuses it), and its stamp
// can be rewritten in place.
func TestFramed(t *testing.T) {
	for _, codec := range allCodecs {
		b := NewBuilder(codec, 0)
		b.SetTransactional(codec == CodecLZ4)
		var first []byte
		for round, recs := range [][]testRecord{testRecords(), testRecords()[:3], testRecords()[2:5]} {
			b.Reset()
			for _, r := range recs {
				b.Append(r.ts, r.key, r.value, r.headers)
			}
			want, err := b.Finish(nil, 7, 2, int32(round))
			if err != nil {
				t.Fatal(err)
			}
			got, err := b.Framed(7, 2, int32(round))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%v round %d: Framed gave %d bytes, Finish %d, not the same", codec, round, len(got), len(want))
			}
			if codec == CodecNone && len(got) != b.EncodedSize() {
				t.Fatalf("round %d: %d bytes framed, EncodedSize %d", round, len(got), b.EncodedSize())
			}
			if round == 0 {
				first = got
			} else if codec == CodecNone && &got[0] != &first[0] {
				t.Fatalf("round %d: an uncompressed batch was copied, not framed in the Builder's buffer", round)
			}
			if err := SetProducer(got, 9, 3, 100); err != nil {
				t.Fatal(err)
			}
			n := 0
			err = DecodeBatches(got, DecodeOptions{}, func(info *BatchInfo, rs []Record) error {
				n += len(rs)
				if info.ProducerID != 9 || info.ProducerEpoch != 3 || info.BaseSequence != 100 || info.Transactional != (codec == CodecLZ4) {
					t.Errorf("%v round %d: %+v", codec, round, *info)
				}
				return nil
			})
			if err != nil || n != len(recs) {
				t.Fatalf("%v round %d: %d records decoded of %d, %v", codec, round, n, len(recs), err)
			}
		}
	}
	if _, err := NewBuilder(CodecNone, 0).Framed(-1, -1, -1); !errors.Is(err, ErrEmptyBatch) {
		t.Errorf("empty: %v", err)
	}
}

// TestBuilderGrow: a Builder grown to n bytes takes records up to n bytes
// without moving its buffer, and encodes them as one that grew by appends.
func TestBuilderGrow(t *testing.T) {
	recs := testRecords()
	plain := NewBuilder(CodecNone, 0)
	for _, r := range recs {
		plain.Append(r.ts, r.key, r.value, r.headers)
	}
	want, err := plain.Finish(nil, 7, 2, 3)
	if err != nil {
		t.Fatal(err)
	}

	b := NewBuilder(CodecNone, 0)
	b.Grow(len(want))
	if b.NumRecords() != 0 || b.EncodedSize() != HeaderSize || b.Cap() < len(want) {
		t.Fatalf("after Grow(%d): %d records, %d bytes, capacity %d", len(want), b.NumRecords(), b.EncodedSize(), b.Cap())
	}
	start := &b.buf[:1][0]
	for _, r := range recs {
		b.Append(r.ts, r.key, r.value, r.headers)
	}
	if &b.buf[0] != start {
		t.Fatal("the buffer moved: Grow did not make room for the whole batch")
	}
	got, err := b.Finish(nil, 7, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("grown builder encoded %d bytes, not the same as the %d of one grown by appends", len(got), len(want))
	}
}

// TestGrowDoubling: a buffer that must grow at least doubles, and one with
// room is left alone.
func TestGrowDoubling(t *testing.T) {
	b := make([]byte, 100<<10) // full: len == cap
	if g := growDoubling(b, 10); cap(g) < 200<<10 || len(g) != len(b) {
		t.Fatalf("grew 100 KiB to len %d cap %d, want len %d, cap at least 200 KiB", len(g), cap(g), len(b))
	}
	if g := growDoubling(b, 300<<10); cap(g) < 400<<10 {
		t.Fatalf("a need beyond double: cap %d, want at least 400 KiB", cap(g))
	}
	roomy := make([]byte, 10, 100)
	if g := growDoubling(roomy, 90); &g[:1][0] != &roomy[:1][0] {
		t.Fatal("a buffer with room was reallocated")
	}
}

// within reports whether s is nil or lies in body's memory, as
// BatchInfo.Body promises (the pure engine's fetcher stores positions).
func within(s, body []byte) bool {
	if s == nil {
		return true
	}
	from := uintptr(unsafe.Pointer(unsafe.SliceData(body)))
	at := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return at >= from && at+uintptr(len(s)) <= from+uintptr(len(body))
}

// A Decoder is reused across responses; once Decode returns it must hold
// nothing of the data it decoded (records, batch body), or it alone keeps
// a whole Fetch response alive.
func TestDecoderForgetsItsInput(t *testing.T) {
	for _, codec := range []Codec{CodecNone, CodecLZ4} {
		batch := buildBatch(t, codec, []testRecord{{key: []byte("k"), value: []byte("v")}}, 1, 0, 0)
		d := NewDecoder(DecodeOptions{})
		if err := d.Decode(batch, func(*BatchInfo, []Record) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if d.info.Body != nil {
			t.Errorf("%v: the decoder keeps the last batch's body", codec)
		}
		for i, r := range d.recs[:cap(d.recs)] {
			if r.Key != nil || r.Value != nil {
				t.Errorf("%v: the decoder keeps record %d", codec, i)
			}
		}
	}
}
