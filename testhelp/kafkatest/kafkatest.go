// Package kafkatest holds the test helpers that need the root package
// kafka itself: the root package's external tests and the tests of the
// modules built on it (plugin/kprom, plugin/kotel) share them. They cannot
// live in testhelp, which the internal tests of the packages kafka imports
// (offsets, balance, ...) and of the root itself use: importing kafka from
// there would be an import cycle. Like testhelp, it is not a stable API.
package kafkatest

import (
	"context"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// Connect makes a client of the shared cluster with opts, and creates the
// topic name with cfg through it. The caller closes the client, when it
// chooses (before a tracer or meter provider its hooks use shuts down, or
// in the order a test checks).
func Connect(tb testing.TB, ctx context.Context, name string, cfg kafka.TopicConfig, opts ...kafka.ClientOption) (*kafka.Client, *kafka.Topic) {
	tb.Helper()
	client, err := kafka.NewClient(ctx, testinstance.Shared().BootstrapServers(), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	topic, err := client.CreateTopic(ctx, name, cfg)
	if err != nil {
		client.Close()
		tb.Fatal(err)
	}
	return client, topic
}

// The per-message produce and consume paths of the root package
// (validation, partitioning, delivery reports, handing messages out) on
// the shared cluster, with whatever client options opts gives: the root
// runs them with and without hooks, plugin/kprom with and without its
// metrics. allocs/op is the stable figure; ns/op moves with the cluster's
// load.

// benchProducer is a producer on a fresh 3-partition topic of a client
// made with opts (closed at the end of the benchmark), with the context
// the benchmark runs in.
func benchProducer(b *testing.B, opts ...kafka.ClientOption) (context.Context, *kafka.Topic, *kafka.Producer) {
	b.Helper()
	c, topic := Connect(b, testhelp.Ctx(b, time.Minute), testhelp.UniqueName(b, "bench"), kafka.TopicConfig{Partitions: 3, ReplicationFactor: 1}, opts...)
	b.Cleanup(func() { c.Close() })
	ctx := testhelp.Ctx(b, 5*time.Minute)
	p, err := topic.NewProducer(kafka.ProducerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	return ctx, topic, p
}

// BenchProduce produces b.N messages of 100 bytes asynchronously and
// flushes.
func BenchProduce(b *testing.B, opts ...kafka.ClientOption) {
	ctx, _, p := benchProducer(b, opts...)
	defer p.Close(ctx)
	value := make([]byte, 100)
	msgs := make([]kafka.Message, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range msgs {
		msgs[i].Value = value
		if err := p.ProduceMessage(ctx, &msgs[i]); err != nil {
			b.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchConsume produces b.N messages of 100 bytes, then times a simple
// consumer reading them.
func BenchConsume(b *testing.B, opts ...kafka.ClientOption) {
	ctx, topic, p := benchProducer(b, opts...)
	value := make([]byte, 100)
	for i := 0; i < b.N; i++ {
		if err := p.ProduceMessage(ctx, &kafka.Message{Value: value}); err != nil {
			b.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		b.Fatal(err)
	}
	c, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Consume(ctx); err != nil {
			b.Fatalf("message %d of %d: %v", i, b.N, err)
		}
	}
}
