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

// BenchmarkConsume measures end to end on the test cluster: one fetcher
// consuming 1,000,000 messages of 100 bytes, spread over 1 topic of 1, 12 or
// 120 partitions, or over 10 topics of 12 partitions (so that every request
// covers several topics; 1 topic of 120 partitions is the same partition
// count in one topic, which tells the cost of topics from the cost of
// partitions), with the root's default settings
// (engine.DefaultFetcherConfig: QueuedMaxMessages 100000, a 64 MiB byte
// budget, MaxWait 100ms, no CRC check) and with the shallower queue that
// was the default until 2026-12. Each shape's topics are produced once
// per run, and only for shapes that -bench selects. Besides msg/s it
// reports wall ns/msg and, where the OS tells, cpu-ns/msg (this process's
// CPU time, which load from other processes distorts far less); allocs/op
// divided by the 1,000,000 messages is the allocations per message. The
// comparison with franz-go kgo lives outside the module (see the report).
func BenchmarkConsume(b *testing.B) {
	for _, topics := range []int{1, 10} {
		b.Run(fmt.Sprintf("topics=%d", topics), func(b *testing.B) {
			parts := []int{1, 12, 120}
			if topics > 1 {
				parts = []int{12}
			}
			for _, n := range parts {
				b.Run(fmt.Sprintf("partitions=%d", n), func(b *testing.B) { benchConsume(b, topics, n) })
			}
		})
	}
}

// benchConsume produces the messages of one shape, then runs the
// sub-benchmarks that consume them (whose cleanups would run when each
// ends: the setup belongs here).
func benchConsume(b *testing.B, topics, parts int) {
	const total = 1_000_000
	tc := testinstance.Shared()
	cl := testhelp.NewCluster(b, tc)
	var pos []engine.Position
	for range topics {
		topic := testhelp.CreateTopic(b, tc, parts)
		for p := range parts {
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
	for _, queued := range []int{100000, 10000} {
		b.Run(fmt.Sprintf("queued=%d", queued), func(b *testing.B) {
			cfg := testhelp.FetcherConfig() // the root's defaults, CRC checks off as there
			cfg.QueuedMaxMessages = queued  // the default, and the old one
			b.ReportAllocs()
			cpu0, cpuOK := cpuTime()
			b.ResetTimer()
			for b.Loop() {
				consumeAll(b, cl, cfg, pos, total)
			}
			b.StopTimer()
			msgs := float64(total) * float64(b.N)
			b.ReportMetric(msgs/b.Elapsed().Seconds(), "msg/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/msgs, "ns/msg")
			if cpu1, ok := cpuTime(); ok && cpuOK {
				b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/msgs, "cpu-ns/msg")
			}
		})
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
