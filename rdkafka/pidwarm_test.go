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
// produced right after NewProducer, is delivered sooner with the engine's
// metadata request (pidwarm.go) than without it, when librdkafka asks for
// the producer id only on its 500 ms retry timer (or by luck, when its
// first message to a topic made librdkafka query metadata again after a
// listed broker's connection came up: one producer in three, seen).
// Producers with and without it alternate, five of each, and their
// medians are compared, so that neither the machine's load (which slows
// both) nor one lucky producer decides. Measured on the dev cluster: 59-78
// ms with it against 500 ms or more without, at load 5-10.
func TestFirstMessageNoPIDWait(t *testing.T) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 3)
	const n = 5
	first := func(i int, warm bool) time.Duration {
		testNoWarmPID = !warm
		defer func() { testNoWarmPID = false }()
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
		return d
	}
	var with, without []time.Duration
	for i := range n {
		with = append(with, first(i, true))
		without = append(without, first(i, false))
	}
	slices.Sort(with)
	slices.Sort(without)
	t.Logf("first message of a new idempotent producer: with the metadata request %v, without %v", with, without)
	if with[n/2] >= without[n/2] {
		t.Fatalf("median first delivery %v with the metadata request, %v without: librdkafka still waited for its producer-id timer", with[n/2], without[n/2])
	}
}
