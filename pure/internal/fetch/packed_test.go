package fetch

import (
	"bytes"
	"testing"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/records"
)

// Packed records come back as the Messages they were decoded as: nil and
// empty keys apart, values that cannot grow into their neighbours, and a
// record whose bytes lie outside its buffer (which the decoder never
// gives) copied rather than mispositioned.
func TestPackedRecordsComeBackWhole(t *testing.T) {
	body := []byte("key1value1value2")
	elsewhere := []byte("not in body")
	recs := []records.Record{
		{Offset: 5, Timestamp: 1000, Key: body[0:4:4], Value: body[4:10:10]},
		{Offset: 6, Timestamp: 1001, Key: nil, Value: body[10:16:16], Headers: []records.Header{{Key: "h", Value: []byte("v")}}},
		{Offset: 7, Timestamp: 1002, Key: body[4:4:4], Value: nil},
		{Offset: 9, Timestamp: 1003, Key: body[0:4:4], Value: elsewhere},
	}
	p := &packed{}
	buf := p.addBuf(body)
	for i := range recs {
		p.add(&recs[i], buf)
	}
	msgs := p.messages("t", 3)
	if len(msgs) != len(recs) {
		t.Fatalf("%d messages, want %d", len(msgs), len(recs))
	}
	for i, m := range msgs {
		r := recs[i]
		if m.Topic != "t" || m.Partition != 3 || m.Offset != r.Offset || m.Timestamp.UnixMilli() != r.Timestamp {
			t.Fatalf("message %d: %+v", i, m)
		}
		if (m.Key == nil) != (r.Key == nil) || !bytes.Equal(m.Key, r.Key) || (m.Value == nil) != (r.Value == nil) || !bytes.Equal(m.Value, r.Value) {
			t.Fatalf("message %d: key %q value %q, want %q %q", i, m.Key, m.Value, r.Key, r.Value)
		}
		if cap(m.Value) != len(m.Value) || cap(m.Key) != len(m.Key) {
			t.Fatalf("message %d: key or value can grow into its neighbour", i)
		}
		if len(m.Headers) != len(r.Headers) {
			t.Fatalf("message %d: %d headers, want %d", i, len(m.Headers), len(r.Headers))
		}
	}
	if len(p.bufs) != 2 {
		t.Fatalf("%d buffers: the record outside the body was not copied", len(p.bufs))
	}
	var none *packed
	if none.messages("t", 0) != nil {
		t.Fatal("a nil packed has messages")
	}
}

// A fetch of more records than one slab holds comes back whole across the
// slabs' edges: every message its own, in order, with its own value.
func TestPackedMessagesAcrossSlabs(t *testing.T) {
	const n = 2*messageSlab + 7
	var body []byte
	for i := range n {
		body = append(body, byte(i))
	}
	p := &packed{}
	buf := p.addBuf(body)
	for i := range n {
		p.add(&records.Record{Offset: int64(100 + i), Value: body[i : i+1 : i+1]}, buf)
	}
	msgs := p.messages("t", 0)
	if len(msgs) != n {
		t.Fatalf("%d messages, want %d", len(msgs), n)
	}
	seen := map[*engine.Message]bool{}
	for i, m := range msgs {
		if seen[m] {
			t.Fatalf("message %d handed out twice", i)
		}
		seen[m] = true
		if m.Offset != int64(100+i) || len(m.Value) != 1 || m.Value[0] != byte(i) {
			t.Fatalf("message %d: offset %d value %v", i, m.Offset, m.Value)
		}
	}
}

// Record arrays come in power-of-two sizes between the classes' bounds,
// exact sizes outside them, and an array given back serves a later fetch
// of its class, empty.
func TestRecsRecycled(t *testing.T) {
	for _, c := range []struct{ n, cap int }{
		{1, 1}, {128, 128}, {129, 256}, {256, 256}, {257, 512}, {5000, 8192},
		{1 << maxRecsClass, 1 << maxRecsClass}, {1<<maxRecsClass + 1, 1<<maxRecsClass + 1},
	} {
		if r := newRecs(c.n); len(r) != 0 || cap(r) != c.cap {
			t.Errorf("newRecs(%d): len %d cap %d, want 0 and %d", c.n, len(r), cap(r), c.cap)
		}
	}
	// sync.Pool may drop what it is given (under the race detector it
	// drops a quarter at random): give the same array back until it
	// comes back.
	p := &packed{recs: newRecs(3000)}
	p.recs = append(p.recs, packedRecord{offset: 42})
	first := &p.recs[:1][0]
	for i := 0; ; i++ {
		p.release()
		if p.recs != nil {
			t.Fatal("release left the records")
		}
		r := newRecs(2500) // the same class: 4096
		if len(r) != 0 || cap(r) != 4096 {
			t.Fatalf("recycled array: len %d cap %d, want 0 and 4096", len(r), cap(r))
		}
		if &r[:1][0] == first {
			break
		}
		if i == 100 {
			t.Fatal("an array given back never served another fetch")
		}
		p.recs = r
		first = &r[:1][0]
	}
}
