package kafka_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/cmd/soak/faultsuite"
	"github.com/gokafka/kafka/testhelp"
)

// A consumer whose handler is slow holds memory bounded by its
// configuration (QueuedMaxMessages per partition, fetch sizes), not by what
// the topic holds: PyKafka's consumers could buffer without limit. The
// pure engine's live heap is measured while a handler that takes 1 ms per
// message reads a topic of 12 partitions of 1 KiB messages, and must stay
// under faultsuite.PureMemoryBound. `go run ./cmd/soak -memory` prints the
// same figures for both engines, with RSS, up to QueuedMaxMessages 100000.
// No fault is involved: the shared cluster serves.
func TestFaultSlowConsumerMemoryBounded(t *testing.T) {
	const partitions, size, perPartition = 12, 1024, 15000
	client := newClient(t)
	ctx := testhelp.Ctx(t, 8*time.Minute)
	t0 := time.Now()
	topic, err := faultsuite.FillTopic(ctx, client, partitions, perPartition, size)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d x %d messages of %d B written in %v", partitions, perPartition, size, time.Since(t0).Round(time.Millisecond))
	t.Cleanup(func() { client.DeleteTopic(context.Background(), topic.Name()) })
	topicBytes := uint64(partitions * perPartition * size)
	held := map[int]uint64{}
	for _, qmm := range []int{1000, 10000} {
		r, err := faultsuite.MeasureConsumerMemory(ctx, topic, faultsuite.MemoryConfig{
			Engine: faultsuite.Pure, QueuedMaxMessages: qmm, PerMessage: time.Millisecond, Settle: time.Minute})
		if err != nil {
			t.Fatalf("QueuedMaxMessages %d: %v (%s)", qmm, err, r)
		}
		bound := faultsuite.PureMemoryBound(partitions, qmm, size, 1<<20, 1<<20)
		t.Logf("%s; bound %.1f MiB", r, float64(bound)/(1<<20))
		if r.Consumed == 0 || r.MessageBytes != size {
			t.Fatalf("QueuedMaxMessages %d: consumed %d messages of %d bytes", qmm, r.Consumed, r.MessageBytes)
		}
		if r.HeldHeap() > bound {
			t.Errorf("QueuedMaxMessages %d: the consumer held %.1f MiB, over the bound of %.1f MiB", qmm, float64(r.HeldHeap())/(1<<20), float64(bound)/(1<<20))
		}
		held[qmm] = r.HeldHeap()
	}
	// What is held follows the configuration: a tenth of the queue holds
	// much less, and far less than the topic.
	if held[1000] > topicBytes/4 || held[1000] >= held[10000] {
		t.Errorf("held %.1f MiB with QueuedMaxMessages 1000, %.1f MiB with 10000, topic %.1f MiB: memory does not follow the configuration",
			float64(held[1000])/(1<<20), float64(held[10000])/(1<<20), float64(topicBytes)/(1<<20))
	}
}

// With a byte budget (ConsumerOptions.QueuedMaxBytes), what a slow
// consumer holds follows the budget whatever the message size: 100 B,
// 10 KiB and 1 MiB messages (1 MiB less 1 KiB: a record must stay under
// the broker's message.max.bytes), the per-partition message bound set far
// out of the way (1 000 000), topics of twice budget + 64 MiB. The pure
// engine's held RSS (peak above the baseline) must stay within the budget
// plus 64 MiB.
func TestFaultSlowConsumerByteBudget(t *testing.T) {
	const partitions, budget, slack = 12, 32 << 20, 64 << 20
	client := newClient(t)
	ctx := testhelp.Ctx(t, 15*time.Minute)
	for _, size := range []int{100, 10 << 10, 1<<20 - 1<<10} {
		// Twice what the bound allows; for 100 B messages, whose
		// *Message weighs more than the value, 1 200 000 of them (about
		// 300 MiB once decoded).
		perPartition := 2 * (budget + slack) / size / partitions
		if size == 100 {
			perPartition = 100_000
		}
		t0 := time.Now()
		topic, err := faultsuite.FillTopic(ctx, client, partitions, perPartition, size)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d x %d messages of %d B written in %v", partitions, perPartition, size, time.Since(t0).Round(time.Millisecond))
		// The handler reads about 10 MB/s at most (1 ms per message,
		// 200 ms per 1 MiB message), so that it never catches up.
		per := time.Millisecond
		if size > 100<<10 {
			per = 200 * time.Millisecond
		}
		r, err := faultsuite.MeasureConsumerMemory(ctx, topic, faultsuite.MemoryConfig{
			Engine: faultsuite.Pure, QueuedMaxMessages: 1_000_000, QueuedMaxBytes: budget, PerMessage: per, Settle: time.Minute})
		client.DeleteTopic(context.Background(), topic.Name())
		if err != nil {
			t.Fatalf("%d B: %v (%s)", size, err, r)
		}
		t.Logf("%s", r)
		if r.Consumed == 0 || r.MessageBytes != size || int64(r.Consumed) >= r.TopicBytes/int64(size) {
			t.Fatalf("%d B: consumed %d messages of %d bytes (the topic holds %d): the consumer was not slow", size, r.Consumed, r.MessageBytes, r.TopicBytes/int64(size))
		}
		if r.HeldRSS() > budget+slack {
			t.Errorf("%d B messages: held RSS %.1f MiB (heap %.1f MiB), over the budget %d MiB + %d MiB", size,
				float64(r.HeldRSS())/(1<<20), float64(r.HeldHeap())/(1<<20), budget>>20, slack>>20)
		}
	}
}

// The byte budgets are checked at construction, each error naming its
// field: negative, or asked of the librdkafka engine (whose bounds are
// per partition or set through RdkafkaConfig).
func TestByteBudgetConfigErrors(t *testing.T) {
	client := newClient(t)
	topic := newTopic(t, client, 1)
	ctx := testhelp.Ctx(t, time.Minute)
	for _, tc := range []struct {
		field string
		opts  kafka.ConsumerOptions
	}{
		{"ConsumerConfig.QueuedMaxBytes", kafka.ConsumerOptions{QueuedMaxBytes: -1}},
		{"ConsumerConfig.QueuedMaxBytes", kafka.ConsumerOptions{QueuedMaxBytes: 1 << 20, UseRdkafka: true}},
	} {
		_, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerOptions: tc.opts})
		var ce *kafka.ConfigError
		if !errors.Is(err, kafka.ErrInvalidConfig) || !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("%+v: got %v, want a ConfigError for %s", tc.opts, err, tc.field)
		}
	}
}
