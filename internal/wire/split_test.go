package wire

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// produceRequest has two topics whose partitions carry no records, records
// copied into the frame and records written as pieces of their own.
func produceRequest(version int16, txn *string) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(version)
	req.TransactionID = txn
	req.Acks = -1
	req.TimeoutMillis = 30000
	sizes := [][]int{{0, 100, splitMin, 70000}, {splitMin - 1, 300000, -1}}
	for i, topic := range []string{"t1", "a-longer-topic-name"} {
		t := kmsg.NewProduceRequestTopic()
		t.Topic = topic
		for j, n := range sizes[i] {
			p := kmsg.NewProduceRequestTopicPartition()
			p.Partition = int32(j * 7)
			if n >= 0 {
				p.Records = bytes.Repeat([]byte{byte('a' + j)}, n)
			}
			t.Partitions = append(t.Partitions, p)
		}
		req.Topics = append(req.Topics, t)
	}
	return req
}

func TestProduceSplitEncodesWhatKmsgEncodes(t *testing.T) {
	txn := "txn-1"
	for v := int16(3); v <= maxSplitVersion; v++ {
		for _, id := range []*string{nil, &txn} {
			t.Run(fmt.Sprintf("v%d/txn=%v", v, id != nil), func(t *testing.T) {
				req := produceRequest(v, id)
				if !splittable(req) {
					t.Fatal("not splittable")
				}
				want := appendRequest([]byte("junk"), req, 42, "client")[4:]
				frame, pieces := appendProduceSplit([]byte("junk"), nil, req, 42, "client")
				if len(pieces) != 3 { // splitMin, 70000 and 300000 bytes
					t.Fatalf("%d pieces, want 3", len(pieces))
				}
				var got []byte
				for _, b := range vectors(nil, frame[4:], shift(pieces, -4)) {
					got = append(got, b...)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("split frame of %d bytes differs from kmsg's %d", len(got), len(want))
				}
			})
		}
	}
}

// shift moves the pieces' offsets by d, for a frame re-sliced by d.
func shift(pieces []piece, d int) []piece {
	out := make([]piece, len(pieces))
	for i, p := range pieces {
		out[i] = piece{at: p.at + d, bytes: p.bytes}
	}
	return out
}

func TestUnsplittableProduceRequests(t *testing.T) {
	req := produceRequest(13, nil)
	if splittable(req) {
		t.Error("v13 (topic ids) is splittable")
	}
	req = produceRequest(9, nil)
	req.Topics[1].Partitions[0].UnknownTags.Set(5, []byte{1})
	if splittable(req) {
		t.Error("a request with an unknown tag is splittable")
	}
}
