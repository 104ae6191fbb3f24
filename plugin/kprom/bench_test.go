package kprom_test

import (
	"testing"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/plugin/kprom"
	"github.com/gokafka/kafka/testhelp/kafkatest"
)

// The root package's per-message benchmarks (kafkatest.BenchProduce and
// BenchConsume, which bench_perf_test.go there runs), with the Prometheus
// hook registered ("prom") and without ("none"), in one run so that the two
// see the same cluster load.

func variants(b *testing.B, f func(b *testing.B, opts ...kafka.ClientOption)) {
	b.Run("none", func(b *testing.B) { f(b) })
	b.Run("prom", func(b *testing.B) { f(b, kafka.WithHooks(kprom.New("bench"))) })
}

func BenchmarkProduce(b *testing.B) { variants(b, kafkatest.BenchProduce) }

func BenchmarkConsume(b *testing.B) { variants(b, kafkatest.BenchConsume) }

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
