package kafka_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/gokafka/kafka"
)

// deliveries is a hook: it implements kafka.RecordDeliveredHook, so the
// client calls it with the outcome of every produced message.
type deliveries struct{ acked, failed atomic.Int64 }

func (d *deliveries) OnRecordDelivered(m *kafka.Message, err error) {
	if err != nil {
		d.failed.Add(1)
		return
	}
	d.acked.Add(1)
}

// A hook counting deliveries, registered on the client: it sees the
// messages of every producer of the client, whatever the engine.
func ExampleWithHooks() {
	ctx := context.Background()
	d := &deliveries{}
	client, err := kafka.NewClient(ctx, "127.0.0.1:9092", kafka.WithHooks(d))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	topic, err := client.Topic(ctx, "events")
	if err != nil {
		log.Fatal(err)
	}
	producer, err := topic.NewProducer(kafka.ProducerConfig{})
	if err != nil {
		log.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		if err := producer.Produce(ctx, []byte(fmt.Sprint(i))); err != nil {
			log.Fatal(err)
		}
	}
	if err := producer.Close(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.acked.Load(), "acknowledged,", d.failed.Load(), "failed")
}

// Printing a client's stats on SIGUSR1: queues, in-flight requests and
// each broker's latency.
func ExampleClient_Stats() {
	client, err := kafka.NewClient(context.Background(), "127.0.0.1:9092")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	defer signal.Stop(sig)
	for range sig {
		st := client.Stats()
		for _, b := range st.Brokers {
			log.Printf("broker %d: %d in flight, %d requests, p50 %v p99 %v", b.ID, b.InFlight, b.Requests, b.LatencyP50, b.LatencyP99)
		}
		for _, p := range st.Producers {
			log.Printf("producer %q: %d of %d queued, %d bytes", p.Topic, p.Queued, p.QueueMax, p.BufferedBytes)
		}
		for _, c := range st.Consumers {
			log.Printf("consumer %q: %d partitions, lag %d", c.Group, c.Partitions, c.Lag)
		}
	}
}
