package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
)

// The per-message produce and consume paths of the root package (validation,
// partitioning, delivery reports, handing messages out) on the shared
// cluster, with whatever client options opts gives: hooks_bench_test.go runs
// them with and without hooks. allocs/op is the stable figure; ns/op moves
// with the cluster's load.

func benchClient(b *testing.B, opts ...kafka.ClientOption) (*kafka.Client, *kafka.Topic) {
	b.Helper()
	ctx := testhelp.Ctx(b, time.Minute)
	c, err := kafka.NewClient(ctx, brokers(), opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	topic, err := c.CreateTopic(ctx, testhelp.UniqueName(b, "bench"), kafka.TopicConfig{Partitions: 3, ReplicationFactor: 1})
	if err != nil {
		b.Fatal(err)
	}
	return c, topic
}

// benchProduce produces b.N messages of 100 bytes asynchronously, with
// producer settings cfg, and flushes. The Messages are the benchmark's own
// (ProduceMessage), so allocs/op is what the engine allocates per message.
func benchProduce(b *testing.B, cfg kafka.ProducerConfig, opts ...kafka.ClientOption) {
	_, topic := benchClient(b, opts...)
	ctx := testhelp.Ctx(b, 5*time.Minute)
	p, err := topic.NewProducer(cfg)
	if err != nil {
		b.Fatal(err)
	}
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

// benchConsume produces b.N messages, then times a simple consumer reading
// them.
func benchConsume(b *testing.B, opts ...kafka.ClientOption) {
	_, topic := benchClient(b, opts...)
	ctx := testhelp.Ctx(b, 5*time.Minute)
	p, err := topic.NewProducer(kafka.ProducerConfig{})
	if err != nil {
		b.Fatal(err)
	}
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
			b.Fatal(fmt.Errorf("message %d of %d: %w", i, b.N, err))
		}
	}
}

func BenchmarkRootProduce(b *testing.B) { benchProduce(b, kafka.ProducerConfig{}) }

// The librdkafka engine's produce path: it fails without cgo (or with
// -tags nordkafka), where the engine is not compiled in.
func BenchmarkRootProduceRdkafka(b *testing.B) {
	benchProduce(b, kafka.ProducerConfig{UseRdkafka: true})
}
func BenchmarkRootConsume(b *testing.B) { benchConsume(b) }

var _ = context.Background
