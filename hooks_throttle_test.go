package kafka_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// throttles records the throttle hook's events.
type throttles struct {
	mu     sync.Mutex
	events []kafka.BrokerThrottleEvent
}

func (h *throttles) OnBrokerThrottle(e kafka.BrokerThrottleEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, e)
}

func (h *throttles) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.events)
}

// setQuota sets (rate > 0) or removes a client id's quota — config is
// producer_byte_rate or consumer_byte_rate — with Kafka's own
// kafka-configs tool.
func setQuota(t *testing.T, clientID, config string, rate int) {
	t.Helper()
	action := []string{"--add-config", fmt.Sprintf("%s=%d", config, rate)}
	if rate == 0 {
		action = []string{"--delete-config", config}
	}
	args := append([]string{"--bootstrap-server", brokers(), "--alter", "--entity-type", "clients", "--entity-name", clientID}, action...)
	// Not testhelp.Ctx: this runs in cleanups too, after the test's
	// contexts ended.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := testinstance.KafkaTool(ctx, testinstance.Config{KafkaVersion: testinstance.Shared().KafkaVersion()}, nil, "kafka-configs", args...)
	if err != nil {
		t.Fatalf("kafka-configs %v: %v\n%s", args, err, out)
	}
}

// checkRdkafkaBrokers checks the brokers that librdkafka's statistics
// describe: some requests, and only to brokers with an id.
func checkRdkafkaBrokers(t *testing.T, brokers []kafka.BrokerStats) {
	t.Helper()
	var requests uint64
	for _, b := range brokers {
		requests += b.Requests
		if b.Requests > 0 && b.ID < 0 {
			t.Errorf("librdkafka broker %+v", b)
		}
	}
	if requests == 0 {
		t.Errorf("librdkafka's brokers: %+v", brokers)
	}
}

// TestHookThrottle: a client id with a produce quota of 10 KB/s (set with
// kafka-configs) producing past it is throttled by the brokers; the throttle
// hook hears of it on both engines — from the pure engine's responses,
// and from librdkafka's statistics for the rdkafka engine, whose producer
// stats then show its own view of the brokers (requests, round trips).
// Every message is still delivered.
func TestHookThrottle(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		testhelp.NoLeaks(t)
		const size, round, most = 1000, 10, 500 // 1 KB messages, 10 KB a round, 500 KB at most
		clientID := testhelp.UniqueName(t, "quota")
		setQuota(t, clientID, "producer_byte_rate", 10000)
		t.Cleanup(func() { setQuota(t, clientID, "producer_byte_rate", 0) })
		h := &throttles{}
		client := newClient(t, kafka.WithClientID(clientID), kafka.WithHooks(h))
		topic := newTopic(t, client, 1) // quotas are per broker: one leader takes it all
		ctx := testhelp.Ctx(t, 2*time.Minute)
		p, err := topic.NewProducer(kafka.ProducerConfig{UseRdkafka: e.rdkafka, BatchBytes: 16 << 10})
		if err != nil {
			t.Fatal(err)
		}
		// Kafka measures a client's rate over a window of about 10 s and
		// applies a new quota within moments: produce rounds of 10 KB
		// until a throttle is heard of (about 100 KB, 10 s, after the
		// quota took effect; librdkafka tells once a second).
		n := 0
		for h.count() == 0 && n < most {
			msgs := make([]*kafka.Message, round)
			for i := range msgs {
				msgs[i] = &kafka.Message{Value: make([]byte, size)}
			}
			if err := p.ProduceSync(ctx, msgs...).Err(); err != nil {
				t.Fatal(err)
			}
			n += round
		}
		if e.rdkafka {
			// librdkafka reports throttles in its statistics, once a
			// second: wait for the report that covers them.
			testhelp.WaitUntil(t, 30*time.Second, "a throttle event from librdkafka's statistics", func() bool { return h.count() > 0 })
			st := client.Stats()
			if len(st.Producers) != 1 || len(st.Producers[0].Brokers) == 0 {
				t.Fatalf("producer stats: %+v", st.Producers)
			}
			checkRdkafkaBrokers(t, st.Producers[0].Brokers)
		}
		if err := p.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if h.count() == 0 {
			t.Fatalf("no throttle event after %d bytes at a 10 KB/s quota", n*size)
		}
		h.mu.Lock()
		for _, ev := range h.events {
			if ev.Throttle <= 0 || ev.Broker < 0 {
				t.Errorf("throttle event %+v", ev)
			}
		}
		t.Logf("%d throttle events after %d KB, first %+v", len(h.events), n*size/1000, h.events[0])
		h.mu.Unlock()
	})
}
