package records

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func decodeErr(data []byte, opts DecodeOptions) (int, error) {
	calls := 0
	err := DecodeBatches(data, opts, func(*BatchInfo, []Record) error { calls++; return nil })
	return calls, err
}

func TestCorruptCRC(t *testing.T) {
	good := buildBatch(t, CodecNone, testRecords()[:2], -1, -1, -1)
	bad := bytes.Clone(good)
	bad[len(bad)-2] ^= 0x20 // the last byte of the last value
	data := append(bytes.Clone(good), bad...)
	setBaseOffset(data[len(good):], 42)

	calls, err := decodeErr(data, DecodeOptions{})
	var be *BatchError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &be) || calls != 1 {
		t.Fatalf("err %v after %d batches", err, calls)
	}
	if be.Pos != len(good) || be.Offset != 42 || !strings.Contains(err.Error(), "CRC") {
		t.Errorf("error %+v: %v", be, err)
	}
	// SkipCRC decodes the damaged value as it is.
	if calls, err := decodeErr(data, DecodeOptions{SkipCRC: true}); err != nil || calls != 2 {
		t.Errorf("SkipCRC: err %v after %d batches", err, calls)
	}
}

func TestUnsupportedMagic(t *testing.T) {
	// A magic 1 message as Kafka 0.10 stored it: offset, size, crc, magic,
	// attributes, timestamp, key, value.
	msg := binary.BigEndian.AppendUint64(nil, 12)
	msg = binary.BigEndian.AppendUint32(msg, 22)
	msg = append(msg, 0, 0, 0, 0, 1, 0)
	msg = binary.BigEndian.AppendUint64(msg, 1000)
	msg = append(msg, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0)
	_, err := decodeErr(msg, DecodeOptions{})
	var be *BatchError
	if !errors.Is(err, ErrUnsupportedMagic) || errors.Is(err, ErrCorrupt) || !errors.As(err, &be) || be.Offset != 12 {
		t.Fatalf("err %v", err)
	}
}

// mutate builds a valid batch, applies f, fixes the CRC and expects kind.
func TestCorruptFields(t *testing.T) {
	recs := kmsgRecords([]kmsg.Record{{Key: []byte("k"), Value: []byte("v"), Headers: []kmsg.Header{{Key: "h", Value: []byte("x")}}}, {OffsetDelta: 1, Value: []byte("w")}})
	cases := []struct {
		name   string
		mutate func(b []byte) []byte
		want   error
	}{
		{"negative length", func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 0xffffffff); return b }, ErrCorrupt},
		{"too short for magic", func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 3); return b[:15] }, ErrCorrupt},
		{"shorter than header", func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 40); return b[:52] }, ErrCorrupt},
		{"magic 3", func(b []byte) []byte { b[posMagic] = 3; return b }, ErrUnsupportedMagic},
		{"codec 5", func(b []byte) []byte { b[posAttributes+1] |= 5; return b }, ErrCorrupt},
		{"negative count", func(b []byte) []byte { binary.BigEndian.PutUint32(b[posRecordCount:], 0x80000000); return b }, ErrCorrupt},
		{"huge count", func(b []byte) []byte { binary.BigEndian.PutUint32(b[posRecordCount:], 1<<30); return b }, ErrCorrupt},
		{"count too high", func(b []byte) []byte { binary.BigEndian.PutUint32(b[posRecordCount:], 3); return b }, ErrCorrupt},
		{"count too low", func(b []byte) []byte { binary.BigEndian.PutUint32(b[posRecordCount:], 1); return b }, ErrCorrupt},
		{"negative base offset", func(b []byte) []byte { b[0] = 0x80; return b }, ErrCorrupt},
		{"overflowing last offset", func(b []byte) []byte { binary.BigEndian.PutUint64(b, 1<<63-1); return b }, ErrCorrupt},
		{"negative last offset delta", func(b []byte) []byte { binary.BigEndian.PutUint32(b[posLastOffsetDelta:], 0xffffffff); return b }, ErrCorrupt},
		{"offset delta past last", func(b []byte) []byte { binary.BigEndian.PutUint32(b[posLastOffsetDelta:], 0); return b }, ErrCorrupt},
		{"negative offset delta", func(b []byte) []byte { b[HeaderSize+3] = 1; return b }, ErrCorrupt},
		{"trailing byte", func(b []byte) []byte { return append(b, 0) }, ErrCorrupt},
		{"record length past end", func(b []byte) []byte { b[HeaderSize] = 100; return b }, ErrCorrupt},
		{"record length short", func(b []byte) []byte { b[HeaderSize] -= 2; return b }, ErrCorrupt},
		{"bad length varint", func(b []byte) []byte {
			return append(b[:HeaderSize], 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, 0, 0, 0, 0, 0)
		}, ErrCorrupt},
		{"key length -2", func(b []byte) []byte { b[HeaderSize+4] = 3; return b }, ErrCorrupt},
		{"key length too long", func(b []byte) []byte { b[HeaderSize+4] = 60; return b }, ErrCorrupt},
		{"header count negative", func(b []byte) []byte { b[HeaderSize+8] = 3; return b }, ErrCorrupt},
		{"header count too high", func(b []byte) []byte { b[HeaderSize+8] = 8; return b }, ErrCorrupt},
		{"header key length -1", func(b []byte) []byte { b[HeaderSize+9] = 1; return b }, ErrCorrupt},
		{"header value length too long", func(b []byte) []byte { b[HeaderSize+11] = 9; return b }, ErrCorrupt},
		{"gzip garbage", func(b []byte) []byte { b[posAttributes+1] |= byte(CodecGzip); return b }, ErrCorrupt},
		{"zstd garbage", func(b []byte) []byte { b[posAttributes+1] |= byte(CodecZstd); return b }, ErrCorrupt},
		{"lz4 garbage", func(b []byte) []byte { b[posAttributes+1] |= byte(CodecLZ4); return b }, ErrCorrupt},
		{"snappy garbage", func(b []byte) []byte { b[posAttributes+1] |= byte(CodecSnappy); return b }, ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.mutate(kmsgBatch(0, 0, 1, 2, recs))
			if len(b) >= 12 && int32(binary.BigEndian.Uint32(b[8:])) >= 0 && c.name != "too short for magic" && c.name != "shorter than header" {
				binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
			}
			if len(b) >= HeaderSize {
				fixCRC(b)
			}
			calls, err := decodeErr(b, DecodeOptions{})
			if !errors.Is(err, c.want) || calls != 0 {
				t.Fatalf("err %v after %d batches, want %v", err, calls, c.want)
			}
			var be *BatchError
			if !errors.As(err, &be) || be.Detail == "" || be.Pos != 0 {
				t.Errorf("error %#v", err)
			}
		})
	}
}

func TestHeaderKeyInterning(t *testing.T) {
	b := NewBuilder(CodecNone, 0)
	for i := range 50 {
		b.Append(0, nil, nil, []Header{{"traceparent", []byte{byte(i)}}, {string(rune('a' + i%20)), nil}})
	}
	batch, _ := b.Finish(nil, -1, -1, -1)
	_, recs := decodeOne(t, batch)
	for i, r := range recs {
		if r.Headers[0].Key != "traceparent" || r.Headers[0].Value[0] != byte(i) || r.Headers[1].Key != string(rune('a'+i%20)) || r.Headers[1].Value != nil {
			t.Fatalf("record %d headers %+v", i, r.Headers)
		}
		if cap(r.Headers) != 2 {
			t.Errorf("record %d: headers capacity %d not clipped", i, cap(r.Headers))
		}
	}
}
