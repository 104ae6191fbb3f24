package faultsuite

import (
	"context"
	"time"

	"github.com/gokafka/kafka"
)

// BudgetSlack is what a byte-budgeted consumer may hold in RSS beyond its
// budget: the Go runtime's own overhead, a fetch response in flight, and
// the decoded record a handler holds.
const BudgetSlack = 64 << 20

// MeasureByteBudget measures the pure engine's slow consumer under a byte
// budget (ConsumerOptions.QueuedMaxBytes) with messages of size bytes:
// it fills a topic of 12 partitions with twice what budget + BudgetSlack
// allows (for 100 B messages, whose Message weighs more than the value,
// 1 200 000 of them: about 300 MiB once decoded), consumes it with the
// per-partition message bound out of the way (1 000 000) and a handler
// too slow to catch up, and deletes the topic. The process's RSS is only
// the consumer's when nothing else runs in it and the race detector is
// off: its shadow memory grows with every heap page ever touched and is
// never given back, so cmd/soak -memory-budget runs this in a process of
// its own for the root package's test.
func MeasureByteBudget(ctx context.Context, client *kafka.Client, size, budget int) (MemoryResult, error) {
	const partitions = 12
	perPartition := 2 * (budget + BudgetSlack) / size / partitions
	if size == 100 {
		perPartition = 100_000
	}
	topic, err := FillTopic(ctx, client, partitions, perPartition, size)
	if err != nil {
		return MemoryResult{}, err
	}
	defer client.DeleteTopic(context.WithoutCancel(ctx), topic.Name())
	// The handler reads about 10 MB/s at most (1 ms per message, 200 ms
	// per message over 100 KiB), so that it never catches up.
	per := time.Millisecond
	if size > 100<<10 {
		per = 200 * time.Millisecond
	}
	return MeasureConsumerMemory(ctx, topic, MemoryConfig{
		Engine: Pure, QueuedMaxMessages: 1_000_000, QueuedMaxBytes: budget, PerMessage: per, Settle: time.Minute})
}
