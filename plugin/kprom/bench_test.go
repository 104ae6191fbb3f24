package kprom_test

import (
	"context"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/plugin/kprom"
	"github.com/gokafka/kafka/testhelp"
)

// The root package's per-message benchmarks (bench_perf_test.go there),
// with the Prometheus hook registered ("prom") and without ("none"), in one
// run so that the two see the same cluster load.

// benchProducer is a producer on a fresh topic of a client made with
// opts, with the context the benchmark runs in.
func benchProducer(b *testing.B, opts ...kafka.ClientOption) (context.Context, *kafka.Topic, *kafka.Producer) {
	c, topic := connect(b, testhelp.Ctx(b, time.Minute), testhelp.UniqueName(b, "bench"), kafka.TopicConfig{Partitions: 3, ReplicationFactor: 1}, opts...)
	b.Cleanup(func() { c.Close() })
	ctx := testhelp.Ctx(b, 5*time.Minute)
	p, err := topic.NewProducer(kafka.ProducerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	return ctx, topic, p
}

func variants(b *testing.B, f func(b *testing.B, opts ...kafka.ClientOption)) {
	b.Run("none", func(b *testing.B) { f(b) })
	b.Run("prom", func(b *testing.B) { f(b, kafka.WithHooks(kprom.New("bench"))) })
}

func BenchmarkProduce(b *testing.B) {
	variants(b, func(b *testing.B, opts ...kafka.ClientOption) {
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
	})
}

func BenchmarkConsume(b *testing.B) {
	variants(b, func(b *testing.B, opts ...kafka.ClientOption) {
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
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkHookCalls is what kprom costs per message, without Kafka: the
// three record hooks a produced and consumed message raises.
func BenchmarkHookCalls(b *testing.B) {
	m := kprom.New("bench")
	msg := &kafka.Message{Topic: "orders"}
	b.ReportAllocs()
	for b.Loop() {
		m.OnRecordProduced(msg)
		m.OnRecordDelivered(msg, nil)
		m.OnRecordConsumed(msg)
	}
}
