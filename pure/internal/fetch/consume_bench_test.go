package fetch

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/records"
	"github.com/gokafka/kafka/testinstance"
)

// BenchmarkConsume measures end to end on the test cluster: one fetcher
// consuming 1,000,000 messages of 100 bytes, spread over 1 topic of 1 or 12
// partitions, or over 10 topics of 12 partitions (the same messages in ten
// times as many partitions, so every request covers several topics), with
// the root's default settings (engine.DefaultFetcherConfig: QueuedMaxMessages
// 10000, MaxWait 100ms, no CRC check) and with a deeper queue. The topics
// are produced once per run. Besides msg/s it reports ns/msg; allocs/op
// divided by the 1,000,000 messages is the allocations per message. The
// comparison with franz-go kgo lives outside the module (see the report).
func BenchmarkConsume(b *testing.B) {
	const total = 1_000_000
	for _, shape := range []struct{ topics, parts int }{{1, 1}, {1, 12}, {10, 12}} {
		// Set up in the parent benchmark: sub-benchmarks' cleanups run
		// when each ends.
		tc := testinstance.Shared()
		cl := newCluster(b, tc, cluster.Config{})
		var pos []engine.Position
		for range shape.topics {
			topic := createTopic(b, tc, shape.parts, nil)
			for p := range shape.parts {
				pos = append(pos, at(topic, int32(p), 0))
			}
		}
		val := make([]byte, 100)
		for i := range val {
			val[i] = byte('a' + i%26)
		}
		for i, po := range pos {
			n := total / len(pos)
			if i < total%len(pos) {
				n++
			}
			rs := make([]rec, n)
			for i := range rs {
				rs[i] = rec{value: string(val)}
			}
			produce(b, cl, po.Topic, po.Partition, records.CodecNone, 8000, rs)
		}
		for _, queued := range []int{10000, 100000} {
			b.Run(fmt.Sprintf("topics=%d/partitions=%d/queued=%d", shape.topics, shape.parts, queued), func(b *testing.B) {
				cfg := engine.DefaultFetcherConfig() // the root's defaults, CRC checks off as there
				cfg.QueuedMaxMessages = queued       // the default, and a deeper queue
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					consumeAll(b, cl, cfg, pos, total)
				}
				msgs := float64(total) * float64(b.N)
				b.ReportMetric(msgs/b.Elapsed().Seconds(), "msg/s")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/msgs, "ns/msg")
			})
		}
	}
}

// consumeAll reads total messages from pos with a new fetcher.
func consumeAll(b *testing.B, cl *cluster.Cluster, cfg engine.FetcherConfig, pos []engine.Position, total int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fi, err := New(ctx, cl, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer fi.Close()
	if err := fi.Assign(ctx, pos); err != nil {
		b.Fatal(err)
	}
	got, sum := 0, 0
	for got < total {
		fe, err := fi.Poll(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if fe.Err != nil {
			b.Fatal(fe.Err)
		}
		for _, m := range fe.Messages {
			sum += len(m.Value)
		}
		got += len(fe.Messages)
	}
	if got != total || sum != 100*total {
		b.Fatalf("consumed %d messages (%d bytes), want %d", got, sum, total)
	}
}
