package share

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/records"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// batch encodes records at offsets base..base+n-1, values "v<offset>".
func batch(t *testing.T, base int64, n int) []byte {
	t.Helper()
	b := records.NewBuilder(records.CodecNone, 0)
	for i := range n {
		b.Append(1000, nil, fmt.Appendf(nil, "v%d", base+int64(i)), nil)
	}
	data, err := b.Finish(nil, -1, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint64(data, uint64(base)) // the base offset, outside the CRC
	return data
}

func acq(first, last int64, count int16) kmsg.ShareFetchResponseTopicPartitionAcquiredRecord {
	return kmsg.ShareFetchResponseTopicPartitionAcquiredRecord{FirstOffset: first, LastOffset: last, DeliveryCount: count}
}

// decodeOf runs source.decode on an answer of partition t/0.
func decodeOf(data []byte, ranges ...kmsg.ShareFetchResponseTopicPartitionAcquiredRecord) ([]*engine.Message, []pendingAck, error) {
	s := &source{dec: records.NewDecoder(records.DecodeOptions{})}
	rp := &kmsg.ShareFetchResponseTopicPartition{Records: data, AcquiredRecords: ranges}
	return s.decode(engine.TopicPartition{Topic: "t"}, [16]byte{1}, 7, rp)
}

type got struct {
	offset int64
	count  int16
}

func offsets(t *testing.T, msgs []*engine.Message) []got {
	t.Helper()
	var out []got
	for _, m := range msgs {
		if string(m.Value) != fmt.Sprintf("v%d", m.Offset) || m.Topic != "t" {
			t.Errorf("message at %d: topic %q value %q", m.Offset, m.Topic, m.Value)
		}
		out = append(out, got{m.Offset, m.DeliveryCount})
	}
	return out
}

type ackRange struct {
	first, last int64
	typ         engine.AckType
}

func acksOf(acks []pendingAck) []ackRange {
	var out []ackRange
	for _, a := range acks {
		if a.user || a.topicID != [16]byte{1} || a.Session != 7 {
			panic("decode's acks are the engine's own, with the topic id and the session")
		}
		out = append(out, ackRange{a.FirstOffset, a.LastOffset, a.Type})
	}
	return out
}

// TestDecodeAcquired: only the acquired records are handed out, each with
// its range's delivery count.
func TestDecodeAcquired(t *testing.T) {
	msgs, acks, err := decodeOf(batch(t, 0, 10), acq(8, 9, 3), acq(2, 5, 1))
	if err != nil || len(acks) != 0 {
		t.Fatalf("err %v, acks %v", err, acksOf(acks))
	}
	want := []got{{2, 1}, {3, 1}, {4, 1}, {5, 1}, {8, 3}, {9, 3}}
	if g := offsets(t, msgs); !slices.Equal(g, want) {
		t.Fatalf("got %v, want %v", g, want)
	}
}

// TestDecodeGaps: acquired offsets that no batch of the answer holds a
// record for (compacted away, transaction markers) are acknowledged as
// gaps; acquired offsets past the answer's last complete batch (cut short)
// are released.
func TestDecodeGaps(t *testing.T) {
	data := slices.Concat(batch(t, 0, 5), batch(t, 7, 3)) // offsets 5 and 6 hold nothing
	cut := batch(t, 10, 5)
	data = append(data, cut[:len(cut)/2]...) // 10-14: cut short
	msgs, acks, err := decodeOf(data, acq(0, 14, 2))
	if err != nil {
		t.Fatal(err)
	}
	if g := offsets(t, msgs); len(g) != 8 || g[0] != (got{0, 2}) || g[7] != (got{9, 2}) {
		t.Fatalf("got %v", g)
	}
	want := []ackRange{{5, 6, engine.AckGap}, {10, 14, engine.AckRelease}}
	if g := acksOf(acks); !slices.Equal(g, want) {
		t.Fatalf("acks %v, want %v", g, want)
	}
}

// TestDecodeCorrupt: a batch that does not decode ends the answer with its
// error, after the messages before it; its acquired offsets are released.
func TestDecodeCorrupt(t *testing.T) {
	bad := batch(t, 5, 5)
	bad[len(bad)-1] ^= 0xff // the CRC no longer matches
	msgs, acks, err := decodeOf(slices.Concat(batch(t, 0, 5), bad), acq(0, 9, 1))
	if !errors.Is(err, records.ErrCorrupt) {
		t.Fatalf("err %v, want records.ErrCorrupt", err)
	}
	if len(msgs) != 5 {
		t.Fatalf("%d messages before the bad batch, want 5", len(msgs))
	}
	if g := acksOf(acks); !slices.Equal(g, []ackRange{{5, 9, engine.AckRelease}}) {
		t.Fatalf("acks %v", g)
	}
}

// TestDecodeRanges: ranges a broker should not send (unsorted, empty,
// overlapping) are made safe before decoding; nothing is handed out twice.
func TestDecodeRanges(t *testing.T) {
	msgs, acks, err := decodeOf(batch(t, 0, 10), acq(6, 9, 2), acq(4, 2, 1), acq(0, 3, 1), acq(2, 7, 1), acq(-1, 3, 1))
	if err != nil || len(acks) != 0 {
		t.Fatalf("err %v, acks %v", err, acksOf(acks))
	}
	g := offsets(t, msgs)
	if len(g) != 10 {
		t.Fatalf("got %v, want offsets 0-9 once each", g)
	}
	for i, m := range g {
		if m.offset != int64(i) || m.count != 2 {
			t.Fatalf("got %v: offsets 0-9 once each, delivery count 2 (the merged ranges' highest)", g)
		}
	}
}

// TestDecodeNothingAcquired: an answer without acquired ranges hands out
// nothing, whatever its records.
func TestDecodeNothingAcquired(t *testing.T) {
	msgs, acks, err := decodeOf(batch(t, 0, 3))
	if err != nil || len(msgs) != 0 || len(acks) != 0 {
		t.Fatalf("msgs %d acks %d err %v", len(msgs), len(acks), err)
	}
}

// TestQueueMerges: acks that continue the last one queued (same partition
// and type, next offsets) extend it, and count once for Flush.
func TestQueueMerges(t *testing.T) {
	s := newSource(&fetcher{}, 1)
	tp := engine.TopicPartition{Topic: "t"}
	for o := int64(0); o < 5; o++ {
		s.queueLocked(pendingAck{ShareAck: engine.ShareAck{TopicPartition: tp, FirstOffset: o, LastOffset: o, Type: engine.AckAccept}, user: true})
	}
	s.queueLocked(pendingAck{ShareAck: engine.ShareAck{TopicPartition: tp, FirstOffset: 5, LastOffset: 5, Type: engine.AckReject}, user: true})
	s.queueLocked(pendingAck{ShareAck: engine.ShareAck{TopicPartition: tp, FirstOffset: 7, LastOffset: 7, Type: engine.AckReject}, user: true})
	if len(s.acks) != 3 || s.enq != 3 || s.acks[0].LastOffset != 4 {
		t.Fatalf("queued %+v (enq %d), want 0-4 accept, 5 reject, 7 reject", s.acks, s.enq)
	}
}
