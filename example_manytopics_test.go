package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/gokafka/kafka"
)

// One producer for every topic: the message names its topic; all topics
// share the producer's batches, connections and idempotent producer id.
func ExampleClient_NewProducer() {
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, "127.0.0.1:9092")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	producer, err := client.NewProducer(kafka.ProducerConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer producer.Close(ctx)
	if err := producer.Produce(ctx, []byte(`{"id": 1}`), kafka.ToTopic("orders"), kafka.Key([]byte("customer-7"))); err != nil {
		log.Fatal(err)
	}
	// A message that names its partition goes there.
	if err := producer.ProduceMessage(ctx, &kafka.Message{Topic: "audit", Partition: 0, PartitionSet: true, Value: []byte("created order 1")}); err != nil {
		log.Fatal(err)
	}
}

// ProduceSync waits for a batch of messages, of any topics, and says what
// became of each.
func ExampleProducer_ProduceSync() {
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, "127.0.0.1:9092")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	producer, err := client.NewProducer(kafka.ProducerConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer producer.Close(ctx)
	results := producer.ProduceSync(ctx,
		&kafka.Message{Topic: "orders", Value: []byte("order 2")},
		&kafka.Message{Topic: "invoices", Value: []byte("invoice 2")},
	)
	for _, r := range results {
		if r.Err != nil {
			log.Printf("%s: %v", r.Message.Topic, r.Err)
			continue
		}
		fmt.Println(r.Message.Topic, r.Message.Partition, r.Message.Offset)
	}
}

// ProduceAsync calls back once per message, when the broker acknowledged it
// or it failed for good.
func ExampleProducer_ProduceAsync() {
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, "127.0.0.1:9092")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	producer, err := client.NewProducer(kafka.ProducerConfig{})
	if err != nil {
		log.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		m := &kafka.Message{Topic: "events", Value: fmt.Appendf(nil, "event %d", i)}
		if err := producer.ProduceAsync(ctx, m, func(r kafka.DeliveryReport) {
			defer wg.Done()
			if r.Err != nil {
				log.Printf("%s lost: %v", r.Message.Value, r.Err)
			}
		}); err != nil {
			wg.Done()
			log.Print(err)
		}
	}
	wg.Wait()
	producer.Close(ctx)
}

// A simple consumer of chosen partitions of several topics.
func ExampleClient_NewSimpleConsumer() {
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, "127.0.0.1:9092")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	consumer, err := client.NewSimpleConsumer(ctx, kafka.ConsumerConfig{
		ConsumerGroup: "reports",
		Topics:        map[string][]int32{"orders": nil, "invoices": {0, 1}}, // nil: every partition
		ConsumerOptions: kafka.ConsumerOptions{
			ConsumerTimeout: 5 * time.Second,
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer consumer.Close(ctx)
	for msg, err := range consumer.Messages(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(msg.Topic, msg.Partition, msg.Offset)
	}
	// The loop ended quietly; Err says why.
	if errors.Is(consumer.Err(), kafka.ErrConsumerTimeout) {
		fmt.Println("caught up; lag:", consumer.Lag())
	}
}

// A group member over a list of topics and a pattern: topics created later
// that match are picked up within the metadata refresh interval.
func ExampleClient_NewBalancedConsumer() {
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, "127.0.0.1:9092", kafka.WithMetadataMaxAge(30*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	consumer, err := client.NewBalancedConsumer(ctx, kafka.BalancedConsumerConfig{
		Group:   "billing",
		Topics:  []string{"orders", "refunds"},
		Pattern: `audit\..*`,
		OnAssign: func(ctx context.Context, partitions []kafka.TopicPartition, start map[kafka.TopicPartition]int64) (map[kafka.TopicPartition]int64, error) {
			log.Printf("assigned %v", partitions)
			return nil, nil // start where the group left off
		},
		OnLost: func(ctx context.Context, partitions []kafka.TopicPartition) error {
			log.Printf("lost %v without a commit: their new owner re-reads from the last commit", partitions)
			return nil
		},
		ConsumerOptions: kafka.ConsumerOptions{AutoCommit: true},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer consumer.Close(ctx)
	for msg, err := range consumer.Messages(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(msg.Topic, msg.Partition, msg.Offset)
	}
}

// Concurrent processing, at-least-once: workers mark what they processed,
// and commits store only positions before which everything was marked.
func ExampleBalancedConsumer_Mark() {
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, "127.0.0.1:9092")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	consumer, err := client.NewBalancedConsumer(ctx, kafka.BalancedConsumerConfig{
		Group:           "thumbnails",
		Topics:          []string{"uploads"},
		ConsumerOptions: kafka.ConsumerOptions{AutoCommit: true, CommitMarked: true},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer consumer.Close(ctx)
	work := make(chan *kafka.Message, 64)
	for w := 0; w < 8; w++ {
		go func() {
			for m := range work {
				process(m)
				if err := consumer.Mark(m); err != nil {
					log.Print(err) // ErrRebalanced: its new owner processes it again
				}
			}
		}()
	}
	for msg, err := range consumer.Messages(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		work <- msg
	}
	close(work)
}

func process(*kafka.Message) {}

// Pause a partition while its downstream is unavailable; the member stays
// in its group, and Resume continues where it stopped.
func ExampleBalancedConsumer_Pause() {
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, "127.0.0.1:9092")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	consumer, err := client.NewBalancedConsumer(ctx, kafka.BalancedConsumerConfig{Group: "sync", Topics: []string{"changes"}})
	if err != nil {
		log.Fatal(err)
	}
	defer consumer.Close(ctx)
	for msg, err := range consumer.Messages(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		tp := kafka.TopicPartition{Topic: msg.Topic, Partition: msg.Partition}
		if !deliver(msg) {
			consumer.Pause(ctx, tp)
			consumer.ResetOffsets(ctx, map[kafka.TopicPartition]int64{tp: msg.Offset}) // read it again later
			time.AfterFunc(time.Minute, func() { consumer.Resume(ctx, tp) })
		}
	}
}

func deliver(*kafka.Message) bool { return true }

// The engine can be chosen once for the whole client.
func ExampleWithEngine() {
	ctx := context.Background()
	// With the blank import _ "github.com/gokafka/kafka/rdkafka" somewhere
	// in the program; without it, producers and consumers fail with
	// ErrEngineNotEnabled.
	client, err := kafka.NewClient(ctx, "127.0.0.1:9092", kafka.WithEngine(kafka.EngineRdkafka))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	producer, err := client.NewProducer(kafka.ProducerConfig{}) // librdkafka
	if errors.Is(err, kafka.ErrEngineNotEnabled) {
		log.Fatal("build with cgo and import the rdkafka package")
	}
	defer producer.Close(ctx)
	pure, err := client.NewProducer(kafka.ProducerConfig{Engine: kafka.EnginePure}) // this one in Go
	if err != nil {
		log.Fatal(err)
	}
	defer pure.Close(ctx)
}

// TopicPartition orders by topic, then partition, and prints as
// "topic/partition".
func ExampleTopicPartition() {
	tp := kafka.TopicPartition{Topic: "orders", Partition: 3}
	fmt.Println(tp, tp.Compare(kafka.TopicPartition{Topic: "orders", Partition: 10}))
	// Output: orders/3 -1
}
