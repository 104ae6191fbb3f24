//go:build cgo && !nordkafka

package rdkafka

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/testhelp"
)

// TestFirstMessageNoPIDWait: a new idempotent producer's first message,
// produced right after NewProducer, is delivered before librdkafka's
// 500 ms producer-id retry timer would have fired (pidwarm.go). Without
// the engine's metadata request, librdkafka asks for the producer id only
// on that timer and the first delivery takes 500 ms or more, whatever the
// load (or by luck, when its first message to a topic made librdkafka
// query metadata again after a listed broker's connection came up: one
// producer in three, seen). The median of five fresh producers is taken,
// so that neither one slow moment of a shared machine nor one lucky
// producer decides.
func TestFirstMessageNoPIDWait(t *testing.T) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 3)
	const limit = 450 * time.Millisecond
	const n = 5
	var took []time.Duration
	for i := range n {
		p, err := rdkafkaEngine(t).NewProducer(testhelp.Ctx(t, time.Minute), cl, testhelp.ProducerConfig())
		if err != nil {
			t.Fatalf("NewProducer: %v", err)
		}
		rep := testhelp.NewReports(1)
		start := time.Now()
		if err := p.Produce(t.Context(), &engine.Message{Topic: topic, Partition: int32(i % 3), Value: []byte("first")}, rep.Done); err != nil {
			t.Fatalf("Produce: %v", err)
		}
		rep.Wait(t, time.Minute)
		d := time.Since(start)
		if errs := rep.Errors(); len(errs) > 0 {
			t.Fatalf("delivery: %v", errs[0])
		}
		if err := p.Close(context.Background()); err != nil {
			t.Fatalf("Close: %v", err)
		}
		t.Logf("producer %d: first message delivered after %v", i, d)
		took = append(took, d)
	}
	slices.Sort(took)
	if med := took[n/2]; med >= limit {
		t.Fatalf("first message of a new idempotent producer: median of %d took %v (all: %v), want < %v (librdkafka waited for its producer-id timer)", n, med, took, limit)
	}
}
