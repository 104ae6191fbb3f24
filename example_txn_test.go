package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"log"
	"os"
	"os/signal"

	"github.com/gokafka/kafka"
)

// An exactly-once pipeline: read "orders", write each order upper-cased to
// "orders-upper". Run as many instances as you like, each with its own
// stable TransactionalID; a read_committed reader of "orders-upper" sees
// every order exactly once, whatever instance or broker dies.
func ExampleClient_NewPipeline() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	client, err := kafka.NewClient(ctx, "127.0.0.1:9092")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	host, _ := os.Hostname()
	p, err := client.NewPipeline(ctx, kafka.PipelineConfig{
		Consumer: kafka.BalancedConsumerConfig{Group: "upper-caser", Topics: []string{"orders"}},
		// Unique per instance and the same after a restart: the restarted
		// instance fences its predecessor at once.
		Producer: kafka.ProducerConfig{TransactionalID: "upper-caser-" + host},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.WithoutCancel(ctx))
	err = p.Run(ctx, func(ctx context.Context, in *kafka.Message, out *kafka.Producer) error {
		return out.ProduceMessage(ctx, &kafka.Message{Topic: "orders-upper", Key: in.Key, Value: bytes.ToUpper(in.Value)})
	})
	switch {
	case errors.Is(err, context.Canceled): // interrupted: what was not committed is aborted
	case errors.Is(err, kafka.ErrProducerFenced):
		log.Fatal("another instance took over this TransactionalID")
	default:
		log.Fatal(err)
	}
}

// A transaction by hand: messages to two topics and a consumer's offsets,
// visible together or not at all.
func ExampleProducer_BeginTransaction() {
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, "127.0.0.1:9092")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	producer, err := client.NewProducer(kafka.ProducerConfig{TransactionalID: "billing-1"})
	if err != nil {
		log.Fatal(err)
	}
	defer producer.Close(ctx) // aborts a transaction left open
	consumer, err := client.NewBalancedConsumer(ctx, kafka.BalancedConsumerConfig{
		Group: "billing", Topics: []string{"orders"},
		ConsumerOptions: kafka.ConsumerOptions{Isolation: kafka.ReadCommitted}, // AutoCommit is off by default
	})
	if err != nil {
		log.Fatal(err)
	}
	defer consumer.Close(ctx)
	order, err := consumer.Consume(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if err := producer.BeginTransaction(ctx); err != nil { // the first one fences older producers of "billing-1"
		log.Fatal(err)
	}
	// A message that fails to be delivered fails the commit (ErrAbortRequired).
	err = producer.ProduceMessage(ctx, &kafka.Message{Topic: "invoices", Key: order.Key, Value: order.Value})
	if err == nil {
		err = producer.ProduceMessage(ctx, &kafka.Message{Topic: "audit", Value: []byte("invoiced")})
	}
	if err == nil {
		err = producer.SendConsumerOffsets(ctx, consumer) // the order counts as read only if this commits
	}
	if err == nil {
		err = producer.CommitTransaction(ctx)
	}
	switch {
	case errors.Is(err, kafka.ErrAbortRequired):
		// Something of it failed: nothing of it will be visible. Abort,
		// rewind the consumer to its committed offsets, try again.
		if err := producer.AbortTransaction(ctx); err != nil {
			log.Fatal(err)
		}
	case err != nil: // ErrProducerFenced and other fatal errors: Close
		log.Fatal(err)
	}
}
