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

// The whole flow: a client, a topic, a producer and a consumer.
func Example() {
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, "127.0.0.1:9092")
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
	if err := producer.Produce(ctx, []byte("hello"), kafka.Key([]byte("user-42"))); err != nil {
		log.Fatal(err)
	}
	// Close sends everything still queued.
	if err := producer.Close(ctx); err != nil {
		log.Fatal(err)
	}

	consumer, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{
		ConsumerGroup: "example",
		ConsumerOptions: kafka.ConsumerOptions{
			ConsumerTimeout: 5 * time.Second, // stop iterating when idle
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
		fmt.Printf("%s p%d@%d: %s\n", msg.Key, msg.Partition, msg.Offset, msg.Value)
	}
	if err := consumer.CommitOffsets(ctx); err != nil {
		log.Fatal(err)
	}
}

// Recycling Messages: once OnDelivery has returned with a message's report,
// the Message and its value are yours again, so a busy producer can take
// them from a pool instead of allocating a Message (as Produce does) and a
// value for every message.
func ExampleProducer_ProduceMessage() {
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, "127.0.0.1:9092")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	topic, err := client.Topic(ctx, "events")
	if err != nil {
		log.Fatal(err)
	}
	pool := sync.Pool{New: func() any { return new(kafka.Message) }}
	producer, err := topic.NewProducer(kafka.ProducerConfig{
		OnDelivery: func(r kafka.DeliveryReport) {
			if r.Err != nil {
				log.Printf("not delivered: %v", r.Err)
			}
			*r.Message = kafka.Message{Value: r.Message.Value[:0]} // keep the buffer
			pool.Put(r.Message)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	for i := range 1_000_000 {
		m := pool.Get().(*kafka.Message)
		m.Value = fmt.Appendf(m.Value, "event %d", i)
		if err := producer.ProduceMessage(ctx, m); err != nil {
			log.Fatal(err)
		}
	}
	if err := producer.Close(ctx); err != nil {
		log.Fatal(err)
	}
}

// In sync mode Produce returns once the brokers acknowledged the message.
func ExampleProducerConfig_sync() {
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, "127.0.0.1:9092")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	topic, err := client.Topic(ctx, "payments")
	if err != nil {
		log.Fatal(err)
	}
	producer, err := topic.NewProducer(kafka.ProducerConfig{Sync: true, Partitioner: kafka.HashingPartitioner})
	if err != nil {
		log.Fatal(err)
	}
	defer producer.Close(ctx)
	msg := &kafka.Message{Key: []byte("account-7"), Value: []byte(`{"amount": 12}`)}
	if err := producer.ProduceMessage(ctx, msg); err != nil {
		log.Fatal(err)
	}
	fmt.Println("stored at partition", msg.Partition, "offset", msg.Offset)
}

// Delivery reports tell an asynchronous producer what became of each message.
func ExampleProducer_DeliveryReports() {
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, "127.0.0.1:9092")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	topic, err := client.Topic(ctx, "clicks")
	if err != nil {
		log.Fatal(err)
	}
	producer, err := topic.NewProducer(kafka.ProducerConfig{DeliveryReports: true})
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for r := range producer.DeliveryReports() { // closed by Close
			if r.Err != nil {
				log.Printf("message %v lost: %v", r.Message.Opaque, r.Err)
			}
		}
	}()
	for i := 0; i < 1000; i++ {
		if err := producer.Produce(ctx, []byte("click"), kafka.WithOpaque(i)); err != nil {
			log.Fatal(err)
		}
	}
	producer.Close(ctx)
	<-done
}

// Errors are typed: compare with errors.Is.
func ExampleClient_Topic_errors() {
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, "127.0.0.1:9092")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	_, err = client.Topic(ctx, "no-such-topic")
	switch {
	case errors.Is(err, kafka.ErrUnknownTopic):
		fmt.Println("create it first, or use WithAutoCreateTopics")
	case err != nil:
		log.Fatal(err)
	}
}

// ResetOffsets rewinds or fast-forwards a consumer.
func ExampleSimpleConsumer_ResetOffsets() {
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, "127.0.0.1:9092")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	topic, err := client.Topic(ctx, "events")
	if err != nil {
		log.Fatal(err)
	}
	consumer, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerGroup: "replay"})
	if err != nil {
		log.Fatal(err)
	}
	defer consumer.Close(ctx)
	// Partition 0 from its beginning, partition 1 from offset 1000.
	if err := consumer.ResetOffsets(ctx, map[kafka.TopicPartition]int64{
		{Topic: "events", Partition: 0}: kafka.OffsetEarliest,
		{Topic: "events", Partition: 1}: 1000,
	}); err != nil {
		log.Fatal(err)
	}
	// Or everything from an hour ago.
	if err := consumer.ResetOffsetsToTime(ctx, time.Now().Add(-time.Hour)); err != nil {
		log.Fatal(err)
	}
}

// The hashing partitioner is Java's and librdkafka's murmur2: this runs
// without a broker.
func ExampleHashingPartitioner() {
	p := kafka.HashingPartitioner(&kafka.Message{Key: []byte("bravo")}, 12)
	q := kafka.HashingPartitioner(&kafka.Message{Key: []byte("bravo")}, 12)
	fmt.Println(p == q)
	// Output: true
}

// The default partitioner's turns: keyless messages of a topic go to one
// partition until they fill the turn's batch, then to another. This runs
// without a broker.
func ExampleNewUniformStickyPartitioner() {
	// Turns that fill a 16 KiB batch (the producer's BatchBytes would be
	// 16 << 10 too), at most a second each.
	p := kafka.NewUniformStickyPartitioner(16<<10, time.Second)
	m := &kafka.Message{Topic: "events", Value: make([]byte, 100)}
	first := p(m, 12)
	n := 1
	for p(m, 12) == first {
		n++
	}
	fmt.Println("messages of 100 bytes in a turn:", n)
	// Output: messages of 100 bytes in a turn: 145
}

// Consumers that share a group split the topic's partitions, coordinated
// through ZooKeeper as PyKafka's balanced consumer is. Run the same
// program twice and each copy reads half of the partitions; stop one and
// the other takes them all over within the session timeout.
func ExampleTopic_NewBalancedConsumer() {
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, "127.0.0.1:9092")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	topic, err := client.Topic(ctx, "events")
	if err != nil {
		log.Fatal(err)
	}

	consumer, err := topic.NewBalancedConsumer(ctx, kafka.BalancedConsumerConfig{
		Group:     "billing",
		ZooKeeper: "127.0.0.1:2181",
		OnAssign: func(ctx context.Context, partitions []kafka.TopicPartition, start map[kafka.TopicPartition]int64) (map[kafka.TopicPartition]int64, error) {
			log.Printf("now reading partitions %v from %v", partitions, start)
			return nil, nil // keep the committed offsets
		},
		ConsumerOptions: kafka.ConsumerOptions{
			AutoCommit: true, // commits last consumed + 1, and before a partition is handed over
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer consumer.Close(ctx) // commits, then leaves the group
	for msg, err := range consumer.Messages(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("p%d@%d: %s\n", msg.Partition, msg.Offset, msg.Value)
	}
}

// A group that Kafka's coordinator runs needs no ZooKeeper, and Java or
// librdkafka consumers (kcat -G) can be members of it. Cooperative-sticky
// moves only the partitions that must move; an InstanceID makes the member
// static, so a quick restart does not rebalance at all.
func ExampleTopic_NewBalancedConsumer_managed() {
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, "127.0.0.1:9092")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	topic, err := client.Topic(ctx, "events")
	if err != nil {
		log.Fatal(err)
	}

	consumer, err := topic.NewBalancedConsumer(ctx, kafka.BalancedConsumerConfig{
		Group:          "billing",
		Protocol:       kafka.GroupProtocolClassic, // or Managed: true, PyKafka's spelling
		Strategy:       kafka.CooperativeStickyStrategy,
		InstanceID:     "billing-1",
		SessionTimeout: 10 * time.Second,
		OnRevoke: func(ctx context.Context, partitions []kafka.TopicPartition) error {
			log.Printf("handing over partitions %v", partitions)
			return nil
		},
		ConsumerOptions: kafka.ConsumerOptions{
			UseRdkafka: false, // true: librdkafka fetches, gokafka still runs the group
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer consumer.Close(ctx)
	for {
		msg, err := consumer.Consume(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("p%d@%d: %s\n", msg.Partition, msg.Offset, msg.Value)
		if err := consumer.CommitOffsets(ctx); err != nil { // by hand: after each message
			log.Fatal(err)
		}
	}
}
