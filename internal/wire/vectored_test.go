package wire_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/wire"
	"github.com/gokafka/kafka/testhelp"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A Produce request's large batches go out as pieces of one vectored write
// (split.go); the broker must read the same request kmsg would have framed,
// request after request on one connection.
func TestProduceWrittenInPiecesArrivesWhole(t *testing.T) {
	testhelp.NoLeaks(t)
	got := make(chan *kmsg.ProduceRequest, 3)
	c, _ := dialFake(t, wire.Options{}, func(c *testhelp.FakeConn, r *testhelp.FakeRequest) bool {
		if r.Key != 0 {
			return false
		}
		got <- r.Body.(*kmsg.ProduceRequest)
		c.Respond(r, kmsg.NewPtrProduceResponse())
		return true
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for round, size := range []int{100, 64 << 10, 3 << 20} {
		req := kmsg.NewPtrProduceRequest()
		req.Acks = -1
		for i, topic := range []string{"a", "b"} {
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = topic
			for p := range int32(3) {
				rp := kmsg.NewProduceRequestTopicPartition()
				rp.Partition = p
				rp.Records = bytes.Repeat([]byte{byte(round*10 + i*3 + int(p))}, size+int(p))
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
		}
		if _, err := c.Request(ctx, req); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		in := <-got
		if len(in.Topics) != len(req.Topics) {
			t.Fatalf("round %d: %d topics arrived, want %d", round, len(in.Topics), len(req.Topics))
		}
		for i, rt := range req.Topics {
			it := in.Topics[i]
			if it.Topic != rt.Topic || len(it.Partitions) != len(rt.Partitions) {
				t.Fatalf("round %d: topic %q with %d partitions arrived, want %q with %d", round, it.Topic, len(it.Partitions), rt.Topic, len(rt.Partitions))
			}
			for j, rp := range rt.Partitions {
				ip := it.Partitions[j]
				if ip.Partition != rp.Partition || !bytes.Equal(ip.Records, rp.Records) {
					t.Fatalf("round %d: %s/%d arrived as partition %d with %d bytes, want %d", round, rt.Topic, rp.Partition, ip.Partition, len(ip.Records), len(rp.Records))
				}
			}
		}
	}
}
