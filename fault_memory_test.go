package kafka_test

import (
	"context"
	"testing"
	"time"

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
