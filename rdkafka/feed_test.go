//go:build cgo && !nordkafka

package rdkafka

import (
	"testing"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/records"
)

// TestCBatchStage: the staging area keeps null and empty keys, values and
// header values apart, places every byte where its descriptor says, stops
// at its room, and grows for a single message larger than that room.
func TestCBatchStage(t *testing.T) {
	b := newCBatch()
	defer b.free()
	msgs := []*engine.Message{
		{Value: []byte("v0")},       // null key
		{Key: []byte{}, Value: nil}, // empty key, null value
		{Key: []byte("k2"), Value: []byte("v2"), Headers: []records.Header{{Key: "h", Value: []byte("x")}, {Key: "null"}, {Key: "empty", Value: []byte{}}}},
	}
	for i, m := range msgs {
		if !b.stage(nil, m, int64(i)) {
			t.Fatalf("an empty batch refused message %d", i)
		}
	}
	bytesAt := func(off, n int64) []byte {
		if n < 0 {
			return nil
		}
		return b.buf[off : off+n]
	}
	for i, m := range msgs {
		d := b.ms[i]
		if int64(d.opaque) != int64(i) {
			t.Fatalf("message %d: opaque %d", i, d.opaque)
		}
		key, val := bytesAt(int64(d.key_off), int64(d.key_len)), bytesAt(int64(d.val_off), int64(d.val_len))
		if (key == nil) != (m.Key == nil) || string(key) != string(m.Key) || (val == nil) != (m.Value == nil) || string(val) != string(m.Value) {
			t.Fatalf("message %d staged as key %q value %q, want %q %q", i, key, val, m.Key, m.Value)
		}
		if int(d.hdr_cnt) != len(m.Headers) {
			t.Fatalf("message %d: %d headers staged, want %d", i, d.hdr_cnt, len(m.Headers))
		}
		for j, h := range m.Headers {
			hd := b.hs[int(d.hdr_first)+j]
			name, v := bytesAt(int64(hd.name_off), int64(hd.name_len)), bytesAt(int64(hd.val_off), int64(hd.val_len))
			if string(name) != h.Key || (v == nil) != (h.Value == nil) || string(v) != string(h.Value) {
				t.Fatalf("message %d header %d staged as %q=%q, want %q=%q", i, j, name, v, h.Key, h.Value)
			}
		}
	}
	big := &engine.Message{Value: make([]byte, batchBytes+1)}
	big.Value[batchBytes] = 7
	if b.stage(nil, big, 9) {
		t.Fatal("a batch with messages took one larger than its room")
	}
	b.n, b.nh, b.nb = 0, 0, 0 // as produce leaves it
	if !b.stage(nil, big, 9) {
		t.Fatal("an empty batch refused a message larger than its room")
	}
	if d := b.ms[0]; int(d.val_len) != len(big.Value) || b.buf[int(d.val_off)+batchBytes] != 7 {
		t.Fatalf("large message staged with length %d", d.val_len)
	}
	for i := range maxBatchMsgs {
		if i > 0 && !b.stage(nil, &engine.Message{}, int64(i)) {
			t.Fatalf("message %d refused below %d", i, maxBatchMsgs)
		}
	}
	if b.stage(nil, &engine.Message{}, 0) {
		t.Fatalf("batch took more than %d messages", maxBatchMsgs)
	}
}
