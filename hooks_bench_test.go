package kafka_test

import (
	"sync/atomic"
	"testing"

	"github.com/gokafka/kafka"
)

// counter is the cheapest useful hook: atomic counts of records and batches.
type counter struct {
	produced, delivered, consumed, batches atomic.Int64
}

func (c *counter) OnRecordProduced(*kafka.Message)         { c.produced.Add(1) }
func (c *counter) OnRecordDelivered(*kafka.Message, error) { c.delivered.Add(1) }
func (c *counter) OnRecordConsumed(*kafka.Message)         { c.consumed.Add(1) }
func (c *counter) OnProduceBatch(kafka.ProduceBatchEvent)  { c.batches.Add(1) }
func (c *counter) OnFetchBatch(kafka.FetchBatchEvent)      { c.batches.Add(1) }

// The root benchmarks of bench_perf_test.go with a counting hook: what a
// hook costs per message (BenchmarkRootProduce/Consume are the same paths
// without hooks).
func BenchmarkRootProduceHooked(b *testing.B) {
	benchProduce(b, kafka.ProducerConfig{}, kafka.WithHooks(&counter{}))
}
func BenchmarkRootConsumeHooked(b *testing.B) { benchConsume(b, kafka.WithHooks(&counter{})) }
