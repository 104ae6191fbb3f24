package kafka_test

import (
	"context"
	"log"
	"strings"
	"time"

	"github.com/gokafka/kafka"
)

// A share group as a work queue: any number of members read the same
// topic, each record goes to one of them; a record that cannot be processed
// now is released (delivered again, to any member), one that never can is
// rejected. (It needs a broker with share groups: Kafka 4.1 or newer.)
func ExampleClient_NewShareConsumer() {
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, "127.0.0.1:9092")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	queue, err := client.NewShareConsumer(ctx, kafka.ShareConsumerConfig{
		Group:           "workers",
		Topics:          []string{"jobs"},
		AutoOffsetReset: kafka.ShareResetEarliest, // the group's setting; Kafka's default is latest
		ConsumerTimeout: 10 * time.Second,
		OnAcknowledged: func(r kafka.ShareAckResult) {
			if r.Err != nil {
				log.Printf("%s %d-%d: %v not taken: %v", r.Topic, r.FirstOffset, r.LastOffset, r.Type, r.Err)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer queue.Close(ctx)
	for msg, err := range queue.Messages(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		switch {
		case strings.HasPrefix(string(msg.Value), "poison"):
			queue.Acknowledge(msg, kafka.RejectType)
		case msg.DeliveryCount > 1:
			log.Printf("%s/%d@%d: delivery %d", msg.Topic, msg.Partition, msg.Offset, msg.DeliveryCount)
			// Not acknowledged: accepted at the next fetch.
		}
	}
}
