package fetch

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/records"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// BenchmarkConsume measures end to end on the test cluster: consuming
// 1,000,000 messages of 100 bytes, spread over 1 or 12 partitions, with the
// root's default settings (engine.DefaultFetcherConfig) and with a deeper
// queue. The topic is produced once per run. The
// comparison with franz-go kgo lives outside the module (see the report).
func BenchmarkConsume(b *testing.B) {
	const total = 1_000_000
	for _, parts := range []int{1, 12} {
		// Set up in the parent benchmark: sub-benchmarks' cleanups run
		// when each ends.
		tc := testinstance.Shared()
		cl := testhelp.NewCluster(b, tc)
		topic := testhelp.CreateTopic(b, tc, parts)
		val := make([]byte, 100)
		for i := range val {
			val[i] = byte('a' + i%26)
		}
		for p := range parts {
			n := total / parts
			if p < total%parts {
				n++
			}
			rs := make([]rec, n)
			for i := range rs {
				rs[i] = rec{value: string(val)}
			}
			produce(b, cl, topic, int32(p), records.CodecNone, 8000, rs)
		}
		for _, queued := range []int{10000, 100000} {
			b.Run(fmt.Sprintf("partitions=%d/queued=%d", parts, queued), func(b *testing.B) {
				cfg := testhelp.FetcherConfig(topic)
				cfg.QueuedMaxMessages = queued // the default, then a deeper queue
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					consumeAll(b, cl, cfg, parts, total)
				}
				b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "msg/s")
			})
		}
	}
}

func consumeAll(b *testing.B, cl *cluster.Cluster, cfg engine.FetcherConfig, parts, total int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fi, err := New(ctx, cl, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer fi.Close()
	pos := make([]engine.PartitionOffset, parts)
	for p := range pos {
		pos[p].Partition = int32(p)
	}
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
