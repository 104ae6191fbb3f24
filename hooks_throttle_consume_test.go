package kafka_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
)

// TestHookThrottleConsume: a client id with a consume quota of 10 KB/s
// (kafka-configs) reading 100 KB is throttled by the broker; the throttle
// hook hears of it on both engines — for the rdkafka engine from the
// fetcher's librdkafka statistics, whose consumer stats then show its own
// view of the brokers (requests). Every message is still consumed.
func TestHookThrottleConsume(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		testhelp.NoLeaks(t)
		const size, count = 1000, 100 // 100 KB
		clientID := testhelp.UniqueName(t, "cquota")
		ctx := testhelp.Ctx(t, 2*time.Minute)
		// The messages are produced by a client without the quota.
		producer := newClient(t)
		topic := newTopic(t, producer, 1) // quotas are per broker: one leader takes it all
		p, err := topic.NewProducer(kafka.ProducerConfig{BatchBytes: 16 << 10})
		if err != nil {
			t.Fatal(err)
		}
		msgs := make([]*kafka.Message, count)
		for i := range msgs {
			msgs[i] = &kafka.Message{Value: make([]byte, size)}
		}
		if err := p.ProduceSync(ctx, msgs...).Err(); err != nil {
			t.Fatal(err)
		}
		if err := p.Close(ctx); err != nil {
			t.Fatal(err)
		}
		setQuota(t, clientID, "consumer_byte_rate", 10000)
		t.Cleanup(func() { setQuota(t, clientID, "consumer_byte_rate", 0) })

		h := &throttles{}
		client := newClient(t, kafka.WithClientID(clientID), kafka.WithHooks(h))
		ctopic, err := client.Topic(ctx, topic.Name())
		if err != nil {
			t.Fatal(err)
		}
		// Batches and fetches of 16 KB: a broker answers nothing to a
		// fetch larger than its quota allows in one window.
		c, err := ctopic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{Partitions: []int32{0},
			ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: e.rdkafka, ConsumerTimeout: time.Minute, FetchMaxBytes: 16 << 10, FetchPartitionMaxBytes: 16 << 10}})
		if err != nil {
			t.Fatal(err)
		}
		for i := range count {
			m, err := c.Consume(ctx)
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			if m.Offset != int64(i) || len(m.Value) != size {
				t.Fatalf("message %d: offset %d, %d bytes", i, m.Offset, len(m.Value))
			}
		}
		// The broker throttles the fetch after the one that took it past
		// the quota; librdkafka reports throttles once a second.
		// The rdkafka fetcher hands librdkafka's statistics over while
		// Consume waits in it: keep a Consume waiting (nothing more to
		// read) until the report arrives.
		testhelp.WaitUntil(t, 30*time.Second, "a throttle event", func() bool {
			if h.count() == 0 {
				wctx, cancel := context.WithTimeout(ctx, time.Second)
				_, err := c.Consume(wctx)
				cancel()
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("Consume past the end: %v", err)
				}
			}
			return h.count() > 0
		})
		if e.rdkafka {
			st := client.Stats()
			if len(st.Consumers) != 1 || len(st.Consumers[0].Brokers) == 0 {
				t.Fatalf("consumer stats: %+v", st.Consumers)
			}
			checkRdkafkaBrokers(t, st.Consumers[0].Brokers)
		}
		if err := c.Close(ctx); err != nil {
			t.Fatal(err)
		}
		h.mu.Lock()
		for _, ev := range h.events {
			if ev.Throttle <= 0 || ev.Broker < 0 {
				t.Errorf("throttle event %+v", ev)
			}
		}
		t.Logf("%d throttle events, first %+v", len(h.events), h.events[0])
		h.mu.Unlock()
	})
}
